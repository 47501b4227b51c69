#include "notify/heartbeat.h"

#include <spdlog/spdlog.h>

#include "tocsin/incident/page.h"

namespace tocsin::notify {

HeartbeatPinger::~HeartbeatPinger() {
  *alive_ = false;
  Stop();
}

void HeartbeatPinger::Stop() {
  if (timer_) scheduler_.Cancel(*timer_);
  timer_.reset();
  notifiers_.clear();
}

void HeartbeatPinger::Start(std::vector<std::shared_ptr<Notifier>> notifiers, Duration interval) {
  Stop();
  std::erase_if(notifiers, [](const auto& n) { return !n || !n->HasHeartbeat(); });
  if (notifiers.empty() || interval <= Duration(0)) return;
  notifiers_ = std::move(notifiers);
  interval_ = interval;
  Schedule();
}

void HeartbeatPinger::Schedule() {
  std::weak_ptr<bool> alive = alive_;
  timer_ = scheduler_.ScheduleAfter(interval_, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    timer_.reset();
    if (notifiers_.empty()) return;
    ++pings_;
    for (const auto& notifier : notifiers_) {
      executor_.Submit([notifier] {
        auto r = notifier->Heartbeat();
        if (!r.ok()) {
          spdlog::warn("{} heartbeat ping failed: {}", notifier->channel().name(), r.detail);
        }
      });
    }
    Schedule();
  });
}

}  // namespace tocsin::notify
