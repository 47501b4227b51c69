#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

namespace {

std::string WithoutTrailingSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

void CheckPagerDutyConfig(const config::PagerDutyConfig& c, const WhereFn& where,
                          config::Diagnostics& diags) {
  // A pasted endpoint would send to /v2/enqueue/v2/enqueue: every page a 404.
  if (c.events_url.find("/v2/enqueue") != std::string::npos) {
    diags.Error(where("events_url"),
                "providers.pagerduty.events_url: give the base URL (e.g. "
                "https://events.pagerduty.com or https://events.eu.pagerduty.com); tocsin "
                "appends /v2/enqueue");
  }
  std::string api = WithoutTrailingSlash(c.api_url);
  if (api.find("/incidents") != std::string::npos) {
    diags.Error(where("api_url"),
                "providers.pagerduty.api_url: give the base URL (https://api.pagerduty.com or "
                "https://api.eu.pagerduty.com); tocsin appends /incidents/...");
  } else if (!c.api_token.empty() && api != "https://api.pagerduty.com" &&
             api != "https://api.eu.pagerduty.com") {
    diags.Warning(where("api_url"),
                  "providers.pagerduty.api_url is neither PagerDuty's US "
                  "(https://api.pagerduty.com) nor EU (https://api.eu.pagerduty.com) REST API; "
                  "fine for a proxy");
  }
  if (c.api_token.empty()) {
    // Without a token these would be silently unused: the L2 would never be added.
    if (!c.from.empty()) {
      diags.Error(where("from"),
                  "providers.pagerduty.from is only used with api_token (or api_token_file); "
                  "set the REST API key too, or remove from");
    }
    if (!c.requester_id.empty()) {
      diags.Error(where("requester_id"),
                  "providers.pagerduty.requester_id is only used with api_token (or "
                  "api_token_file); set the REST API key too, or remove requester_id");
    }
    return;
  }
  auto at = c.from.find('@');
  if (c.from.empty() || at == 0 || at == std::string::npos || at + 1 == c.from.size()) {
    diags.Error(where(c.from.empty() ? "api_token" : "from"),
                "providers.pagerduty.from: the e-mail address of a PagerDuty user is required "
                "with api_token (PagerDuty refuses writes without a From header)");
  }
  if (c.requester_id.empty()) {
    diags.Error(where("api_token"),
                "providers.pagerduty.requester_id: the PagerDuty user id (e.g. PXPGF42) of the "
                "from user is required with api_token; responder requests name their "
                "requester");
  }
}

}  // namespace tocsin::notify
