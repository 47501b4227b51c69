#include "tocsin/incident/forwarded_change.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/incident/incident_json.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;
using ChangeKind = ForwardedChange::Kind;

constexpr std::array<std::pair<ChangeKind, std::string_view>, 10> kKinds{{
    {ChangeKind::kAcknowledge, "acknowledge"},
    {ChangeKind::kResolve, "resolve"},
    {ChangeKind::kNote, "note"},
    {ChangeKind::kEscalate, "escalate"},
    {ChangeKind::kStatusUpdate, "status_update"},
    {ChangeKind::kRecordDelivery, "record_delivery"},
    {ChangeKind::kOpen, "open"},
    {ChangeKind::kDrill, "drill"},
    {ChangeKind::kPostmortem, "postmortem"},
    {ChangeKind::kUnacknowledge, "unacknowledge"},
}};

Result<std::string> StringField(const json& j, const char* key, bool required) {
  return JsonStringField(j, key, required, "a forwarded change");
}

bool OpensIncident(ChangeKind kind) {
  return kind == ChangeKind::kOpen || kind == ChangeKind::kDrill;
}

json AlertsToJson(const std::vector<Alert>& alerts) {
  json out = json::array();
  for (const auto& a : alerts) out.push_back(AlertToJson(a));
  return out;
}

Result<std::vector<Alert>> AlertsFromJson(const json& group, const char* key) {
  std::vector<Alert> out;
  auto it = group.find(key);
  if (it == group.end()) return out;
  if (!it->is_array()) {
    return Fail(
        Error::Invalid(fmt::format("`group.{}` of a forwarded change must be a list", key)));
  }
  for (const auto& a : *it) {
    auto alert = AlertFromJson(a);
    if (!alert) {
      return Fail(Error::Invalid(
          fmt::format("`group.{}` of a forwarded change: {}", key, alert.error().message())));
    }
    out.push_back(std::move(*alert));
  }
  return out;
}

json GroupToJson(const dispatch::AlertGroup& g) {
  return {{"key", g.key},
          {"route", g.route},
          {"receiver", g.receiver.name},
          {"policy", g.receiver.escalation_policy},
          {"group_labels", LabelsToJson(g.group_labels)},
          {"alerts", AlertsToJson(g.alerts)},
          {"causes", AlertsToJson(g.causes)},
          {"flushed_at", FormatRfc3339(g.flushed_at)}};
}

// The group of an incident opened by hand or a drill: what OpenAsync reads of it (a receiver's
// notices are the dispatcher's, never part of such a group).
Result<dispatch::AlertGroup> GroupFromJson(const json& j) {
  if (!j.is_object())
    return Fail(Error::Invalid("`group` of a forwarded change must be an object"));
  dispatch::AlertGroup g;
  auto key = JsonStringField(j, "key", true, "the group of a forwarded change");
  auto route = JsonStringField(j, "route", false, "the group of a forwarded change");
  auto receiver = JsonStringField(j, "receiver", false, "the group of a forwarded change");
  auto policy = JsonStringField(j, "policy", true, "the group of a forwarded change");
  auto flushed = JsonStringField(j, "flushed_at", true, "the group of a forwarded change");
  for (const auto* r : {&key, &route, &receiver, &policy, &flushed}) {
    if (!*r) return Fail(r->error());
  }
  auto at = ParseTime(*flushed);
  if (!at) {
    return Fail(Error::Invalid(
        fmt::format("`group.flushed_at` of a forwarded change: {}", at.error().message())));
  }
  auto alerts = AlertsFromJson(j, "alerts");
  if (!alerts) return Fail(alerts.error());
  if (alerts->empty()) {
    return Fail(Error::Invalid("the group of a forwarded change has no alerts"));
  }
  auto causes = AlertsFromJson(j, "causes");
  if (!causes) return Fail(causes.error());
  g.key = *key;
  g.route = *route;
  g.receiver.name = *receiver;
  g.receiver.escalation_policy = *policy;
  g.group_labels = LabelsFromJson(j.value("group_labels", json::object()));
  g.alerts = std::move(*alerts);
  g.causes = std::move(*causes);
  g.flushed_at = *at;
  return g;
}

}  // namespace

ForwardedChange MakeForwardedChange(ChangeKind kind, std::string incident_id, std::string actor,
                                    std::string origin, std::optional<InboundDelivery> delivery) {
  ForwardedChange c;
  c.kind = kind;
  c.incident_id = std::move(incident_id);
  c.actor = std::move(actor);
  c.origin = std::move(origin);
  c.delivery = std::move(delivery);
  return c;
}

