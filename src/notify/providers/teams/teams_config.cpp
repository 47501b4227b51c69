#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckTeamsConfig(const config::TeamsConfig& c, const WhereFn& where,
                      config::Diagnostics& diags) {
  // The retired Office 365 connector URLs (…webhook.office.com/webhookb2/…) stopped working;
  // only a Workflows URL carries its `sig=` signature.
  if (c.webhook_url.find("webhook.office.com") != std::string::npos) {
    diags.Error(where("webhook_url"),
                "providers.teams.webhook_url is a retired Office 365 connector URL; create a "
                "webhook with the channel's Workflows app (\"Post to a channel when a webhook "
                "request is received\") and use that URL");
  } else if (c.webhook_url.find("sig=") == std::string::npos) {
    diags.Warning(where("webhook_url"),
                  "providers.teams.webhook_url has no sig= parameter, which every Workflows "
                  "webhook URL carries; fine for a proxy");
  }
}

}  // namespace tocsin::notify
