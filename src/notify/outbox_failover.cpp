// Outbox fail-over: a provider failing for `failover_after` hands its queue to its partner,
// and is probed until it answers again.
#include <fmt/format.h>

#include "notify/outbox.h"
#include "notify/provider_registry.h"

namespace tocsin::notify {

using incident::Channel;

void Outbox::CheckFailover(Channel c, TimePoint now) {
  auto& ps = providers_[c];
  if (ps.failed_over || !ps.failing_since) return;
  if (*ps.failing_since + config_.failover_after > now) return;
  auto alt = config_.FailoverFor(c);
  if (!alt || !notifiers_.Has(*alt) || failed_over(*alt)) {
    // Nobody to hand the queue to: the paging SaaS is down as a whole.
    CallLastResort(c, now);
    return;
  }
  ps.failed_over = true;
  queue_.RelaneAll();  // its queue replays through the partner
  NoticeToSlack("tocsin",
                fmt::format(":warning: {} has been failing for {} ({}): paging through {} until "
                            "it answers again; queued pages replay through {} in order.",
                            ProviderTitle(c), FormatDelay(now - *ps.failing_since), ps.last_detail,
                            ProviderTitle(*alt), ProviderTitle(*alt)));
  ScheduleProbe(c);
  RequestPump();
}

void Outbox::ScheduleProbe(Channel c) {
  if (stopped_) return;
  std::weak_ptr<bool> alive = alive_;
  providers_[c].probe_timer = scheduler_.ScheduleAfter(config_.probe_interval, [this, alive, c] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto& ps = providers_[c];
    ps.probe_timer.reset();
    auto n = notifiers_.notifiers.find(c);
    if (!ps.failed_over || n == notifiers_.notifiers.end()) return;
    auto notifier = n->second;
    Scheduler* scheduler = &scheduler_;
    executor_.Submit([this, alive, scheduler, notifier, c] {
      bool up = notifier->Probe();
      scheduler->Post([this, alive, c, up] {
        if (auto a = alive.lock(); !a || !*a) return;
        auto& state = providers_[c];
        if (!state.failed_over) return;
        if (!up) {
          ScheduleProbe(c);
          return;
        }
        state = ProviderState{};
        queue_.RelaneAll();
        NoticeToSlack("tocsin", fmt::format(":white_check_mark: {} answers again: new pages go "
                                            "through {} again.",
                                            ProviderTitle(c), ProviderTitle(c)));
        RequestPump();
      });
    });
  });
}

}  // namespace tocsin::notify
