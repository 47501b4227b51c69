#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "tocsin/common/clock.h"

namespace tocsin {

// A clock whose time moves only when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(TimePoint start) : now_(start) {}
  TimePoint Now() const override;
  std::uint64_t MonotonicMicros() const override;
  std::uint64_t BootMicros() const override;
  void Set(TimePoint t);
  // The machine sleeps for `d`: only BootMicros moves (wall time and timers stand still, as
  // for a process whose monotonic clock stopped).
  void Suspend(Duration d);

 private:
  mutable std::mutex mu_;
  TimePoint now_;
  Duration suspended_{0};
};

// Deterministic scheduler for tests and offline evaluation (rule tests, backtests). Time
// moves only through AdvanceTo/AdvanceBy, which fire every due timer in (deadline, creation)
// order, setting the clock to each timer's deadline before running it, so callbacks observe
// exactly the time they were scheduled for. Timers scheduled by callbacks that fall due
// within the same advance fire in the same call. Posted work runs at the current time before
// any later timer. Single-threaded, except Post(), which may be called from any thread; posted
// work then runs on the next RunPending/Advance call.
class SimulatedScheduler final : public Scheduler {
 public:
  explicit SimulatedScheduler(TimePoint start) : clock_(start) {}

  TimerId ScheduleAt(TimePoint at, Callback cb) override;
  bool Cancel(TimerId id) override;
  void Post(Callback cb) override;
  const Clock& clock() const override { return clock_; }

  // Fires everything due up to and including `t`, then leaves the clock at `t`.
  void AdvanceTo(TimePoint t);
  void AdvanceBy(Duration d) { AdvanceTo(clock_.Now() + d); }
  // Runs posted work (and timers due now) without moving time.
  void RunPending() { AdvanceTo(clock_.Now()); }
  void Suspend(Duration d) { clock_.Suspend(d); }
  std::size_t pending_timers() const { return timers_.size(); }
  // Deadline of the earliest timer, if any.
  bool NextDeadline(TimePoint* out) const;

 private:
  bool RunPosted();

  SimulatedClock clock_;
  std::map<std::pair<TimePoint, TimerId>, Callback> timers_;
  std::map<TimerId, TimePoint> deadlines_;
  TimerId next_id_ = 1;
  std::mutex posted_mu_;
  std::deque<Callback> posted_;
};

}  // namespace tocsin
