#pragma once

#include <memory>
#include <optional>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"

namespace tocsin::notify {

class OpsgenieNotifier;

// Pings Opsgenie's heartbeat every `interval` so that Opsgenie pages someone when tocsin itself
// stops (a dead-man's switch). A missed ping is only logged: the next one follows on time.
// Loop thread only; the ping runs on the Executor.
class HeartbeatPinger {
 public:
  HeartbeatPinger(Scheduler& scheduler, Executor& executor)
      : scheduler_(scheduler), executor_(executor) {}
  ~HeartbeatPinger();
  // (Re)starts pinging through `notifier`; null stops.
  void Start(std::shared_ptr<OpsgenieNotifier> notifier, Duration interval);
  void Stop();
  int pings() const { return pings_; }

 private:
  void Schedule();
  Scheduler& scheduler_;
  Executor& executor_;
  std::shared_ptr<OpsgenieNotifier> notifier_;
  Duration interval_{};
  std::optional<TimerId> timer_;
  int pings_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::notify
