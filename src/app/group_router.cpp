#include "group_router.h"

namespace tocsin::app {

void GroupRouter::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  const bool paging = !group.receiver.escalation_policy.empty();
  if (!active_) {
    // The latest flush of a group held before stands for it, whatever its receiver is now: a
    // stale firing one replayed would hide the resolve that came after.
    if (paging || held_.count(group.key) != 0) {
      held_.insert_or_assign(group.key, group);
      PruneHeld(now);
    }
    return;
  }
  if (paging) return incidents_.OnGroupFlush(group, now);
  notices_.OnGroupFlush(group, now);
  // The incidents hear of it too: when its receiver stopped paging in a reload while its
  // incident is open, that incident updates (or resolves) itself; they open nothing for it.
  incidents_.OnGroupFlush(group, now);
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
