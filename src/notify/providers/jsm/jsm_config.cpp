#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckJsmConfig(const config::JsmConfig& c, const WhereFn& where, config::Diagnostics& diags) {
  std::string url = c.api_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.find("/jsm/ops") != std::string::npos || url.ends_with("/v2")) {
    diags.Error(where("api_url"),
                "providers.jsm.api_url: give the base URL (https://api.atlassian.com); tocsin "
                "appends /jsm/ops/integration/v2/alerts");
  } else if (url.find("opsgenie.com") != std::string::npos) {
    diags.Error(where("api_url"),
                "providers.jsm.api_url points at Opsgenie; JSM Operations' integration API is "
                "https://api.atlassian.com (keep Opsgenie under providers.opsgenie)");
  } else if (url != "https://api.atlassian.com") {
    // Proxies and the simulator are legitimate; a typo in the host is not.
    diags.Warning(where("api_url"),
                  "providers.jsm.api_url is not JSM Operations' API (https://api.atlassian.com); "
                  "fine for a proxy");
  }
}

}  // namespace tocsin::notify
