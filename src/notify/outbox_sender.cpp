// Outbox sending: the pump that picks due items in order within rate limits, one delivery on
// the Executor, and what its result does to the item (sent, retried, failed) and the provider.
#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "notify/outbox.h"
#include "notify/provider_registry.h"
#include "tocsin/common/log.h"

namespace tocsin::notify {

using incident::Channel;

std::string Outbox::FormatDelay(Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 120) return fmt::format("{}s", s);
  return fmt::format("{}m{}s", s / 60, s % 60);
}

Channel Outbox::EffectiveChannel(const OutboxItem& item) const {
  // A closing is for the provider that has the page, wherever the incident's line goes now.
  if (item.channel != item.original_channel || item.kind == "closing") return item.channel;
  return Landing(item.request.incident_id, item.original_channel);
}

bool Outbox::Delivered(const std::string& incident_id, Channel via) const {
  auto it = delivered_.find(incident_id);
  return it != delivered_.end() && std::ranges::find(it->second, via) != it->second.end();
}

bool Outbox::TriggerGoing(const std::string& incident_id, Channel original, TimePoint at) const {
  if (trigger_writes_.count({incident_id, original})) return true;  // not queued yet
  for (auto id : queue_.IdsOfIncident(incident_id)) {
    const OutboxItem& item = queue_.items().at(id);
    if (item.original_channel == original && item.kind == "page" &&
        item.request.action == incident::PageAction::kTrigger &&
        (in_flight_.count(id) || item.request.at > at)) {
      return true;
    }
  }
  return false;
}

Channel Outbox::Landing(const std::string& incident_id, Channel original,
                        bool now_failed_over) const {
  if (auto it = routes_.find(incident_id); it != routes_.end()) {
    auto jt = it->second.find(original);
    if (jt != it->second.end() && jt->second != original) return jt->second;
  }
  if (now_failed_over && failed_over(original)) {
    if (auto alt = config_.FailoverFor(original); alt && notifiers_.Has(*alt)) return *alt;
  }
  return original;
}

void Outbox::RequestPump() {
  if (pump_posted_ || stopped_) return;
  pump_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  scheduler_.Post([this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    pump_posted_ = false;
    Pump();
  });
}

void Outbox::ScheduleWake(TimePoint at) {
  if (stopped_ || (wake_ && wake_->first <= at)) return;
  if (wake_) scheduler_.Cancel(wake_->second);
  std::weak_ptr<bool> alive = alive_;
  TimerId id = scheduler_.ScheduleAt(at, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    wake_.reset();
    Pump();
  });
  wake_ = {at, id};
}

Lane Outbox::LaneFor(const OutboxItem& item) const {
  Lane lane;
  lane.via = EffectiveChannel(item);
  auto n = notifiers_.notifiers.find(lane.via);
  if (n == notifiers_.notifiers.end()) {
    lane.routable = false;
    return lane;
  }
  lane.bucket = std::string(incident::ChannelName(lane.via)) + ":" + n->second->RateKey(item);
  return lane;
}

void Outbox::SetRoute(const std::string& incident_id, Channel original, Channel via, bool replace) {
  auto& routes = routes_[incident_id];
  auto it = routes.find(original);
  if (it != routes.end() && (!replace || it->second == via)) return;
  routes.insert_or_assign(original, via);
  queue_.RelaneIncident(incident_id);
}

