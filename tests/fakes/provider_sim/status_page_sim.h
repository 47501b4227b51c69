#pragma once

#include "provider_sim.h"

namespace tocsin::sim {

// A strict receiver of tocsin's status-page webhook (docs/reports.md, "Status updates"):
// `POST /statuspage/updates` with `Authorization: Bearer status-page-token`, JSON with exactly
// the documented fields and types (an unknown or missing one is a 400 that says which), and
// `X-Tocsin-Idempotency-Key` equal to `update_id`; a repeated key is answered 200 and not
// published twice. What it published: `GET /_sim/status_page/updates`.
inline constexpr const char* kStatusPageToken = "status-page-token";
void RegisterStatusPage(ProviderSim& sim, http::Router& router);

}  // namespace tocsin::sim
