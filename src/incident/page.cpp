#include "tocsin/incident/page.h"

#include <mutex>
#include <set>

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
    case PageAction::kStatusUpdate:
      return "status_update";
  }
  return "trigger";
}

Channel Channel::Named(std::string_view name) {
  // Names are few (the providers tocsin knows, and the odd stale one in a stored row), so
  // keeping each for the process's life costs nothing and keeps Channel a cheap value.
  static std::mutex mu;
  static std::set<std::string, std::less<>> names;
  std::lock_guard lock(mu);
  auto it = names.find(name);
  if (it == names.end()) it = names.emplace(name).first;
  return Channel(Literal{}, *it);
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

void Pager::SendOnceDecided(const PageRequest& request, SendDone done) {
  done(Fail(Error::Invalid("page " + request.idempotency_key +
                           ": this pager cannot wait for the intent's commit; send it once the "
                           "intent is durable")));
}

}  // namespace tocsin::incident
