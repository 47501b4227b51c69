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
nlohmann::json PageRequestToJson(const PageRequest& p);
Result<PageRequest> PageRequestFromJson(const nlohmann::json& j);

}  // namespace tocsin::incident
