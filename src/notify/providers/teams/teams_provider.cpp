#include "notify/provider_registry.h"
#include "notify/providers/teams/teams_notifier.h"

namespace tocsin::notify {

ProviderSpec TeamsProvider() {
  ProviderSpec s{.channel = incident::Channel::Named("teams")};
  s.title = "Microsoft Teams";
  // No identity: a channel message names the step's people; Teams pages nobody by itself.
  s.delivery = ProviderSpec::Delivery::kAlert;
  // Workflows runs a flow per request; Microsoft throttles busy flows with 429.
  s.default_rate_limit = {60, std::chrono::minutes(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.teams.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckTeamsConfig(*p.teams, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    return std::make_shared<TeamsNotifier>(*p.teams, deps.renderer, deps.http);
  };
  return s;
}

}  // namespace tocsin::notify
