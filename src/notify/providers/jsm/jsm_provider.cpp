#include "notify/provider_registry.h"
#include "notify/providers/jsm/jsm_notifier.h"

namespace tocsin::notify {

ProviderSpec JsmProvider() {
  ProviderSpec s{.channel = incident::Channel::Named("jsm")};
  s.title = "Jira Service Management";
  s.identity_field = "jsm_username";
  s.identity = [](const oncall::Person& p) { return p.jsm_username; };
  // No origin: an ack done in JSM on one step's alert is mirrored back to JSM all the same, so
  // that the other steps' alerts stop paging too (acknowledging the one already acknowledged
  // changes nothing there, and the echoes come back as "unchanged").
  s.delivery = ProviderSpec::Delivery::kAlert;
  s.takes_notes = true;
  s.default_rate_limit = {300, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.jsm.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckJsmConfig(*p.jsm, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<JsmNotifier>(*p.jsm, deps.renderer, deps.http);
  };
  return s;
}

}  // namespace tocsin::notify
