#include "tocsin/incident/page.h"

namespace tocsin::incident {

std::string_view PageActionName(PageAction a) {
  switch (a) {
    case PageAction::kTrigger:
      return "trigger";
    case PageAction::kAcknowledge:
      return "acknowledge";
    case PageAction::kResolve:
      return "resolve";
    case PageAction::kUpdate:
      return "update";
    case PageAction::kNote:
      return "note";
    case PageAction::kReminder:
      return "reminder";
  }
  return "trigger";
}

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kPagerDuty:
      return "pagerduty";
    case Channel::kOpsgenie:
      return "opsgenie";
    case Channel::kSlack:
      return "slack";
    case Channel::kEmail:
      return "email";
    case Channel::kWebhook:
      return "webhook";
  }
  return "slack";
}

bool ChannelReaches(Channel channel, const oncall::Person& person) {
  switch (channel) {
    case Channel::kPagerDuty:
      return !person.pagerduty_user_id.empty();
    case Channel::kOpsgenie:
      return !person.opsgenie_username.empty();
    case Channel::kSlack:
      return !person.slack_user_id.empty();
    case Channel::kEmail:
      return !person.email.empty();
    case Channel::kWebhook:
      return true;
  }
  return false;
}

std::string_view DeliveryOutcomeName(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::kSent:
      return "sent";
    case DeliveryOutcome::kRetrying:
      return "retrying";
    case DeliveryOutcome::kFailed:
      return "failed";
    case DeliveryOutcome::kSkipped:
      return "skipped";
  }
  return "failed";
}

}  // namespace tocsin::incident
