// Outbox fail-over: a provider failing for `failover_after` hands its queue to its partner,
// and is probed until it answers again.
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
        Unpark(c);
        queue_.RelaneAll();
        NoticeToSlack("tocsin", fmt::format(":white_check_mark: {} answers again: new pages go "
                                            "through {} again.",
                                            ProviderTitle(c), ProviderTitle(c)));
        RequestPump();
      });
    });
  });
}

void Outbox::ParkClosings() {
  // Until none is left: parking a head files the next closing of its line, which would
  // otherwise be tried against the provider known to be down (and could overtake it). A
  // provider no longer configured parks nothing: its lane is unroutable, given up loudly.
  bool parked = false;
  for (bool more = true; more;) {
    std::vector<std::int64_t> park;
    for (const auto& [lane, heads] : queue_.lanes()) {
      if (!lane.routable || !failed_over(lane.via)) continue;
      for (const auto& r : heads) {
        if (queue_.items().at(r.id).kind == "closing") park.push_back(r.id);
      }
    }
    more = !park.empty();
    for (auto id : park) {
      OutboxItem item = std::move(*queue_.Remove(id));
      spdlog::info(
          "outbox: {} {} for {} waits until it answers again: it has a page of the incident",
          item.request.incident_id, incident::PageActionName(item.request.action),
          ProviderTitle(item.channel));
      parked_[item.channel].push_back(std::move(item));
      parked = true;
    }
  }
  if (parked) UpdateQueueDepth();
}

void Outbox::CloseWhereItWas(const OutboxItem& item, Channel via) {
  const auto action = item.request.action;
  const Channel c = item.original_channel;
  if (via == c || item.kind != "page" ||
      (action != incident::PageAction::kAcknowledge && action != incident::PageAction::kResolve) ||
      !Delivered(item.request.incident_id, c)) {
    return;
  }
  // Never back to the provider it came from (an acknowledge made in its app).
  if (const ProviderSpec* p = FindProvider(c);
      p && !p->origin.empty() && p->origin == item.request.origin) {
    return;
  }
  if (!closings_made_.insert(item.id).second) return;  // a retry of the line's copy
  if (closings_made_.size() >= 2 * closings_made_after_prune_ + 64) {
    // Amortised: an item no longer queued is not dispatched again.
    std::erase_if(closings_made_, [this](std::int64_t id) { return !queue_.Find(id); });
    closings_made_after_prune_ = closings_made_.size();
  }
  OutboxItem closing = item;
  closing.id = 0;
  closing.channel = c;
  closing.kind = "closing";
  closing.attempts = 0;
  closing.next_attempt_at = scheduler_.clock().Now();
  closings_due_.push_back(std::move(closing));
}

void Outbox::QueueClosingsDue() {
  for (auto& closing : std::exchange(closings_due_, {})) {
    OutboxItem copy = closing;
    Store({std::move(closing)}, [this, copy = std::move(copy)](Result<void> written) {
      if (written) return;
      // Nobody was told it is queued: kept in memory and written again after a backoff (a
      // restart before that loses it, and PagerDuty's incident stays open there).
      spdlog::error(
          "outbox: {} {} for {} (it has a page of the incident) not written: {}; trying again",
          copy.request.incident_id, incident::PageActionName(copy.request.action),
          ProviderTitle(copy.channel), written.error().message());
      closings_due_.push_back(copy);
      ScheduleWake(scheduler_.clock().Now() + config_.initial_backoff);
    });
  }
}

std::size_t Outbox::pending() const {
  std::size_t n = queue_.size();
  for (const auto& [c, items] : parked_) n += items.size();
  return n;
}

void Outbox::Unpark(std::optional<Channel> c) {
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (c && it->first != *c) {
      ++it;
      continue;
    }
    for (auto& item : it->second) queue_.Add(std::move(item));
    it = parked_.erase(it);
  }
}

}  // namespace tocsin::notify
