#include "group_router.h"

namespace tocsin::app {

void GroupRouter::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  if (!group.receiver.escalation_policy.empty() ||
      (active_ && incident_open_ && incident_open_(group.key))) {
    if (!active_) {
      held_.insert_or_assign(group.key, group);
      PruneHeld(now);
      return;
    }
    incidents_.OnGroupFlush(group, now);
  } else if (active_) {
    notices_.OnGroupFlush(group, now);
  }
}

// A resolved group's replay matters only while its incident could still be open; after an hour
// the active has resolved it long ago. Amortised: a pass only when the map has doubled.
void GroupRouter::PruneHeld(TimePoint now) {
  if (held_.size() < 2 * held_after_prune_ + 100) return;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.AllResolved() && it->second.flushed_at + std::chrono::hours(1) < now) {
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  held_after_prune_ = held_.size();
}

void GroupRouter::SetActive(bool active, TimePoint now) {
  bool was = active_;
  active_ = active;
  if (!active || was) return;
  auto held = std::move(held_);
  held_.clear();
  for (const auto& [key, group] : held) incidents_.OnGroupFlush(group, now);
}

}  // namespace tocsin::app
