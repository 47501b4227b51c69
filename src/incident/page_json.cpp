#include "tocsin/incident/page_json.h"

#include <array>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/incident/incident.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;

// Version 1 wrote these enums as their position at the time (commit 361e022). The tables are
// frozen here, so that reordering or extending an enum today cannot change what an old row
// means. Never edit them.
constexpr std::array<PageAction, 6> kV1Actions = {PageAction::kTrigger, PageAction::kAcknowledge,
                                                  PageAction::kResolve, PageAction::kUpdate,
                                                  PageAction::kNote,    PageAction::kReminder};
constexpr std::array<std::string_view, 5> kV1Channels = {"pagerduty", "opsgenie", "slack", "email",
                                                         "webhook"};
constexpr std::array<AlertState, 4> kV1AlertStates = {AlertState::kInactive, AlertState::kPending,
                                                      AlertState::kFiring, AlertState::kResolved};
constexpr std::array<AlertKind, 3> kV1AlertKinds = {AlertKind::kUnspecified, AlertKind::kSymptom,
                                                    AlertKind::kCause};
constexpr std::array<Severity, 4> kV1Severities = {Severity::kCritical, Severity::kError,
                                                   Severity::kWarning, Severity::kInfo};

struct BadRow {
  std::string what;
};

// The reader is simdjson's: a restart after a storm reads every pending page (20,000 rows of
// about 1 KB when 10,000 incidents page PagerDuty and Slack), and with an nlohmann tree per
// row that took 0.3 s of the restart on two cores (benchmarks.md). The writer below stays on
// nlohmann/json, like every other JSON tocsin writes.
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// The member `key` of `o`, or nothing when it is absent. A null is kept: it is refused where
// the member must have a type (a number, a flag, a name, an object).
std::optional<element> Member(const object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e)) return std::nullopt;
  return e;
}

// The same, a null reading as absent: for members that may be empty (a text, an optional
// number, a time, a list).
std::optional<element> Value(const object& o, std::string_view key) {
  auto e = Member(o, key);
  if (e && e->is_null()) return std::nullopt;
  return e;
}

element Required(const object& o, const char* key) {
  auto e = Member(o, key);
  if (!e) throw BadRow{fmt::format("`{}` is missing", key)};
  return *e;
}

std::string Str(element e, std::string_view field) {
  std::string_view s;
  if (e.get_string().get(s)) throw BadRow{fmt::format("`{}` must be a string", field)};
  return std::string(s);
}

std::string StrOr(const object& o, const char* key) {
  auto e = Value(o, key);
  return e ? Str(*e, key) : std::string();
}

// An integer member; a number with a fraction is cut, as the earlier reader did.
std::int64_t Int(element e, std::string_view field) {
  std::int64_t i = 0;
  if (!e.get_int64().get(i)) return i;
  double d = 0;
  if (e.get_double().get(d)) throw BadRow{fmt::format("`{}` must be a number", field)};
  // Past int64 (2^63, or a uint64 above it), the cast would be undefined.
  if (!(d > -9.2e18 && d < 9.2e18)) throw BadRow{fmt::format("`{}` is out of range", field)};
  return static_cast<std::int64_t>(d);
}

int IntOr(const object& o, const char* key, int fallback) {
  auto e = Member(o, key);
  return e ? static_cast<int>(Int(*e, key)) : fallback;
}

bool BoolOr(const object& o, const char* key, bool fallback) {
  auto e = Member(o, key);
  if (!e) return fallback;
  bool b = false;
  if (e->get_bool().get(b)) throw BadRow{fmt::format("`{}` must be true or false", key)};
  return b;
}

object Obj(element e, std::string_view field) {
  object o;
  if (e.get_object().get(o)) throw BadRow{fmt::format("`{}` must be an object", field)};
  return o;
}

// Calls `each` with every element of the list member `key`; never when it is absent or null
// (a default simdjson array must not be walked: it has no document).
template <typename Each>
void ForEach(const object& o, const char* key, Each&& each) {
  auto e = Value(o, key);
  if (!e) return;
  array a;
  if (e->get_array().get(a)) throw BadRow{fmt::format("`{}` must be a list", key)};
  for (element x : a) each(x);
}

template <typename T, std::size_t N>
T ByPosition(const std::array<T, N>& table, element e, const char* field) {
  auto i = Int(e, field);
  if (i < 0 || static_cast<std::size_t>(i) >= N) {
    throw BadRow{fmt::format("`{}` {} is not one of the {} values version 1 knew", field, i, N)};
  }
  return table[static_cast<std::size_t>(i)];
}

template <typename T, typename NameFn, typename... E>
T ByName(element e, const char* field, NameFn name, E... values) {
  auto s = Str(e, field);
  for (T v : {values...}) {
    if (name(v) == s) return v;
  }
  throw BadRow{fmt::format("`{}` \"{}\" is not a known value", field, s)};
}

PageAction ActionByName(element e) {
  return ByName<PageAction>(e, "action", PageActionName, PageAction::kTrigger,
                            PageAction::kAcknowledge, PageAction::kResolve, PageAction::kUpdate,
                            PageAction::kNote, PageAction::kReminder, PageAction::kStatusUpdate);
}

