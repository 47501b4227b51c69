#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckOpsgenieConfig(const config::OpsgenieConfig& c, const WhereFn& where,
                         config::Diagnostics& diags) {
  std::string url = c.api_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() >= 3 && url.substr(url.size() - 3) == "/v2") {
    diags.Error(where("api_url"),
                "providers.opsgenie.api_url: give the base URL (https://api.opsgenie.com or "
                "https://api.eu.opsgenie.com); tocsin appends /v2/...");
  } else if (url != "https://api.opsgenie.com" && url != "https://api.eu.opsgenie.com") {
    // Proxies and the simulator are legitimate; a typo in the host is not.
    diags.Warning(where("api_url"),
                  "providers.opsgenie.api_url is neither Opsgenie's US "
                  "(https://api.opsgenie.com) nor EU (https://api.eu.opsgenie.com) API; fine "
                  "for a proxy");
  }
  if (c.heartbeat_name.find('/') != std::string::npos) {
    diags.Error(where("heartbeat_name"),
                "providers.opsgenie.heartbeat_name: the heartbeat's name, not a URL or path");
  }
}

}  // namespace tocsin::notify
