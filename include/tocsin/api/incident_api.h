#pragma once

#include <functional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/http/router.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

// Who is calling. A route guard that authenticated the caller's bearer token sets
// request.actor (the token's person, or "token:<name>") and that is the actor, whatever the
// body or headers say. Only without it (no guard, or a trusted loopback caller while no token
// is configured, as the CLI on the daemon's host) does the caller name themselves in the
// body's "actor" or the X-Tocsin-Actor header.
using ActorResolver =
    std::function<std::string(const http::Request& request, const std::string& body_actor)>;
std::string ActorFromRequest(const http::Request& request, const std::string& body_actor);

// Registers HTTP API v1 for incidents and on-call on `router`:
//   GET  /api/v1/incidents[?state=open|triggered|acknowledged|resolved&limit=N]
//   POST /api/v1/incidents                  open one by hand (AlertGroup-like JSON body)
//   GET  /api/v1/incidents/{id}             incident and timeline
//   POST /api/v1/incidents/{id}/ack|resolve|note|escalate   body {"actor": "...", "text": "..."}
//   GET  /api/v1/incidents/{id}/verify      timeline hash chain check
//   GET  /api/v1/oncall[?at=TIME&team=T&role=R]
// Handlers answer after the change is durable. `manager` and `clock` must outlive the router.
void RegisterIncidentApi(http::Router& router, IncidentManager& manager, const Clock& clock,
                         ActorResolver resolve_actor = ActorFromRequest);

}  // namespace tocsin::incident
