#pragma once

#include "provider_sim.h"

namespace tocsin::sim {

// A Microsoft Teams channel's Workflows webhook ("Post to a channel when a webhook request is
// received"), as strict as the real one:
//   POST /workflows/{id}/triggers/manual/paths/invoke?api-version=..&sig=..
// The URL's `sig` is the credential (missing or "invalid": 401 DirectApiAuthorizationRequired);
// the body must be a message whose attachments are Adaptive Cards (contentType
// application/vnd.microsoft.card.adaptive, content.type AdaptiveCard with a version and a body
// of known elements), at most 28 KB; else 400 InvalidRequestContent with Workflows' error
// shape `{"error":{"code","message"}}`. Accepted: 202 with an empty body, as Workflows answers.
// Faults (429 with Retry-After, 5xx) through /_sim/faults. Test endpoints:
//   GET|DELETE /_sim/teams/messages   what each workflow's channel shows: title, colour, facts,
//                                     links
// Thread-safety: handlers run on the simulator's loop; state behind its own mutex.
void RegisterTeams(ProviderSim& sim, http::Router& router);

}  // namespace tocsin::sim
