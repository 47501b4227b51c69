#pragma once

#include <memory>

#include "tocsin/common/clock.h"

namespace boost::asio {
class io_context;
}

namespace tocsin {

// Scheduler on a Boost.Asio io_context: the production event loop. Timers are steady-clock
// timers whose deadline is computed from the wall clock at scheduling time. Call from the
// loop thread, except Post(), which is safe from any thread.
class AsioScheduler final : public Scheduler {
 public:
  AsioScheduler(boost::asio::io_context& io, const Clock& clock);
  ~AsioScheduler() override;

  TimerId ScheduleAt(TimePoint at, Callback cb) override;
  bool Cancel(TimerId id) override;
  void Post(Callback cb) override;
  const Clock& clock() const override { return clock_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Clock& clock_;
};

}  // namespace tocsin
