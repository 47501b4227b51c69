#include "notify/notifier_factory.h"

#include "notify/providers/email/email_notifier.h"
#include "notify/providers/opsgenie/opsgenie_notifier.h"
#include "notify/providers/pagerduty/pagerduty_notifier.h"
#include "notify/providers/slack/slack_notifier.h"
#include "notify/providers/webhook/webhook_notifier.h"

namespace tocsin::notify {

using incident::Channel;

NotifierSet BuildNotifiers(const config::ProvidersConfig& p, const NotifierDeps& deps) {
  NotifierSet set;
  if (p.pagerduty) {
    set.notifiers[Channel::kPagerDuty] =
        std::make_shared<PagerDutyNotifier>(*p.pagerduty, deps.renderer, deps.http);
  }
  if (p.opsgenie) {
    set.notifiers[Channel::kOpsgenie] =
        std::make_shared<OpsgenieNotifier>(*p.opsgenie, deps.renderer, deps.http);
  }
  if (p.slack && deps.slack_threads) {
    set.notifiers[Channel::kSlack] =
        std::make_shared<SlackNotifier>(*p.slack, deps.renderer, deps.http, *deps.slack_threads);
  }
  if (p.email) {
    auto smtp = deps.smtp ? deps.smtp : std::make_shared<CurlSmtpTransport>(*p.email);
    set.notifiers[Channel::kEmail] = std::make_shared<EmailNotifier>(*p.email, deps.renderer, smtp);
  }
  if (p.webhook) {
    set.notifiers[Channel::kWebhook] =
        std::make_shared<WebhookNotifier>(*p.webhook, deps.renderer, deps.http);
  }
  return set;
}

}  // namespace tocsin::notify
