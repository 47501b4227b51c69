#include "notify/provider_registry.h"
#include "notify/providers/pagerduty/pagerduty_notifier.h"

namespace tocsin::notify {

ProviderSpec PagerDutyProvider() {
  ProviderSpec s{.channel = incident::Channel::kPagerDuty};
  s.title = "PagerDuty";
  s.identity_field = "pagerduty_user_id";
  s.identity = [](const oncall::Person& p) { return p.pagerduty_user_id; };
  s.origin = incident::kOriginPagerDuty;
  s.delivery = ProviderSpec::Delivery::kAlert;
  s.can_fail_over = true;
  // Events API v2: about 120 events a minute per routing key.
  s.default_rate_limit = {120, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.pagerduty.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckPagerDutyConfig(*p.pagerduty, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<PagerDutyNotifier>(*p.pagerduty, deps.renderer, deps.http,
                                               deps.responder_requests);
  };
  return s;
}

}  // namespace tocsin::notify