void Outbox::Pump() {
  if (!configured_ || stopped_) return;
  const TimePoint now = scheduler_.clock().Now();
  std::optional<TimePoint> wake;
  auto want = [&wake](TimePoint t) {
    if (!wake || t < *wake) wake = t;
  };
  for (auto& [c, ps] : providers_) {
    if (ps.failing_since && !ps.failed_over) {
      if (*ps.failing_since + config_.failover_after <= now) {
        CheckFailover(c, now);
      } else {
        want(*ps.failing_since + config_.failover_after);
      }
    }
  }
  if (auto due = queue_.PromoteDue(now)) want(*due);
  ParkClosings();

  // May this lane send one more now? Each check is one look, whatever the lane holds.
  auto open = [&](const Lane& lane) {
    auto& ps = providers_[lane.via];
    if (ps.blocked_until > now) {
      want(ps.blocked_until);
      return false;
    }
    // After a failure only one item probes the provider; the rest wait for its answer.
    if (ps.consecutive_failures > 0 && ps.in_flight > 0) return false;
    TimePoint next = limiter_.NextAllowed(lane.bucket, config_.LimitFor(lane.via), now);
    if (next > now) {
      want(next);
      return false;
    }
    return true;
  };
  // Lanes that may send, by their first ready head (acks and resolves, then the lowest id):
  // sending across lanes keeps that order.
  using Front = std::pair<Ready, const Lane*>;
  std::priority_queue<Front, std::vector<Front>, std::greater<>> fronts;
  std::vector<std::int64_t> unroutable;
  // Triggers an acknowledge or resolve made stale (StaleBy) while they waited, and updates of
  // the message a newer one outdated (left so by a restart): withdrawn after the pass, which
  // must not change the lanes it walks.
  std::set<std::int64_t> stale;
  std::set<std::int64_t> outdated;
  auto untimely = [&](std::int64_t id) {
    if (closings_.empty() && updates_.empty()) return false;
    const OutboxItem& item = *queue_.Find(id);
    if (StaleBy(item)) {
      stale.insert(id);
      return true;
    }
    if (OutdatedUpdate(item)) {
      outdated.insert(id);
      return true;
    }
    return false;
  };
  // The first head of `lane` from `from` on that no write in progress supersedes.
  auto first_sendable = [&](const Lane& lane, Ready from) -> std::optional<Ready> {
    auto l = queue_.lanes().find(lane);
    if (l == queue_.lanes().end()) return std::nullopt;
    for (auto it = l->second.lower_bound(from); it != l->second.end(); ++it) {
      ++pump_visits_;
      if (superseding_.count(it->id) || stale.count(it->id) || outdated.count(it->id)) continue;
      if (untimely(it->id)) continue;
      return *it;
    }
    return std::nullopt;
  };
  for (const auto& [lane, heads] : queue_.lanes()) {
    ++pump_visits_;
    if (!lane.routable) {
      pump_visits_ += heads.size();
      for (const auto& r : heads) unroutable.push_back(r.id);
      continue;
    }
    if (in_flight_.size() >= config_.max_in_flight) break;
    if (!open(lane)) continue;
    if (auto head = first_sendable(lane, Ready{0, 0})) fronts.push({*head, &lane});
  }
  while (!fronts.empty() && in_flight_.size() < config_.max_in_flight) {
    auto [head, lane_ptr] = fronts.top();
    fronts.pop();
    // Lanes stay in the map while the pass runs: dispatching only takes an id out of its set,
    // and a lane emptied by it is erased, so the lane is copied before that.
    const Lane lane = *lane_ptr;
    limiter_.Record(lane.bucket, config_.LimitFor(lane.via), now);
    bool more = queue_.lanes().at(lane).size() > 1;
    CloseWhereItWas(*queue_.Find(head.id), lane.via);
    Dispatch(*queue_.Find(head.id), lane.via, notifiers_.notifiers.at(lane.via));
    if (!more || !open(lane)) continue;
    auto l = queue_.lanes().find(lane);
    if (auto next = first_sendable(lane, Ready{head.rank, head.id + 1})) {
      fronts.push({*next, &l->first});
    }
  }
  for (auto id : unroutable) {
    const OutboxItem* item = queue_.Find(id);
    if (!item) continue;
    if (auto by = StaleBy(*item)) {
      Withdraw(*item, item->channel, *by, now);
      continue;
    }
    GiveUp(*item, item->channel, 0,
           fmt::format("{} is not configured any more", ProviderTitle(item->channel)), now);
  }
  for (auto id : stale) {
    if (const OutboxItem* item = queue_.Find(id)) {
      Withdraw(*item, EffectiveChannel(*item), *StaleBy(*item), now);
    }
  }
  for (auto id : outdated) {
    if (const OutboxItem* item = queue_.Find(id)) Outdated(*item, now);
  }
  QueueClosingsDue();
  // The next items of those incidents.
  if (!unroutable.empty() || !stale.empty() || !outdated.empty()) RequestPump();
  if (wake) ScheduleWake(*wake);
}

