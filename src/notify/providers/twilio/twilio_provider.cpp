#include "notify/provider_registry.h"
#include "notify/providers/twilio/twilio_notifier.h"

namespace tocsin::notify {

ProviderSpec TwilioProvider() {
  ProviderSpec s{.channel = incident::Channel::kTwilio};
  s.title = "Twilio";
  s.identity_field = "phone";
  s.identity = [](const oncall::Person& p) { return p.phone; };
  // No `origin`: acknowledges and resolves are never mirrored to a phone, so an SMS reply or a
  // keypress (origin "twilio") has nothing to skip here.
  s.delivery = ProviderSpec::Delivery::kPerPerson;
  // The SMS first (it carries the text and how to answer), then the call that wakes them.
  s.per_person_kinds = {"sms", "call"};
  // Per recipient number: a storm of incidents must not ring one phone every few seconds;
  // items over the limit wait their turn (nothing is dropped).
  s.default_rate_limit = {6, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.twilio.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckTwilioConfig(*p.twilio, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<TwilioNotifier>(*p.twilio, deps.renderer, deps.http);
  };
  return s;
}

}  // namespace tocsin::notify
