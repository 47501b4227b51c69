#pragma once

// The JSON the incident pages read (docs/panel.md, "Panel endpoints"): built from the incident
// manager, the timeline and the page renderer, so the panel says what the pages and the API say.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/result.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::panel {

struct ViewContext {
  incident::IncidentManager& incidents;
  const incident::PolicySet& policies;
  const notify::PageRenderer* renderer = nullptr;  // null: no What/Where text
  TimePoint now{};
};

// Open incidents, newest first: SEV, state, age, alerts, who was paged through what and how
// the deliveries went, who acknowledged, the next ladder step and when it falls due.
Result<nlohmann::json> IncidentListJson(const ViewContext& ctx);
// One incident: the above plus timeline, chain check, alerts and causes, links, the page text
// (What / Where / How much / Action), deliveries, and the remaining ladder steps with times
// and the people on call then.
Result<nlohmann::json> IncidentDetailJson(const ViewContext& ctx, const std::string& id);

}  // namespace tocsin::panel
