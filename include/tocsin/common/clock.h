#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace tocsin {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// Wall-clock time source. Only SystemClock reads std::chrono::system_clock::now(); every
// other piece of code receives a Clock and reads it once per tick, then passes `now` down.
// Thread-safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Monotonic microseconds, for systemd's MONOTONIC_USEC and for measuring latencies.
  virtual std::uint64_t MonotonicMicros() const = 0;
  // Monotonic microseconds that go on counting while the machine is suspended (Linux
  // CLOCK_BOOTTIME; CLOCK_MONOTONIC stops then): for a deadline another machine measures too,
  // such as the high-availability lease, which a suspended active must not outlive.
  virtual std::uint64_t BootMicros() const { return MonotonicMicros(); }
};

using TimerId = std::uint64_t;

// Runs callbacks at points in time. Production uses the Asio event loop (AsioScheduler);
// tests and offline tools use SimulatedScheduler, which fires due timers in deadline order
// when time is advanced. Thread-safety: call only from the event-loop thread, except Post(),
// which may be called from any thread to hand work back to the loop.
class Scheduler {
 public:
  using Callback = std::function<void()>;
  virtual ~Scheduler() = default;

  virtual TimerId ScheduleAt(TimePoint at, Callback cb) = 0;
  TimerId ScheduleAfter(Duration d, Callback cb) {
    return ScheduleAt(clock().Now() + d, std::move(cb));
  }
  // Cancelling an unknown or already-fired timer is a no-op; returns whether one was removed.
  virtual bool Cancel(TimerId id) = 0;
  // Runs cb on the loop thread as soon as possible (used to return results of off-loop work).
  virtual void Post(Callback cb) = 0;
  virtual const Clock& clock() const = 0;
};

// Milliseconds since the Unix epoch <-> TimePoint.
inline TimePoint FromUnixMillis(std::int64_t ms) { return TimePoint(Duration(ms)); }
inline std::int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }

}  // namespace tocsin
