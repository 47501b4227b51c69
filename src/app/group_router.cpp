#include "group_router.h"

namespace tocsin::app {

void GroupRouter::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  if (!group.receiver.escalation_policy.empty()) {
    incidents_.OnGroupFlush(group, now);
  } else {
    notices_.OnGroupFlush(group, now);
  }
}

}  // namespace tocsin::app