AlertState StateByName(element e) {
  return ByName<AlertState>(e, "state", AlertStateName, AlertState::kInactive, AlertState::kPending,
                            AlertState::kFiring, AlertState::kResolved);
}

AlertKind KindByName(element e) {
  return ByName<AlertKind>(e, "kind", AlertKindName, AlertKind::kUnspecified, AlertKind::kSymptom,
                           AlertKind::kCause);
}

Severity SeverityByName(element e) {
  auto name = Str(e, "severity");
  auto s = ParseSeverity(name);
  if (!s) throw BadRow{fmt::format("`severity` \"{}\" is not a known value", name)};
  return *s;
}

Sev SevFrom(element e) {
  // "SEV-2" since version 2; the SEV number itself before (its value, not a position).
  std::int64_t n = 0;
  std::string_view s;
  if (!e.get_string().get(s)) {
    if (s.size() == 5 && s.starts_with("SEV-")) n = s[4] - '0';
  } else if (e.is_number()) {
    n = Int(e, "sev");
  }
  if (n < 1 || n > 4)
    throw BadRow{fmt::format("`sev` {} is not SEV-1 to SEV-4", simdjson::to_string(e))};
  return static_cast<Sev>(n);
}

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> OptionalFrom(const object& o, const char* key) {
  auto e = Value(o, key);
  if (!e) return std::nullopt;
  double d = 0;
  if (e->get_double().get(d)) throw BadRow{fmt::format("`{}` must be a number", key)};
  return d;
}

// Unix ms (versions 1 and 2) or RFC 3339, empty meaning unset (the incident store's first form).
TimePoint PageTimeFrom(const object& o, const char* key) {
  auto e = Value(o, key);
  if (!e) return {};
  if (e->is_number()) return FromUnixMillis(Int(*e, key));
  auto s = Str(*e, key);
  if (s.empty()) return {};
  auto t = ParseTime(s);
  if (!t) throw BadRow{fmt::format("`{}` \"{}\" is not a time", key, s)};
  return *t;
}

json AlertToPageJson(const Alert& a) {
  json links = json::array();
  for (const auto& l : a.links) links.push_back({{"href", l.href}, {"text", l.text}});
  return {{"labels", LabelsToJson(a.labels)},
          {"annotations", a.annotations},
          {"state", AlertStateName(a.state)},
          {"kind", AlertKindName(a.kind)},
          {"severity", SeverityName(a.severity)},
          {"starts_at", ToUnixMillis(a.starts_at)},
          {"ends_at", ToUnixMillis(a.ends_at)},
          {"updated_at", ToUnixMillis(a.updated_at)},
          {"generator_url", a.generator_url},
          {"rule", a.rule},
          {"value", Optional(a.value)},
          {"threshold", Optional(a.threshold)},
          {"burn_rate", Optional(a.burn_rate)},
          {"budget_consumed", Optional(a.budget_consumed)},
          {"links", links}};
}

// One member of `list` ("alerts" or "causes").
Alert AlertFromJson(element e, int version, const char* list) {
  const object j = Obj(e, list);
  Alert a;
  std::vector<Label> labels;
  for (auto [k, v] : Obj(Required(j, "labels"), "labels")) {
    labels.push_back({std::string(k), Str(v, "labels")});
  }
  a.labels = Labels(std::move(labels));
  if (auto ann = Member(j, "annotations")) {
    for (auto [k, v] : Obj(*ann, "annotations"))
      a.annotations[std::string(k)] = Str(v, "annotations");
  }
  if (version == 1) {
    a.state = ByPosition(kV1AlertStates, Required(j, "state"), "state");
    a.kind = ByPosition(kV1AlertKinds, Required(j, "kind"), "kind");
    a.severity = ByPosition(kV1Severities, Required(j, "severity"), "severity");
  } else {
    if (auto v = Member(j, "state")) a.state = StateByName(*v);
    if (auto v = Member(j, "kind")) a.kind = KindByName(*v);
    // The incident store's first form had no severity when it came from the label alone.
    if (auto v = Member(j, "severity")) a.severity = SeverityByName(*v);
  }
  a.starts_at = PageTimeFrom(j, "starts_at");
  a.ends_at = PageTimeFrom(j, "ends_at");
  a.updated_at = PageTimeFrom(j, "updated_at");
  a.generator_url = StrOr(j, "generator_url");
  a.rule = StrOr(j, "rule");
  a.value = OptionalFrom(j, "value");
  a.threshold = OptionalFrom(j, "threshold");
  a.burn_rate = OptionalFrom(j, "burn_rate");
  a.budget_consumed = OptionalFrom(j, "budget_consumed");
  ForEach(j, "links", [&](element l) {
    const object link = Obj(l, "links");
    a.links.push_back({Str(Required(link, "href"), "href"), Str(Required(link, "text"), "text")});
  });
  return a;
}

json PersonToJson(const oncall::Person& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"time_zone", p.time_zone},
          {"slack_user_id", p.slack_user_id},
          {"pagerduty_user_id", p.pagerduty_user_id},
          {"opsgenie_username", p.opsgenie_username},
          {"jsm_username", p.jsm_username},
          {"email", p.email},
          {"phone", p.phone}};
}

