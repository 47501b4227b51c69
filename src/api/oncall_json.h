#pragma once

// JSON of the on-call API, shared by its read routes and the override POST.
#include <memory>

#include <nlohmann/json.hpp>

#include "tocsin/api/oncall_api.h"
#include "tocsin/oncall/fairness.h"

namespace tocsin::oncall {

// One shift with its holder's name, the times in UTC and in the shift's zone, the override
// that changed it, and the newcomers shadowing its holder at `at`.
nlohmann::json ShiftJson(const Schedule& schedule, const Shift& s, TimePoint at);
nlohmann::json FindingJson(const Schedule& schedule, const Finding& f);
nlohmann::json RecordedOverrideJson(const RecordedOverride& r);

// POST /api/v1/oncall/overrides (oncall_override_api.cpp).
OverrideAdder RegisterOverridePost(http::Router& router, std::shared_ptr<OncallApiDeps> deps,
                                   const Clock& clock, incident::ActorResolver resolve_actor);

}  // namespace tocsin::oncall
