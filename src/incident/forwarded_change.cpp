#include "tocsin/incident/forwarded_change.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "tocsin/common/json_fields.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;
using ChangeKind = ForwardedChange::Kind;

constexpr std::array<std::pair<ChangeKind, std::string_view>, 6> kKinds{{
    {ChangeKind::kAcknowledge, "acknowledge"},
    {ChangeKind::kResolve, "resolve"},
    {ChangeKind::kNote, "note"},
    {ChangeKind::kEscalate, "escalate"},
    {ChangeKind::kStatusUpdate, "status_update"},
    {ChangeKind::kRecordDelivery, "record_delivery"},
}};

Result<std::string> StringField(const json& j, const char* key, bool required) {
  return JsonStringField(j, key, required, "a forwarded change");
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
  if (c.kind == ChangeKind::kNote) j["text"] = c.text;
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
  const bool needs_incident = c.kind != ChangeKind::kRecordDelivery;
  auto incident = StringField(j, "incident", needs_incident);
  auto actor = StringField(j, "actor", needs_incident);
  auto origin = StringField(j, "origin", false);
  auto text = StringField(j, "text", c.kind == ChangeKind::kNote);
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
  if (c.kind == ChangeKind::kRecordDelivery && !c.delivery) {
    return Fail(Error::Invalid("a forwarded record_delivery needs `delivery`"));
  }
  return c;
}

}  // namespace tocsin::incident
