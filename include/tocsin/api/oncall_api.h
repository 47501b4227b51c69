#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "tocsin/api/incident_api.h"
#include "tocsin/common/clock.h"
#include "tocsin/http/router.h"
#include "tocsin/oncall/override_store.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::oncall {

// What the on-call API reads and changes.
struct OncallApiDeps {
  // The schedule in force (roster file plus stored overrides); null without a roster.
  std::function<std::shared_ptr<const Schedule>()> schedule;
  // Where overrides added through the API are kept; null: POST answers 503.
  OverrideStore* overrides = nullptr;
  // Called on the loop once an added override is durable: the owner puts it in force.
  std::function<void(const RecordedOverride&)> on_added;
  // Overrides validated but not yet durable: the next POST is judged with them, so that two
  // concurrent overrides cannot each pass alone and break a rule together. Routers serving the
  // same schedule (the API's and the panel's listener) must share one.
  std::shared_ptr<std::vector<Override>> in_flight = std::make_shared<std::vector<Override>>();
  // Why this instance may not change the schedule now (a standby of a cluster: only the active
  // instance's changes are put in force), or nullopt; POST then answers 503 with the reason
  // and stores nothing, unless `forward` is set. Unset: always allowed.
  std::function<std::optional<std::string>()> refuse_changes;
  // A standby's way to add an override while refuse_changes says no: the request's body and
  // the actor go to the active instance, which checks and stores it (the OverrideAdder that
  // RegisterOncallApi returned there); `done` gets what that adder answered, and the caller
  // the same response the active would have given.
  std::function<void(nlohmann::json body, std::string actor,
                     std::function<void(Result<std::string>)> done)>
      forward;
  // The overrides added through the API, oldest first, as the owner keeps them in memory
  // (loaded at start, appended in on_added): GET answers from them instead of reading the
  // whole table on the loop at every request. Unset: GET reads `overrides`.
  std::function<const std::vector<RecordedOverride>&()> recorded;
};

// Registers the on-call API of the panel on `router` (GET /api/v1/oncall itself is in
// RegisterIncidentApi):
//   GET  /api/v1/oncall/now[?at=TIME&team=T]        now and next per rotation, with shadows
//   GET  /api/v1/oncall/shifts?from=&to=[&team=&rotation=]   calendar range (at most 93 days)
//   GET  /api/v1/oncall/findings[?from=&weeks=N]    roster check (fairness and coverage)
//   GET  /api/v1/oncall/overrides                   overrides added through the API (audit)
//   POST /api/v1/oncall/overrides                   add a cover or swap (responder)
// A new override is refused (422, each problem with the field it concerns) when it would
// break a fairness or coverage rule the schedule does not already break. Answered once the
// override is durable. `deps` and `clock` must outlive the router.
// Returns what the POST does once it has the body and the actor, for an override a standby
// passed on: the same checks and the same store; the answer (text for the standby's `forward`
// to turn back into the response) is an error when the response is not a 2xx.
using OverrideAdder =
    std::function<void(const nlohmann::json& body, const std::string& actor, TimePoint now,
                       std::function<void(Result<std::string>)> done)>;
OverrideAdder RegisterOncallApi(http::Router& router, OncallApiDeps deps, const Clock& clock,
                                incident::ActorResolver resolve_actor = incident::ActorFromRequest);

}  // namespace tocsin::oncall
