#pragma once

#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/incident/incident.h"

namespace tocsin::incident {

// JSON forms used by the HTTP API and by the store's serialized columns. Times are RFC 3339
// in the API form; the store form keeps them too (they round-trip at millisecond precision).
// FromJson functions never throw: malformed input is a kInvalid error saying which field.
nlohmann::json AlertToJson(const Alert& a);
Result<Alert> AlertFromJson(const nlohmann::json& j);
nlohmann::json IncidentToJson(const Incident& i);
Result<Incident> IncidentFromJson(const nlohmann::json& j);
nlohmann::json TimelineEventToJson(const TimelineEvent& e);
// Every delivery of the incident's pages with its current state, derived from the timeline's
// queued / sent / failed / skipped / not_paged events, in the order they were first recorded:
// [{"idempotency_key", "channel", "via", "kind", "person", "people", "state", "attempts",
//   "status", "provider_ref", "detail", "queued_at", "updated_at"}]. state is one of queued,
// sent, retrying, failed, skipped, not_paged. The API and the timeline therefore never differ.
nlohmann::json DeliveriesToJson(const std::vector<TimelineEvent>& events);

}  // namespace tocsin::incident
