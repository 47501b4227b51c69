#include "notify/provider_registry.h"
#include "notify/providers/webhook/webhook_notifier.h"

namespace tocsin::notify {

ProviderSpec WebhookProvider() {
  ProviderSpec s{.channel = incident::Channel::kWebhook};
  s.title = "Webhook";
  // No identity: the targets go to the system behind the webhook, which routes by itself.
  s.delivery = ProviderSpec::Delivery::kAlert;
  s.notice_kind = "page";
  s.default_rate_limit = {600, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.webhook.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckWebhookConfig(*p.webhook, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<WebhookNotifier>(*p.webhook, deps.renderer, deps.http);
  };
  return s;
}

}  // namespace tocsin::notify
