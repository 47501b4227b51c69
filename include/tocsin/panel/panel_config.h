#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/http/api_auth.h"

namespace tocsin::panel {

// The `panel:` section: the on-call web panel's own listener (docs/panel.md). Absent or
// without `listen`, no panel is served.
struct PanelConfig {
  std::string listen;       // "127.0.0.1:9096"; empty: no panel
  std::string path_prefix;  // "/tocsin" behind a reverse proxy that forwards a sub-path
  // Reverse proxies whose user header is believed (IP addresses, as the proxy connects from).
  std::vector<std::string> trusted_proxies;
  std::string user_header = "X-Forwarded-User";  // roster person id of the signed-in user
  std::string role_header;                       // viewer | responder | admin; empty: proxy_role
  http::Role proxy_role = http::Role::kViewer;
  // Header a trusted proxy sets to "https" when the browser reached it over TLS (Secure cookie).
  std::string proto_header = "X-Forwarded-Proto";
  Duration session_ttl = std::chrono::hours(12);  // a session ends this long after sign-in
  bool enabled() const { return !listen.empty(); }
};

// Reads and validates the `panel` section (raw YAML kept in Config::sections).
PanelConfig LoadPanelConfig(const config::Config& cfg, config::Diagnostics& diags);

}  // namespace tocsin::panel
