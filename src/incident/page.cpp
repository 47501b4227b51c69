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

}  // namespace tocsin::incident
