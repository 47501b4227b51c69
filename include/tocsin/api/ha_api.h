#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tocsin/common/clock.h"
#include "tocsin/ha/ha_status.h"
#include "tocsin/http/router.h"

namespace tocsin::ha {

// GET /api/v1/ha (viewer): this instance, its role, the fencing epoch, the lease and the peers
// with their last heartbeat. `status` must outlive the router; the handler runs on the loop.
void RegisterHaApi(http::Router& router, const HaStatusSource& status, const Clock& clock);

// The body of GET /api/v1/ha.
nlohmann::json HaStatusJson(const HaStatus& status, TimePoint now);

// Alertmanager's ClusterStatus for /api/v2/status (what `amtool cluster show` prints): this
// instance's name, "ready" while an active instance is visible, "settling" while none is,
// "disabled" on SQLite (one instance, no cluster), and every instance as a peer.
nlohmann::json AlertmanagerClusterJson(const HaStatus& status);

}  // namespace tocsin::ha
