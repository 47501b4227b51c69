#include "tocsin/api/incident_commands.h"

namespace tocsin::http {

std::string_view ActionOriginName(ActionOrigin o) {
  switch (o) {
    case ActionOrigin::kApi:
      return "api";
    case ActionOrigin::kCli:
      return "cli";
    case ActionOrigin::kSlack:
      return "slack";
    case ActionOrigin::kPagerDuty:
      return "pagerduty";
    case ActionOrigin::kOpsgenie:
      return "opsgenie";
    case ActionOrigin::kTwilio:
      return "twilio";
    case ActionOrigin::kJsm:
      return "jsm";
    case ActionOrigin::kPanel:
      return "panel";
  }
  return "api";
}

std::string_view IncidentActionName(IncidentAction a) {
  switch (a) {
    case IncidentAction::kAcknowledge:
      return "acknowledge";
    case IncidentAction::kResolve:
      return "resolve";
    case IncidentAction::kEscalate:
      return "escalate";
    case IncidentAction::kNote:
      return "note";
    case IncidentAction::kUnacknowledge:
      return "unacknowledge";
  }
  return "acknowledge";
}

}  // namespace tocsin::http
