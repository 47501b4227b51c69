#include "notify/heartbeat.h"

#include <spdlog/spdlog.h>

#include "notify/providers/opsgenie/opsgenie_notifier.h"

namespace tocsin::notify {

HeartbeatPinger::~HeartbeatPinger() {
  *alive_ = false;
  Stop();
}

void HeartbeatPinger::Stop() {
  if (timer_) scheduler_.Cancel(*timer_);
  timer_.reset();
  notifier_.reset();
}

void HeartbeatPinger::Start(std::shared_ptr<OpsgenieNotifier> notifier, Duration interval) {
  Stop();
  if (!notifier || !notifier->has_heartbeat() || interval <= Duration(0)) return;
  notifier_ = std::move(notifier);
  interval_ = interval;
  Schedule();
}

void HeartbeatPinger::Schedule() {
  std::weak_ptr<bool> alive = alive_;
  timer_ = scheduler_.ScheduleAfter(interval_, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    timer_.reset();
    if (!notifier_) return;
    auto notifier = notifier_;
    ++pings_;
    executor_.Submit([notifier] {
      auto r = notifier->Heartbeat();
      if (!r.ok()) spdlog::warn("opsgenie heartbeat ping failed: {}", r.detail);
    });
    Schedule();
  });
}

}  // namespace tocsin::notify
