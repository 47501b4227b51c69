#include "tocsin/incident/page_json.h"

#include <array>
#include <optional>

#include <fmt/format.h>

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

template <typename T, std::size_t N>
T ByPosition(const std::array<T, N>& table, const json& j, const char* field) {
  auto i = j.get<long long>();
  if (i < 0 || static_cast<std::size_t>(i) >= N) {
    throw BadRow{fmt::format("`{}` {} is not one of the {} values version 1 knew", field, i, N)};
  }
  return table[static_cast<std::size_t>(i)];
}

template <typename T, typename NameFn, typename... E>
T ByName(const json& j, const char* field, NameFn name, E... values) {
  auto s = j.get<std::string>();
  for (T v : {values...}) {
    if (name(v) == s) return v;
  }
  throw BadRow{fmt::format("`{}` \"{}\" is not a known value", field, s)};
}

PageAction ActionByName(const json& j) {
  return ByName<PageAction>(j, "action", PageActionName, PageAction::kTrigger,
                            PageAction::kAcknowledge, PageAction::kResolve, PageAction::kUpdate,
                            PageAction::kNote, PageAction::kReminder, PageAction::kStatusUpdate);
}

AlertState StateByName(const json& j) {
  return ByName<AlertState>(j, "state", AlertStateName, AlertState::kInactive, AlertState::kPending,
                            AlertState::kFiring, AlertState::kResolved);
}

AlertKind KindByName(const json& j) {
  return ByName<AlertKind>(j, "kind", AlertKindName, AlertKind::kUnspecified, AlertKind::kSymptom,
                           AlertKind::kCause);
}

Severity SeverityByName(const json& j) {
  auto s = ParseSeverity(j.get<std::string>());
  if (!s) throw BadRow{fmt::format("`severity` {} is not a known value", DumpJson(j))};
  return *s;
}

Sev SevFrom(const json& j) {
  // "SEV-2" since version 2; the SEV number itself before (its value, not a position).
  int n = 0;
  if (j.is_number_integer()) {
    n = j.get<int>();
  } else {
    auto s = j.get<std::string>();
    if (s.size() == 5 && s.starts_with("SEV-")) n = s[4] - '0';
  }
  if (n < 1 || n > 4) throw BadRow{fmt::format("`sev` {} is not SEV-1 to SEV-4", DumpJson(j))};
  return static_cast<Sev>(n);
}

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> OptionalFrom(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<double>();
}

std::string StrOr(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}

// Unix ms (versions 1 and 2) or RFC 3339, empty meaning unset (the incident store's first form).
TimePoint PageTimeFrom(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_number()) return FromUnixMillis(it->get<std::int64_t>());
  auto s = it->get<std::string>();
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

Alert AlertFromJson(const json& j, int version) {
  Alert a;
  std::vector<Label> labels;
  for (const auto& [k, v] : j.at("labels").items()) labels.push_back({k, v.get<std::string>()});
  a.labels = Labels(std::move(labels));
  if (auto it = j.find("annotations"); it != j.end()) {
    a.annotations = it->get<std::map<std::string, std::string>>();
  }
  if (version == 1) {
    a.state = ByPosition(kV1AlertStates, j.at("state"), "state");
    a.kind = ByPosition(kV1AlertKinds, j.at("kind"), "kind");
    a.severity = ByPosition(kV1Severities, j.at("severity"), "severity");
  } else {
    if (j.contains("state")) a.state = StateByName(j.at("state"));
    if (j.contains("kind")) a.kind = KindByName(j.at("kind"));
    // The incident store's first form had no severity when it came from the label alone.
    if (j.contains("severity")) a.severity = SeverityByName(j.at("severity"));
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
  for (const auto& l : j.value("links", json::array())) {
    a.links.push_back({l.at("href").get<std::string>(), l.at("text").get<std::string>()});
  }
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

oncall::Person PersonFromJson(const json& j) {
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

Result<PageRequest> PageRequestFromJson(const json& j) {
  try {
    if (!j.is_object()) return Fail(Error::Invalid("stored page request is not a JSON object"));
    const int version = j.value("v", 0);
    if (version < 0 || version > kPageJsonVersion) {
      return Fail(Error::Invalid(fmt::format(
          "stored page request has version {}, newer than this tocsin reads ({}): run the "
          "newer tocsin",
          version, kPageJsonVersion)));
    }
    PageRequest r;
    r.incident_id = j.at("incident_id").get<std::string>();
    r.dedup_key = StrOr(j, "dedup_key");
    r.idempotency_key = j.at("idempotency_key").get<std::string>();
    r.action = version == 1 ? ByPosition(kV1Actions, j.at("action"), "action")
                            : ActionByName(j.at("action"));
    r.step = j.value("step", 0);
    r.sev = j.contains("sev") ? SevFrom(j.at("sev")) : Sev::kSev3;
    r.title = StrOr(j, "title");
    r.state = StrOr(j, "state");
    for (const auto& t : j.value("targets", json::array())) {
      PageTarget target;
      target.person = PersonFromJson(t.at("person"));
      target.role = StrOr(t, "role");
      for (const auto& c : t.value("channels", json::array())) {
        target.channels.push_back(version == 1
                                      ? Channel::Named(ByPosition(kV1Channels, c, "channels"))
                                      : Channel::Named(c.get<std::string>()));
      }
      if (t.contains("paged_via"))
        target.paged_via = Channel::Named(t.at("paged_via").get<std::string>());
      target.unroutable = t.value("unroutable", false);
      r.targets.push_back(std::move(target));
    }
    for (const auto& a : j.value("alerts", json::array())) {
      r.alerts.push_back(AlertFromJson(a, version));
    }
    for (const auto& a : j.value("causes", json::array())) {
      r.causes.push_back(AlertFromJson(a, version));
    }
    r.text = StrOr(j, "text");
    r.details = StrOr(j, "details");
    r.actor = StrOr(j, "actor");
    r.origin = StrOr(j, "origin");
    r.opened_at = PageTimeFrom(j, "opened_at");
    r.at = PageTimeFrom(j, "at");
    r.drill = j.value("drill", false);
    return r;
  } catch (const BadRow& e) {
    return Fail(Error::Invalid("stored page request is not readable: " + e.what));
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("stored page request is not readable: ") + e.what()));
  }
}

std::string PageRequestToText(const PageRequest& request) {
  return DumpJson(PageRequestToJson(request));
}

Result<PageRequest> PageRequestFromText(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return Fail(Error::Invalid("stored page request is not readable: not JSON"));
  }
  return PageRequestFromJson(j);
}

}  // namespace tocsin::incident
