#include "notify/provider_registry.h"
#include "notify/providers/opsgenie/opsgenie_notifier.h"

namespace tocsin::notify {

ProviderSpec OpsgenieProvider() {
  ProviderSpec s{.channel = incident::Channel::kOpsgenie};
  s.title = "Opsgenie";
  s.identity_field = "opsgenie_username";
  s.identity = [](const oncall::Person& p) { return p.opsgenie_username; };
  s.origin = incident::kOriginOpsgenie;
  s.delivery = ProviderSpec::Delivery::kAlert;
  s.takes_notes = true;
  s.can_fail_over = true;
  s.default_rate_limit = {300, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.opsgenie.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckOpsgenieConfig(*p.opsgenie, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<OpsgenieNotifier>(*p.opsgenie, deps.renderer, deps.http);
  };
  return s;
}

}  // namespace tocsin::notify
