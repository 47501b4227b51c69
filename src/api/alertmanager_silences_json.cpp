// The silences half of the Alertmanager API v2 JSON: PostableSilence in, GettableSilence out
// (also used by the CLI), and how GET /api/v2/silences filters.
#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "alertmanager_json.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::dispatch {

namespace amjson {

nlohmann::json MatchersJson(const Matchers& ms) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& m : ms) {
    arr.push_back({{"name", m.name()},
                   {"value", m.value()},
                   {"isRegex", m.is_regex()},
                   {"isEqual", m.is_equal()}});
  }
  return arr;
}

}  // namespace amjson

namespace {

using json = nlohmann::json;

json SilenceJson(const Silence& s, TimePoint now) {
  return {{"id", s.id},
          {"matchers", amjson::MatchersJson(s.matchers)},
          {"startsAt", FormatRfc3339(s.starts_at)},
          {"endsAt", FormatRfc3339(s.ends_at)},
          {"updatedAt", FormatRfc3339(s.updated_at)},
          {"createdBy", s.created_by},
          {"comment", s.comment},
          {"status", {{"state", std::string(SilenceStateName(s.StateAt(now)))}}}};
}

Result<Silence> SilenceFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("a silence must be a JSON object"));
  Silence s;
  try {
    // A wrong type is refused: an update whose id is not read would create a second silence.
    if (j.contains("id") && !j["id"].is_null()) {
      if (!j["id"].is_string()) {
        return Fail(Error::Invalid("id: the id of the silence to update, as a string"));
      }
      s.id = j["id"].get<std::string>();
    }
    if (!j.contains("matchers") || !j["matchers"].is_array()) {
      return Fail(
          Error::Invalid("matchers: a list of {name, value, isRegex, isEqual} is required"));
    }
    std::size_t i = 0;
    for (const auto& m : j["matchers"]) {
      if (!m.is_object() || !m.contains("name") || !m.contains("value")) {
        return Fail(Error::Invalid(fmt::format("matchers[{}]: name and value are required", i)));
      }
      if (!m["name"].is_string() || !m["value"].is_string()) {
        return Fail(Error::Invalid(fmt::format("matchers[{}]: name and value must be strings", i)));
      }
      for (const char* flag : {"isRegex", "isEqual"}) {
        if (m.contains(flag) && !m[flag].is_boolean()) {
          return Fail(
              Error::Invalid(fmt::format("matchers[{}]: {} must be true or false", i, flag)));
        }
      }
      bool is_regex = m.value("isRegex", false);
      bool is_equal = m.value("isEqual", true);
      Matcher::Op op = is_regex ? (is_equal ? Matcher::Op::kRegex : Matcher::Op::kNotRegex)
                                : (is_equal ? Matcher::Op::kEqual : Matcher::Op::kNotEqual);
      auto matcher =
          Matcher::Create(m["name"].get<std::string>(), op, m["value"].get<std::string>());
      if (!matcher) {
        return Fail(Error::Invalid(fmt::format("matchers[{}]: {}", i, matcher.error().message())));
      }
      s.matchers.push_back(std::move(*matcher));
      ++i;
    }
    for (const char* key : {"startsAt", "endsAt"}) {
      if (!j.contains(key) || !j[key].is_string()) {
        return Fail(Error::Invalid(fmt::format("{} is required (RFC 3339 time)", key)));
      }
      auto t = ParseTime(j[key].get<std::string>());
      if (!t) return Fail(Error::Invalid(fmt::format("{}: {}", key, t.error().message())));
      (std::string_view(key) == "startsAt" ? s.starts_at : s.ends_at) = *t;
    }
    if (j.contains("updatedAt") && j["updatedAt"].is_string()) {
      if (auto t = ParseTime(j["updatedAt"].get<std::string>())) s.updated_at = *t;
    }
    for (const char* key : {"createdBy", "comment"}) {
      if (j.contains(key) && !j[key].is_string() && !j[key].is_null()) {
        return Fail(Error::Invalid(fmt::format("{} must be a string", key)));
      }
    }
    s.created_by = JsonString(j, "createdBy");
    s.comment = JsonString(j, "comment");
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("malformed silence: ") + e.what()));
  }
  return s;
}

}  // namespace

namespace amjson {

// Alertmanager (api/v2 CheckSilenceMatchesFilterLabels) lists a silence under a filter when
// every filter matcher is one of the silence's matchers: same name, same operator, same
// value. The filter finds silences by how they were written, not by what they would mute.
bool SilenceMatchesFilter(const Silence& s, const Matchers& filter) {
  return std::all_of(filter.begin(), filter.end(), [&](const Matcher& f) {
    return std::find(s.matchers.begin(), s.matchers.end(), f) != s.matchers.end();
  });
}

void SortSilences(std::vector<Silence>& silences, TimePoint now) {
  auto rank = [](SilenceState st) {
    return st == SilenceState::kActive ? 0 : st == SilenceState::kPending ? 1 : 2;
  };
  std::stable_sort(silences.begin(), silences.end(), [&](const Silence& a, const Silence& b) {
    SilenceState sa = a.StateAt(now), sb = b.StateAt(now);
    if (sa != sb) return rank(sa) < rank(sb);
    switch (sa) {
      case SilenceState::kActive:
        return a.ends_at < b.ends_at;
      case SilenceState::kPending:
        return a.starts_at < b.starts_at;
      case SilenceState::kExpired:
        return a.ends_at > b.ends_at;
    }
    return false;
  });
}

std::string SilenceAuthor(const std::string& created_by, const std::string& actor) {
  if (actor.empty() || created_by == actor) return created_by;
  if (created_by.empty()) return actor;
  const std::string via = " (via " + actor + ")";
  // An update posts back what GET answered: the note is there already.
  if (created_by.size() >= via.size() &&
      created_by.compare(created_by.size() - via.size(), via.size(), via) == 0) {
    return created_by;
  }
  return created_by + via;
}

std::string SilenceJsonText(const Silence& s, TimePoint now) {
  return DumpJson(SilenceJson(s, now));
}

}  // namespace amjson

Result<Silence> ParseSilenceJson(std::string_view body) {
  try {
    auto doc = ParseJson(body);
    if (!doc) return Fail(Error::Invalid("body is not valid JSON: " + doc.error().message()));
    return SilenceFromJson(*doc);
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("body is not valid JSON: ") + e.what()));
  }
}

std::string SilenceToJson(const Silence& s, TimePoint now) { return DumpJson(SilenceJson(s, now)); }

Result<std::vector<Silence>> ParseSilenceListJson(std::string_view body) {
  std::vector<Silence> out;
  try {
    auto parsed = ParseJson(body);
    if (!parsed) return Fail(Error::Invalid("body is not valid JSON: " + parsed.error().message()));
    json doc = std::move(*parsed);
    if (!doc.is_array()) return Fail(Error::Invalid("expected a JSON array of silences"));
    for (const auto& item : doc) {
      auto s = SilenceFromJson(item);
      if (!s) return Fail(s.error());
      out.push_back(std::move(*s));
    }
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("answer is not valid JSON: ") + e.what()));
  }
  return out;
}

}  // namespace tocsin::dispatch
