#include "tocsin/incident/incident_json.h"

#include <map>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;

std::string Time(TimePoint t) { return t == TimePoint{} ? std::string() : FormatRfc3339(t); }

TimePoint TimeFrom(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return {};
  auto s = j[key].get<std::string>();
  if (s.empty()) return {};
  auto t = ParseTime(s);
  return t ? *t : TimePoint{};
}

std::optional<AlertState> ParseAlertState(const std::string& s) {
  for (auto st :
       {AlertState::kInactive, AlertState::kPending, AlertState::kFiring, AlertState::kResolved}) {
    if (AlertStateName(st) == s) return st;
  }
  return std::nullopt;
}

}  // namespace

json AlertToJson(const Alert& a) {
  json j;
  j["labels"] = LabelsToJson(a.labels);
  j["annotations"] = a.annotations;
  j["state"] = std::string(AlertStateName(a.state));
  j["severity"] = std::string(SeverityName(a.severity));
  j["starts_at"] = Time(a.starts_at);
  j["ends_at"] = Time(a.ends_at);
  j["updated_at"] = Time(a.updated_at);
  j["generator_url"] = a.generator_url;
  j["rule"] = a.rule;
  j["fingerprint"] = a.fingerprint().ToString();
  if (a.value) j["value"] = *a.value;
  if (a.threshold) j["threshold"] = *a.threshold;
  json links = json::array();
  for (const auto& l : a.links) links.push_back({{"href", l.href}, {"text", l.text}});
  j["links"] = links;
  return j;
}

Result<Alert> AlertFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("an alert must be a JSON object"));
  Alert a;
  if (!j.contains("labels") || !j["labels"].is_object()) {
    return Fail(Error::Invalid("an alert needs `labels`, an object of strings"));
  }
  a.labels = LabelsFromJson(j["labels"]);
  if (!a.labels.Has("alertname")) return Fail(Error::Invalid("an alert needs label alertname"));
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (auto it = j["annotations"].begin(); it != j["annotations"].end(); ++it) {
      if (it.value().is_string()) a.annotations[it.key()] = it.value().get<std::string>();
    }
  }
  if (auto s = JsonString(j, "state"); !s.empty()) {
    auto st = ParseAlertState(s);
    if (!st) return Fail(Error::Invalid(fmt::format("unknown alert state \"{}\"", s)));
    a.state = *st;
  }
  std::string sev = JsonString(j, "severity");
  if (sev.empty()) sev = std::string(a.labels.GetOr("severity", "warning"));
  auto parsed = ParseSeverity(sev);
  if (!parsed) return Fail(Error::Invalid(fmt::format("unknown severity \"{}\"", sev)));
  a.severity = *parsed;
  a.starts_at = TimeFrom(j, "starts_at");
  a.ends_at = TimeFrom(j, "ends_at");
  a.updated_at = TimeFrom(j, "updated_at");
  a.generator_url = JsonString(j, "generator_url");
  a.rule = JsonString(j, "rule");
  if (j.contains("value") && j["value"].is_number()) a.value = j["value"].get<double>();
  if (j.contains("threshold") && j["threshold"].is_number()) {
    a.threshold = j["threshold"].get<double>();
  }
  if (j.contains("links") && j["links"].is_array()) {
    for (const auto& l : j["links"])
      a.links.push_back({JsonString(l, "href"), JsonString(l, "text")});
  }
  return a;
}

json IncidentToJson(const Incident& i) {
  json j;
  j["id"] = i.id;
  j["number"] = i.number;
  j["key"] = i.key;
  j["title"] = i.title;
  j["receiver"] = i.receiver;
  j["policy"] = i.policy;
  j["domain"] = i.domain;
  j["sev"] = SevName(i.sev);
  j["state"] = std::string(IncidentStateName(i.state));
  j["group_labels"] = LabelsToJson(i.group_labels);
  j["alerts"] = json::array();
  for (const auto& a : i.alerts) j["alerts"].push_back(AlertToJson(a));
  j["causes"] = json::array();
  for (const auto& a : i.causes) j["causes"].push_back(AlertToJson(a));
  j["opened_at"] = Time(i.opened_at);
  j["acknowledged_at"] = Time(i.acknowledged_at);
  j["resolved_at"] = Time(i.resolved_at);
  j["acknowledged_by"] = i.acknowledged_by;
  j["resolved_by"] = i.resolved_by;
  j["commander"] = i.commander;
  j["drill"] = i.drill;
  j["next_step"] = i.next_step;
  j["round"] = i.round;
  j["epoch"] = i.epoch;
  j["ladder_start"] = Time(i.ladder_start);
  j["next_step_at"] = Time(i.next_step_at);
  j["ack_deadline"] = Time(i.ack_deadline);
  j["next_reminder_at"] = Time(i.next_reminder_at);
  j["paged"] = i.paged;
  j["last_page_at"] = Time(i.last_page_at);
  j["timeline_seq"] = i.timeline_seq;
  j["timeline_head"] = i.timeline_head;
  return j;
}