std::string_view ForwardedKindName(ChangeKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

json ForwardedChangeToJson(const ForwardedChange& c) {
  json j{{"kind", ForwardedKindName(c.kind)},
         {"incident", c.incident_id},
         {"actor", c.actor},
         {"origin", c.origin}};
  if (c.kind == ChangeKind::kNote || c.kind == ChangeKind::kPostmortem) j["text"] = c.text;
  if (c.group) j["group"] = GroupToJson(*c.group);
  if (c.drill) {
    j["drill"] = {
        {"scenario", c.drill->scenario}, {"team", c.drill->team}, {"runbook", c.drill->runbook}};
  }
  if (c.kind == ChangeKind::kStatusUpdate) {
    j["situation"] = c.update.situation;
    j["measures"] = c.update.measures;
    j["next_update_in_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(c.update.next_update_in).count();
  }
  if (c.delivery) j["delivery"] = {{"source", c.delivery->source}, {"id", c.delivery->id}};
  return j;
}

Result<ForwardedChange> ForwardedChangeFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("a forwarded change must be a JSON object"));
  ForwardedChange c;
  auto kind = StringField(j, "kind", true);
  if (!kind) return Fail(kind.error());
  bool known = false;
  for (const auto& [k, name] : kKinds) {
    if (name == *kind) {
      c.kind = k;
      known = true;
    }
  }
  if (!known) {
    return Fail(Error::Invalid(fmt::format("unknown kind \"{}\" of a forwarded change", *kind)));
  }
  const bool needs_incident = c.kind != ChangeKind::kRecordDelivery && !OpensIncident(c.kind);
  auto incident = StringField(j, "incident", needs_incident);
  auto actor = StringField(j, "actor", c.kind != ChangeKind::kRecordDelivery);
  auto origin = StringField(j, "origin", false);
  auto text =
      StringField(j, "text", c.kind == ChangeKind::kNote || c.kind == ChangeKind::kPostmortem);
  for (const auto* r : {&incident, &actor, &origin, &text}) {
    if (!*r) return Fail(r->error());
  }
  c.incident_id = *incident;
  c.actor = *actor;
  c.origin = *origin;
  c.text = *text;
  if (c.kind == ChangeKind::kStatusUpdate) {
    auto situation = StringField(j, "situation", true);
    auto measures = StringField(j, "measures", false);
    if (!situation) return Fail(situation.error());
    if (!measures) return Fail(measures.error());
    c.update.situation = *situation;
    c.update.measures = *measures;
    if (auto it = j.find("next_update_in_ms"); it != j.end()) {
      if (!it->is_number_integer()) {
        return Fail(Error::Invalid("`next_update_in_ms` of a forwarded change must be an integer"));
      }
      c.update.next_update_in = std::chrono::milliseconds(it->get<std::int64_t>());
    }
  }
  if (auto it = j.find("delivery"); it != j.end()) {
    if (!it->is_object()) {
      return Fail(Error::Invalid("`delivery` of a forwarded change must be an object"));
    }
    auto source = StringField(*it, "source", true);
    auto id = StringField(*it, "id", true);
    if (!source) return Fail(source.error());
    if (!id) return Fail(id.error());
    c.delivery = InboundDelivery{*source, *id, {}};
  }
  if (OpensIncident(c.kind)) {
    auto it = j.find("group");
    if (it == j.end()) {
      return Fail(Error::Invalid(fmt::format("a forwarded {} needs `group`", *kind)));
    }
    auto group = GroupFromJson(*it);
    if (!group) return Fail(group.error());
    c.group = std::move(*group);
  }
  if (c.kind == ChangeKind::kDrill) {
    auto it = j.find("drill");
    if (it == j.end() || !it->is_object()) {
      return Fail(Error::Invalid("a forwarded drill needs `drill`, an object"));
    }
    const char* what = "the drill of a forwarded change";
    auto scenario = JsonStringField(*it, "scenario", true, what);
    auto team = JsonStringField(*it, "team", false, what);
    auto runbook = JsonStringField(*it, "runbook", false, what);
    for (const auto* r : {&scenario, &team, &runbook}) {
      if (!*r) return Fail(r->error());
    }
    c.drill = DrillSpec{*scenario, *team, *runbook};
  }
  if (c.kind == ChangeKind::kRecordDelivery && !c.delivery) {
    return Fail(Error::Invalid("a forwarded record_delivery needs `delivery`"));
  }
  return c;
}

}  // namespace tocsin::incident
