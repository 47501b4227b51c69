#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckWebhookConfig(const config::WebhookConfig& c, const WhereFn& where,
                        config::Diagnostics& diags) {
  if (c.secret.empty()) {
    diags.Warning(where("secret"),
                  "providers.webhook.secret is not set: requests go out unsigned and the "
                  "receiver cannot tell them from forgeries");
  }
}

}  // namespace tocsin::notify