oncall::Person PersonFromJson(element e) {
  const object j = Obj(e, "person");
  return {StrOr(j, "id"),
          StrOr(j, "name"),
          StrOr(j, "time_zone"),
          StrOr(j, "slack_user_id"),
          StrOr(j, "pagerduty_user_id"),
          StrOr(j, "opsgenie_username"),
          StrOr(j, "jsm_username"),
          StrOr(j, "email"),
          StrOr(j, "phone")};
}

}  // namespace

json PageRequestToJson(const PageRequest& r) {
  json targets = json::array();
  for (const auto& t : r.targets) {
    json channels = json::array();
    for (auto c : t.channels) channels.push_back(c.name());
    json target = {{"person", PersonToJson(t.person)}, {"role", t.role}, {"channels", channels}};
    if (t.paged_via) target["paged_via"] = t.paged_via->name();
    if (t.unroutable) target["unroutable"] = true;
    targets.push_back(std::move(target));
  }
  json alerts = json::array();
  for (const auto& a : r.alerts) alerts.push_back(AlertToPageJson(a));
  json causes = json::array();
  for (const auto& a : r.causes) causes.push_back(AlertToPageJson(a));
  return {{"v", kPageJsonVersion},
          {"incident_id", r.incident_id},
          {"dedup_key", r.dedup_key},
          {"idempotency_key", r.idempotency_key},
          {"action", PageActionName(r.action)},
          {"step", r.step},
          {"sev", SevName(r.sev)},
          {"title", r.title},
          {"state", r.state},
          {"targets", targets},
          {"alerts", alerts},
          {"causes", causes},
          {"text", r.text},
          {"details", r.details},
          {"actor", r.actor},
          // Kept so that a page re-sent after a restart still is not mirrored back to the
          // provider the action came from.
          {"origin", r.origin},
          {"opened_at", ToUnixMillis(r.opened_at)},
          {"at", ToUnixMillis(r.at)},
          {"drill", r.drill}};
}

namespace {

PageRequest PageFrom(const object& j) {
  const int version = IntOr(j, "v", 0);
  if (version < 0 || version > kPageJsonVersion) {
    throw BadRow{
        fmt::format("it has version {}, newer than this tocsin reads ({}): run the newer "
                    "tocsin",
                    version, kPageJsonVersion)};
  }
  PageRequest r;
  r.incident_id = Str(Required(j, "incident_id"), "incident_id");
  r.dedup_key = StrOr(j, "dedup_key");
  r.idempotency_key = Str(Required(j, "idempotency_key"), "idempotency_key");
  r.action = version == 1 ? ByPosition(kV1Actions, Required(j, "action"), "action")
                          : ActionByName(Required(j, "action"));
  r.step = IntOr(j, "step", 0);
  auto sev = Member(j, "sev");
  r.sev = sev ? SevFrom(*sev) : Sev::kSev3;
  r.title = StrOr(j, "title");
  r.state = StrOr(j, "state");
  ForEach(j, "targets", [&](element te) {
    const object t = Obj(te, "targets");
    PageTarget target;
    target.person = PersonFromJson(Required(t, "person"));
    target.role = StrOr(t, "role");
    ForEach(t, "channels", [&](element c) {
      target.channels.push_back(version == 1
                                    ? Channel::Named(ByPosition(kV1Channels, c, "channels"))
                                    : Channel::Named(Str(c, "channels")));
    });
    if (auto via = Member(t, "paged_via"))
      target.paged_via = Channel::Named(Str(*via, "paged_via"));
    target.unroutable = BoolOr(t, "unroutable", false);
    r.targets.push_back(std::move(target));
  });
  ForEach(j, "alerts", [&](element a) { r.alerts.push_back(AlertFromJson(a, version, "alerts")); });
  ForEach(j, "causes", [&](element a) { r.causes.push_back(AlertFromJson(a, version, "causes")); });
  r.text = StrOr(j, "text");
  r.details = StrOr(j, "details");
  r.actor = StrOr(j, "actor");
  r.origin = StrOr(j, "origin");
  r.opened_at = PageTimeFrom(j, "opened_at");
  r.at = PageTimeFrom(j, "at");
  r.drill = BoolOr(j, "drill", false);
  return r;
}

}  // namespace

std::string PageRequestToText(const PageRequest& request) {
  return DumpJson(PageRequestToJson(request));
}

Result<PageRequest> PageRequestFromText(const std::string& text) {
  static thread_local simdjson::dom::parser parser;
  element doc;
  if (parser.parse(text).get(doc)) {
    return Fail(Error::Invalid("stored page request is not readable: not JSON"));
  }
  object j;
  if (doc.get_object().get(j)) {
    return Fail(Error::Invalid("stored page request is not a JSON object"));
  }
  try {
    return PageFrom(j);
  } catch (const BadRow& e) {
    return Fail(Error::Invalid("stored page request is not readable: " + e.what));
  }
}

}  // namespace tocsin::incident
