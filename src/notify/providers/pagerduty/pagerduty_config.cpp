#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckPagerDutyConfig(const config::PagerDutyConfig& c, const WhereFn& where,
                          config::Diagnostics& diags) {
  // A pasted endpoint would send to /v2/enqueue/v2/enqueue: every page a 404.
  if (c.events_url.find("/v2/enqueue") != std::string::npos) {
    diags.Error(where("events_url"),
                "providers.pagerduty.events_url: give the base URL (e.g. "
                "https://events.pagerduty.com or https://events.eu.pagerduty.com); tocsin "
                "appends /v2/enqueue");
  }
}

}  // namespace tocsin::notify