void Outbox::Dispatch(const OutboxItem& item, Channel via, std::shared_ptr<Notifier> n) {
  in_flight_.insert(item.id);
  queue_.TakeOut(item.id);
  providers_[via].in_flight++;
  OutboxItem copy = item;
  copy.channel = via;
  std::weak_ptr<bool> alive = alive_;
  Scheduler* scheduler = &scheduler_;
  executor_.Submit([this, alive, scheduler, copy = std::move(copy), n = std::move(n), via] {
    if (may_send_ && !may_send_()) {
      // This instance lost the lease (paused past it, cut off from the database): the active
      // one has this item from the database and sends it. Nothing is recorded here: the
      // store's writes of a fenced instance fail anyway. The item goes back in the queue, so
      // that should this instance hold the lease again without a restart, it still sends it.
      scheduler->Post([this, alive, id = copy.id, via] {
        if (auto a = alive.lock(); !a || !*a) return;
        in_flight_.erase(id);
        providers_[via].in_flight--;
        queue_.Requeue(id);
        spdlog::warn("outbox: item {} not sent: this instance no longer holds the lease", id);
      });
      return;
    }
    const Clock& clock = scheduler->clock();
    auto start = clock.MonotonicMicros();
    DeliveryResult result;
    try {
      result = n->Deliver(copy);
    } catch (const std::exception& e) {
      // A notifier bug must not take a page down with it: retry, it is logged.
      result = DeliveryResult::Retry(0, log::Redact(std::string("internal error: ") + e.what()));
    }
    double seconds = static_cast<double>(clock.MonotonicMicros() - start) / 1e6;
    scheduler->Post([this, alive, id = copy.id, via, result = std::move(result), seconds] {
      if (auto a = alive.lock(); !a || !*a) return;
      OnResult(id, via, result, seconds);
    });
  });
}

Duration Outbox::Backoff(int failures) {
  double base = static_cast<double>(config_.initial_backoff.count()) *
                std::pow(2.0, std::min(failures - 1, 30));
  base = std::min(base, static_cast<double>(config_.max_backoff.count()));
  std::uniform_real_distribution<double> jitter(-config_.jitter, config_.jitter);
  return Duration(static_cast<Duration::rep>(base * (1.0 + jitter(rng_))));
}

