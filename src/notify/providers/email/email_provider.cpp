#include "notify/provider_registry.h"
#include "notify/providers/email/email_notifier.h"

namespace tocsin::notify {

ProviderSpec EmailProvider() {
  ProviderSpec s{.channel = incident::Channel::kEmail};
  s.title = "E-mail";
  s.identity_field = "email";
  s.identity = [](const oncall::Person& p) { return p.email; };
  s.delivery = ProviderSpec::Delivery::kPerPerson;
  s.notice_kind = "page";
  s.default_rate_limit = {60, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.email.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckEmailConfig(*p.email, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    auto smtp = deps.smtp ? deps.smtp : std::make_shared<CurlSmtpTransport>(*p.email);
    return std::make_shared<EmailNotifier>(*p.email, deps.renderer, smtp);
  };
  return s;
}

}  // namespace tocsin::notify
