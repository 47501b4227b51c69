#include "notify/provider_registry.h"
#include "notify/providers/slack/slack_notifier.h"

namespace tocsin::notify {

ProviderSpec SlackProvider() {
  ProviderSpec s{.channel = incident::Channel::kSlack};
  s.title = "Slack";
  s.identity_field = "slack_user_id";
  s.identity = [](const oncall::Person& p) { return p.slack_user_id; };
  // No origin: an ack pressed in Slack still updates the Slack message (it shows who acked).
  s.delivery = ProviderSpec::Delivery::kIncidentMessage;
  s.notice_kind = "notice";
  // Slack's chat.postMessage: about one message a second per channel.
  s.default_rate_limit = {1, std::chrono::seconds(1)};
  s.configured = [](const config::ProvidersConfig& p) { return p.slack.has_value(); };
  s.check = [](const config::ProvidersConfig& p, const WhereFn& where, config::Diagnostics& d) {
    CheckSlackConfig(*p.slack, where, d);
  };
  s.build = [](const config::ProvidersConfig& p,
               const NotifierDeps& deps) -> std::shared_ptr<Notifier> {
    // The incident message's id must be kept durably; without a store there is no Slack.
    if (!deps.slack_threads) return nullptr;
    return std::make_shared<SlackNotifier>(*p.slack, deps.renderer, deps.http, *deps.slack_threads);
  };
  return s;
}

}  // namespace tocsin::notify