void Outbox::OnResult(std::int64_t id, Channel via, DeliveryResult result, double seconds) {
  in_flight_.erase(id);
  auto& ps = providers_[via];
  ps.in_flight--;
  const TimePoint now = scheduler_.clock().Now();
  std::string provider(incident::ChannelName(via));
  if (deliveries_) {
    deliveries_->Add({{"provider", provider}, {"result", std::string(OutcomeName(result.outcome))}})
        .Increment();
  }
  if (latency_) {
    latency_
        ->Add({{"provider", provider}},
              prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
        .Observe(seconds);
  }
  OutboxItem* found = queue_.Find(id);
  if (!found) {
    RequestPump();
    return;
  }
  OutboxItem& item = *found;

  if (result.outcome != DeliveryResult::Outcome::kRetry) {
    // Any answer that is not a failure to answer means the provider is up.
    ps.consecutive_failures = 0;
    ps.failing_since.reset();
    ps.blocked_until = {};
  }
  switch (result.outcome) {
    case DeliveryResult::Outcome::kOk: {
      OutboxItem done = std::move(*queue_.Remove(id));
      if (via != done.original_channel)
        SetRoute(done.request.incident_id, done.original_channel, via, true);
      if (done.kind == "page" && done.request.action == incident::PageAction::kTrigger &&
          !Delivered(done.request.incident_id, via)) {
        delivered_[done.request.incident_id].push_back(via);
      }
      spdlog::info("outbox: {} {} delivered via {}{}", done.request.incident_id,
                   incident::PageActionName(done.request.action), provider,
                   via != done.original_channel ? " (fail-over)" : "");
      // Reported once written, so the timeline's "sent" is on disk before anyone reads it.
      std::weak_ptr<bool> alive = alive_;
      store_.MarkSent(id, via, now, result.status, result.detail,
                      [this, alive, done, via, result, now](Result<void> w) {
                        if (auto a = alive.lock(); !a || !*a) return;
                        if (!w) {
                          // Stays pending in the database: a restart re-sends it, harmless by
                          // idempotency key.
                          spdlog::error("outbox: item {} delivered but not marked sent: {}",
                                        done.id, w.error().message());
                        }
                        Report(done, via, incident::DeliveryOutcome::kSent, result, now);
                      });
      break;
    }
    case DeliveryResult::Outcome::kRetry: {
      const auto stale = StaleBy(item);
      // A closing is not given up: its provider has a page only it stops, and while that
      // provider is failed over it waits parked, however long the outage.
      if (!stale && item.kind != "closing" && now - item.created_at >= config_.give_up_after) {
        GiveUp(item, via, result.status,
               fmt::format("{} (still failing after {})", result.detail,
                           FormatDelay(config_.give_up_after)),
               now);
        break;
      }
      ps.consecutive_failures++;
      ps.last_detail = result.detail;
      // Being throttled (429) is not being down: it never triggers a fail-over.
      if (result.status != 429 && !ps.failing_since) ps.failing_since = now;
      Duration delay = result.retry_after ? std::max(*result.retry_after, Duration(1000))
                                          : Backoff(ps.consecutive_failures);
      ps.blocked_until = now + delay;
      if (stale) {
        // On its way when the incident's acknowledge or resolve was stored (which withdrew
        // the triggers still queued, not this one): sent later, it would wake someone for an
        // incident already handled. Neither retried nor given up (that would tell Slack to
        // reach the on-call another way).
        Withdraw(item, via, *stale, now, &result);
        CheckFailover(via, now);
        break;
      }
      item.attempts++;
      queue_.Requeue(id);
      spdlog::warn("outbox: {} {} via {} failed ({}), retrying in {}", item.request.incident_id,
                   incident::PageActionName(item.request.action), provider, result.detail,
                   FormatDelay(delay));
      std::weak_ptr<bool> alive = alive_;
      store_.MarkRetry(id, item.attempts, now + delay, result.status, result.detail,
                       [this, alive, item, via, result, now, delay](Result<void> w) {
                         if (auto a = alive.lock(); !a || !*a) return;
                         if (!w) {
                           // The row keeps its previous attempt count and due time: a restart
                           // tries it sooner, which is harmless.
                           spdlog::warn("outbox: item {}: its retry could not be recorded: {}",
                                        item.id, w.error().message());
                         }
                         Report(item, via, incident::DeliveryOutcome::kRetrying, result, now,
                                delay);
                       });
      CheckFailover(via, now);
      break;
    }
    case DeliveryResult::Outcome::kPermanent:
      // Stale (its incident handled meanwhile): not announced as a page that reached nobody.
      if (auto by = StaleBy(item)) {
        Withdraw(item, via, *by, now, &result);
      } else {
        GiveUp(item, via, result.status, result.detail, now);
      }
      break;
  }
  UpdateQueueDepth();
  RequestPump();
}

void Outbox::GiveUp(const OutboxItem& item, Channel via, int status, const std::string& why,
                    TimePoint now) {
  OutboxItem failed = item;
  queue_.Remove(item.id);
  spdlog::error("outbox: {} {} via {} failed permanently: {}", failed.request.incident_id,
                incident::PageActionName(failed.request.action), incident::ChannelName(via), why);
  UpdateQueueDepth();
  std::weak_ptr<bool> alive = alive_;
  store_.MarkFailed(
      failed.id, via, now, status, why,
      [this, alive, failed, via, status, why, now](Result<void> w) {
        if (auto a = alive.lock(); !a || !*a) return;
        if (!w) {
          // Still pending in the database: the next start tries it once more.
          spdlog::error("outbox: item {} failed but could not be marked failed: {}", failed.id,
                        w.error().message());
        }
        DeliveryResult answer = DeliveryResult::Permanent(status, why);
        Report(failed, via, incident::DeliveryOutcome::kFailed, answer, now);
        // A notice that failed is not announced with another notice (it would loop).
        if (failed.kind != "notice" && via != Channel::kSlack) {
          NoticeToSlack(failed.request.incident_id,
                        fmt::format(":rotating_light: {} {} could not be delivered through {} and "
                                    "will not be retried: {}. Reach the on-call another way.",
                                    failed.request.incident_id,
                                    incident::PageActionName(failed.request.action),
                                    ProviderTitle(via), why));
        }
      });
}

void Outbox::Report(const OutboxItem& item, Channel via, incident::DeliveryOutcome outcome,
                    const DeliveryResult& result, TimePoint now, Duration retry_in) {
  if (!observer_ || item.kind == "notice") return;
  incident::DeliveryReport r;
  r.incident_id = item.request.incident_id;
  r.idempotency_key = item.request.idempotency_key;
  r.person_id = item.person_id;
  r.channel = via;
  r.original_channel = item.original_channel;
  r.kind = item.kind;
  r.action = item.request.action;
  r.outcome = outcome;
  r.status = result.status;
  r.provider_ref = log::Redact(result.provider_ref);
  r.detail = log::Redact(result.detail);
  r.retry_in = retry_in;
  r.at = now;
  observer_->OnDelivery(r);
}

}  // namespace tocsin::notify
