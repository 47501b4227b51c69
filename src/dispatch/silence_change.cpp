#include "tocsin/dispatch/silence_change.h"

#include <fmt/format.h>

#include <cstdint>

#include "tocsin/common/json_fields.h"

namespace tocsin::dispatch {

namespace {

using nlohmann::json;

Result<std::string> Text(const json& j, const char* key, bool required) {
  return JsonStringField(j, key, required, "a forwarded silence");
}

Result<TimePoint> Millis(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return Fail(Error::Invalid(
        fmt::format("`{}` of a forwarded silence must be an integer (Unix milliseconds)", key)));
  }
  return FromUnixMillis(it->get<std::int64_t>());
}

}  // namespace

std::string_view SilenceChangeKindName(SilenceChange::Kind kind) {
  return kind == SilenceChange::Kind::kExpire ? "expire" : "upsert";
}

json SilenceChangeToJson(const SilenceChange& c) {
  json j{{"kind", SilenceChangeKindName(c.kind)}};
  if (c.kind == SilenceChange::Kind::kExpire) {
    j["id"] = c.id;
    return j;
  }
  j["new_id"] = c.new_id;
  j["silence"] = {{"id", c.silence.id},
                  {"matchers", MatchersToString(c.silence.matchers)},
                  {"starts_at_ms", ToUnixMillis(c.silence.starts_at)},
                  {"ends_at_ms", ToUnixMillis(c.silence.ends_at)},
                  {"created_by", c.silence.created_by},
                  {"comment", c.silence.comment}};
  return j;
}

Result<SilenceChange> SilenceChangeFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("a forwarded silence must be a JSON object"));
  SilenceChange c;
  auto kind = Text(j, "kind", true);
  if (!kind) return Fail(kind.error());
  if (*kind == "expire") {
    c.kind = SilenceChange::Kind::kExpire;
    auto id = Text(j, "id", true);
    if (!id) return Fail(id.error());
    c.id = *id;
    return c;
  }
  if (*kind != "upsert") {
    return Fail(Error::Invalid(fmt::format("unknown kind \"{}\" of a forwarded silence", *kind)));
  }
  auto new_id = Text(j, "new_id", true);
  if (!new_id) return Fail(new_id.error());
  c.new_id = *new_id;
  auto s = j.find("silence");
  if (s == j.end() || !s->is_object()) {
    return Fail(Error::Invalid("a forwarded silence needs `silence`, an object"));
  }
  auto id = Text(*s, "id", false);
  auto matchers = Text(*s, "matchers", true);
  auto created_by = Text(*s, "created_by", false);
  auto comment = Text(*s, "comment", false);
  for (const auto* r : {&id, &matchers, &created_by, &comment}) {
    if (!*r) return Fail(r->error());
  }
  auto parsed = ParseMatchers(*matchers);
  if (!parsed) {
    return Fail(Error::Invalid("`matchers` of a forwarded silence: " + parsed.error().message()));
  }
  auto starts = Millis(*s, "starts_at_ms");
  auto ends = Millis(*s, "ends_at_ms");
  if (!starts) return Fail(starts.error());
  if (!ends) return Fail(ends.error());
  c.silence.id = *id;
  c.silence.matchers = std::move(*parsed);
  c.silence.starts_at = *starts;
  c.silence.ends_at = *ends;
  c.silence.created_by = *created_by;
  c.silence.comment = *comment;
  return c;
}

}  // namespace tocsin::dispatch
