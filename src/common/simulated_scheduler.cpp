#include "tocsin/common/simulated_scheduler.h"

#include <chrono>

namespace tocsin {

TimePoint SimulatedClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

std::uint64_t SimulatedClock::MonotonicMicros() const {
  std::lock_guard lock(mu_);
  return static_cast<std::uint64_t>(now_.time_since_epoch().count()) * 1000;
}

std::uint64_t SimulatedClock::BootMicros() const {
  std::lock_guard lock(mu_);
  return static_cast<std::uint64_t>((now_.time_since_epoch() + suspended_).count()) * 1000;
}

void SimulatedClock::Suspend(Duration d) {
  std::lock_guard lock(mu_);
  suspended_ += d;
}

void SimulatedClock::Set(TimePoint t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

TimerId SimulatedScheduler::ScheduleAt(TimePoint at, Callback cb) {
  // A deadline in the past fires on the next advance, at the current time.
  if (at < clock_.Now()) at = clock_.Now();
  TimerId id = next_id_++;
  timers_.emplace(std::make_pair(at, id), std::move(cb));
  deadlines_.emplace(id, at);
  return id;
}

bool SimulatedScheduler::Cancel(TimerId id) {
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return false;
  timers_.erase({it->second, id});
  deadlines_.erase(it);
  return true;
}

void SimulatedScheduler::Post(Callback cb) {
  std::lock_guard lock(posted_mu_);
  posted_.push_back(std::move(cb));
}

bool SimulatedScheduler::RunPosted() {
  bool ran = false;
  for (;;) {
    Callback cb;
    {
      std::lock_guard lock(posted_mu_);
      if (posted_.empty()) break;
      cb = std::move(posted_.front());
      posted_.pop_front();
    }
    cb();
    ran = true;
  }
  return ran;
}

void SimulatedScheduler::AdvanceTo(TimePoint t) {
  if (t < clock_.Now()) t = clock_.Now();
  for (;;) {
    RunPosted();
    if (timers_.empty() || timers_.begin()->first.first > t) break;
    auto node = timers_.extract(timers_.begin());
    deadlines_.erase(node.key().second);
    clock_.Set(node.key().first);
    node.mapped()();
  }
  clock_.Set(t);
  RunPosted();
}

bool SimulatedScheduler::NextDeadline(TimePoint* out) const {
  if (timers_.empty()) return false;
  *out = timers_.begin()->first.first;
  return true;
}

}  // namespace tocsin
