#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Pings the heartbeat of every provider that has one (Notifier::HasHeartbeat: Opsgenie's)
// every `interval`, so that the provider pages someone when tocsin itself stops (a dead-man's
// switch). A missed ping is only logged: the next one follows on time.
// Loop thread only; the pings run on the Executor.
class HeartbeatPinger {
 public:
  HeartbeatPinger(Scheduler& scheduler, Executor& executor)
      : scheduler_(scheduler), executor_(executor) {}
  ~HeartbeatPinger();
  // (Re)starts pinging through those of `notifiers` that have a heartbeat; none stops.
  void Start(std::vector<std::shared_ptr<Notifier>> notifiers, Duration interval);
  void Stop();
  int pings() const { return pings_; }

 private:
  void Schedule();
  Scheduler& scheduler_;
  Executor& executor_;
  std::vector<std::shared_ptr<Notifier>> notifiers_;
  Duration interval_{};
  std::optional<TimerId> timer_;
  int pings_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::notify
