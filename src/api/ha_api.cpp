// GET /api/v1/ha and the cluster part of /api/v2/status.
#include "tocsin/api/ha_api.h"

#include <chrono>

#include "api_response.h"
#include "tocsin/common/duration.h"

namespace tocsin::ha {

using nlohmann::json;

json HaStatusJson(const HaStatus& s, TimePoint now) {
  json peers = json::array();
  for (const auto& p : s.peers) {
    peers.push_back({{"instance", p.name},
                     {"role", p.role},
                     {"address", p.address},
                     {"lastHeartbeat", FormatRfc3339(p.last_heartbeat)}});
  }
  json out = {
      {"instance", s.instance},
      {"cluster", s.cluster_name},
      {"store", s.backend},
      {"role", RoleName(s.role)},
      {"epoch", s.epoch},
      {"holder", s.holder.empty() ? json() : json(s.holder)},
      {"leaseSeconds", std::chrono::duration<double>(s.lease).count()},
      {"leaseExpiresAt", s.lease_expires_at ? json(FormatRfc3339(*s.lease_expires_at)) : json()},
      {"failovers", s.failovers},
      {"noActive", s.no_active_since.has_value()},
      {"noActiveSince", s.no_active_since ? json(FormatRfc3339(*s.no_active_since)) : json()},
      {"lastError", s.last_error.empty() ? json() : json(s.last_error)},
      {"peers", std::move(peers)},
      {"at", FormatRfc3339(now)},
  };
  return out;
}

json AlertmanagerClusterJson(const HaStatus& s) {
  json peers = json::array();
  for (const auto& p : s.peers) peers.push_back({{"name", p.name}, {"address", p.address}});
  // A single instance answers as Alertmanager does with clustering off: no name, no peers.
  if (s.backend != "postgresql") return {{"status", "disabled"}, {"peers", std::move(peers)}};
  const char* status = s.no_active_since ? "settling" : "ready";
  return {{"name", s.instance}, {"status", status}, {"peers", std::move(peers)}};
}

void RegisterHaApi(http::Router& router, const HaStatusSource& status, const Clock& clock) {
  router.AddSync("GET", "/api/v1/ha", http::Access::kViewer,
                 [&status, &clock](const http::Request&) {
                   return api::JsonResponse(200, HaStatusJson(status.Status(), clock.Now()));
                 });
}

}  // namespace tocsin::ha
