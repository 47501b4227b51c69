// Outbox sending: the pump that picks due items in order within rate limits, one delivery on
// the Executor, and what its result does to the item (sent, retried, failed) and the provider.
#include <algorithm>
#include <cmath>

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
  if (item.channel != item.original_channel) return item.channel;
  if (auto it = routes_.find(item.request.incident_id); it != routes_.end()) {
    auto jt = it->second.find(item.original_channel);
    if (jt != it->second.end() && jt->second != item.original_channel) return jt->second;
  }
  if (failed_over(item.original_channel)) {
    if (auto alt = config_.FailoverFor(item.original_channel); alt && notifiers_.Has(*alt)) {
      return *alt;
    }
  }
  return item.channel;
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
  std::set<std::pair<Channel, std::string>> busy_keys;
  std::vector<std::int64_t> unroutable;
  for (auto& [id, item] : pending_) {
    // One item at a time per (provider, incident): an acknowledge never overtakes its trigger.
    if (!busy_keys.insert({item.original_channel, item.request.incident_id}).second) continue;
    if (in_flight_.count(id) || superseding_.count(id)) continue;
    if (in_flight_.size() >= config_.max_in_flight) break;
    if (item.next_attempt_at > now) {
      want(item.next_attempt_at);
      continue;
    }
    Channel via = EffectiveChannel(item);
    auto n = notifiers_.notifiers.find(via);
    if (n == notifiers_.notifiers.end()) {
      unroutable.push_back(id);
      continue;
    }
    auto& ps = providers_[via];
    if (ps.blocked_until > now) {
      want(ps.blocked_until);
      continue;
    }
    // After a failure only one item probes the provider; the rest wait for its answer.
    if (ps.consecutive_failures > 0 && ps.in_flight > 0) continue;
    const RateLimit& limit = config_.LimitFor(via);
    std::string bucket = std::string(incident::ChannelName(via)) + ":" + n->second->RateKey(item);
    TimePoint next = limiter_.NextAllowed(bucket, limit, now);
    if (next > now) {
      want(next);
      continue;
    }
    limiter_.Record(bucket, limit, now);
    Dispatch(item, via, n->second);
  }
  for (auto id : unroutable) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    GiveUp(it->second, it->second.channel, 0,
           fmt::format("{} is not configured any more", ProviderTitle(it->second.channel)), now);
  }
  if (wake) ScheduleWake(*wake);
}

void Outbox::Dispatch(const OutboxItem& item, Channel via, std::shared_ptr<Notifier> n) {
  in_flight_.insert(item.id);
  providers_[via].in_flight++;
  OutboxItem copy = item;
  copy.channel = via;
  std::weak_ptr<bool> alive = alive_;
  Scheduler* scheduler = &scheduler_;
  executor_.Submit([this, alive, scheduler, copy = std::move(copy), n = std::move(n), via] {
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
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    RequestPump();
    return;
  }
  OutboxItem& item = it->second;

  if (result.outcome != DeliveryResult::Outcome::kRetry) {
    // Any answer that is not a failure to answer means the provider is up.
    ps.consecutive_failures = 0;
    ps.failing_since.reset();
    ps.blocked_until = {};
  }
  switch (result.outcome) {
    case DeliveryResult::Outcome::kOk: {
      if (via != item.original_channel)
        routes_[item.request.incident_id].insert_or_assign(item.original_channel, via);
      OutboxItem done = std::move(item);
      pending_.erase(it);
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
      if (now - item.created_at >= config_.give_up_after) {
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
      item.attempts++;
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
      GiveUp(item, via, result.status, result.detail, now);
      break;
  }
  UpdateQueueDepth();
  RequestPump();
}

void Outbox::GiveUp(const OutboxItem& item, Channel via, int status, const std::string& why,
                    TimePoint now) {
  OutboxItem failed = item;
  pending_.erase(item.id);
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
  r.outcome = outcome;
  r.status = result.status;
  r.provider_ref = log::Redact(result.provider_ref);
  r.detail = log::Redact(result.detail);
  r.retry_in = retry_in;
  r.at = now;
  observer_->OnDelivery(r);
}

}  // namespace tocsin::notify