Result<Incident> IncidentFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("an incident must be a JSON object"));
  try {
    Incident i;
    i.id = JsonString(j, "id");
    i.number = j.value("number", std::int64_t{0});
    i.key = JsonString(j, "key");
    i.title = JsonString(j, "title");
    i.receiver = JsonString(j, "receiver");
    i.policy = JsonString(j, "policy");
    i.domain = JsonString(j, "domain");
    std::string sev = JsonString(j, "sev");
    if (sev.size() == 5 && sev[4] >= '1' && sev[4] <= '4') i.sev = static_cast<Sev>(sev[4] - '0');
    auto st = ParseIncidentState(JsonString(j, "state"));
    if (!st) return Fail(Error::Invalid("incident has no valid state"));
    i.state = *st;
    i.group_labels = LabelsFromJson(JsonMember(j, "group_labels"));
    for (const auto& a : JsonMember(j, "alerts")) {
      auto alert = AlertFromJson(a);
      if (!alert) return Fail(alert.error());
      i.alerts.push_back(std::move(*alert));
    }
    for (const auto& a : JsonMember(j, "causes")) {
      auto alert = AlertFromJson(a);
      if (!alert) return Fail(alert.error());
      i.causes.push_back(std::move(*alert));
    }
    i.opened_at = TimeFrom(j, "opened_at");
    i.acknowledged_at = TimeFrom(j, "acknowledged_at");
    i.resolved_at = TimeFrom(j, "resolved_at");
    i.acknowledged_by = JsonString(j, "acknowledged_by");
    i.resolved_by = JsonString(j, "resolved_by");
    i.commander = JsonString(j, "commander");
    i.drill = j.value("drill", false);
    i.next_step = j.value("next_step", 0);
    i.round = j.value("round", 0);
    i.epoch = j.value("epoch", 0);
    i.ladder_start = TimeFrom(j, "ladder_start");
    i.next_step_at = TimeFrom(j, "next_step_at");
    i.ack_deadline = TimeFrom(j, "ack_deadline");
    i.next_reminder_at = TimeFrom(j, "next_reminder_at");
    i.paged = j.value("paged", std::vector<std::string>{});
    i.last_page_at = TimeFrom(j, "last_page_at");  // absent in older rows: none known
    i.timeline_seq = j.value("timeline_seq", std::int64_t{0});
    i.timeline_head = JsonString(j, "timeline_head");
    return i;
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("malformed incident: ") + e.what()));
  }
}

json TimelineEventToJson(const TimelineEvent& e) {
  json j;
  j["seq"] = e.seq;
  j["at"] = Time(e.at);
  j["kind"] = e.kind;
  j["actor"] = e.actor;
  j["text"] = e.text;
  j["data"] = json::parse(e.data.empty() ? "{}" : e.data, nullptr, false);
  j["prev_hash"] = e.prev_hash;
  j["hash"] = e.hash;
  return j;
}

json DeliveriesToJson(const std::vector<TimelineEvent>& events) {
  json out = json::array();
  std::map<std::string, std::size_t> index;  // delivery identity -> position in `out`
  for (const auto& e : events) {
    const bool queued = e.kind == kEventQueued;
    const bool report = e.kind == kEventSent || e.kind == kEventFailed || e.kind == kEventSkipped;
    const bool not_paged = e.kind == kEventNotPaged;
    if (!queued && !report && !not_paged) continue;
    json d = json::parse(e.data.empty() ? "{}" : e.data, nullptr, false);
    if (!d.is_object()) continue;
    if (not_paged) {
      if (JsonString(d, "person").empty()) continue;  // "nobody to page": no delivery to speak of
      out.push_back({{"idempotency_key", JsonString(d, "idempotency_key")},
                     {"person", JsonString(d, "person")},
                     {"role", JsonString(d, "role")},
                     {"state", "not_paged"},
                     {"detail", JsonString(d, "reason")},
                     {"updated_at", Time(e.at)}});
      continue;
    }
    // One delivery is one outbox row: request, channel it was queued for, operation, person.
    std::string id =
        fmt::format("{}\n{}\n{}\n{}", JsonString(d, "idempotency_key"), JsonString(d, "channel"),
                    JsonString(d, "kind"), JsonString(d, "person"));
    auto it = index.find(id);
    if (it == index.end()) {
      it = index.emplace(id, out.size()).first;
      out.push_back({{"idempotency_key", JsonString(d, "idempotency_key")},
                     {"channel", JsonString(d, "channel")},
                     {"via", JsonString(d, "channel")},
                     {"kind", JsonString(d, "kind")},
                     {"person", JsonString(d, "person")},
                     {"people", json::array()},
                     {"state", "queued"},
                     {"attempts", 0},
                     {"status", 0},
                     {"provider_ref", ""},
                     {"detail", ""},
                     {"queued_at", ""},
                     {"updated_at", Time(e.at)}});
    }
    json& entry = out[it->second];
    entry["updated_at"] = Time(e.at);
    if (queued) {
      if (entry["queued_at"] == "") entry["queued_at"] = Time(e.at);
      if (d.contains("people") && d["people"].is_array()) entry["people"] = d["people"];
      continue;
    }
    entry["state"] = JsonString(d, "state");
    entry["via"] = JsonString(d, "via");
    entry["detail"] = JsonString(d, "detail");
    entry["provider_ref"] = JsonString(d, "provider_ref");
    if (d.contains("status") && d["status"].is_number_integer()) entry["status"] = d["status"];
    if (e.kind != kEventSkipped) entry["attempts"] = entry["attempts"].get<int>() + 1;
  }
  return out;
}

}  // namespace tocsin::incident
