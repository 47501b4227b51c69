#pragma once

#include "provider_sim.h"

namespace tocsin::sim {

// Jira Service Management Operations' integration API, as strict as the real one:
//   POST /jsm/ops/integration/v2/alerts                      create (202, async)
//   POST /jsm/ops/integration/v2/alerts/{alias}/acknowledge|close|notes?identifierType=alias
//   GET  /jsm/ops/integration/v2/alerts/requests/{id}        what became of a request
// `Authorization: GenieKey <key>` with a key of the UUID form JSM issues (else 401); required
// fields and limits checked with JSM's 422 `{"message","errors","took","requestId"}`; a create
// whose alias is open only bumps the alert's count and notifies nobody (alias dedup); faults
// (429 with Retry-After, 5xx) armed through /_sim/faults. Test endpoints:
//   GET  /_sim/jsm/alerts     every alert: alias, status, acknowledged, count, responders, notes
//   GET  /_sim/jsm/received   what each responder was notified of (one row per person and alert)
//   POST /_sim/jsm/act        {url, token, alias, action: Acknowledge|Close|AddNote, username,
//                              note?, retries?}: does it in the simulated JSM and sends the
//                             outgoing webhook as JSM does (Opsgenie's body shape, the custom
//                             header X-Tocsin-Token), re-sending the same body on a 5xx up to
//                             `retries` times; answers every attempt's status.
// Thread-safety: handlers run on the simulator's loop; state behind its own mutex.
void RegisterJsm(ProviderSim& sim, http::Router& router);

}  // namespace tocsin::sim
