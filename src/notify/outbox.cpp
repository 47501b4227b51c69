#include "notify/outbox.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "tocsin/common/log.h"

namespace tocsin::notify {

using incident::Channel;
using incident::PageAction;
using incident::PageRequest;

namespace {

std::string ProviderTitle(Channel c) {
  switch (c) {
    case Channel::kPagerDuty:
      return "PagerDuty";
    case Channel::kOpsgenie:
      return "Opsgenie";
    case Channel::kSlack:
      return "Slack";
    case Channel::kEmail:
      return "E-mail";
    case Channel::kWebhook:
      return "Webhook";
  }
  return "?";
}

// The roster field a channel needs to reach a person (see incident::ChannelReaches).
std::string_view IdentityField(Channel c) {
  switch (c) {
    case Channel::kPagerDuty:
      return "pagerduty_user_id";
    case Channel::kOpsgenie:
      return "opsgenie_username";
    case Channel::kSlack:
      return "slack_user_id";
    case Channel::kEmail:
      return "email";
    case Channel::kWebhook:
      return "";
  }
  return "";
}

std::string FormatDelay(Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 120) return fmt::format("{}s", s);
  return fmt::format("{}m{}s", s / 60, s % 60);
}

}  // namespace

Outbox::Outbox(OutboxStore& store, Scheduler& scheduler, Executor& executor,
               prometheus::Registry* registry, std::uint64_t jitter_seed)
    : store_(store),
      scheduler_(scheduler),
      executor_(executor),
      rng_(jitter_seed != 0 ? jitter_seed : std::random_device{}()) {
  if (registry) {
    deliveries_ = &prometheus::BuildCounter()
                       .Name("tocsin_notify_deliveries_total")
                       .Help("Delivery attempts by provider and result (ok, retry, permanent).")
                       .Register(*registry);
    latency_ = &prometheus::BuildHistogram()
                    .Name("tocsin_notify_delivery_duration_seconds")
                    .Help("Time of one delivery attempt to a provider.")
                    .Register(*registry);
    depth_ = &prometheus::BuildGauge()
                  .Name("tocsin_notify_queue_depth")
                  .Help("Outbox items not yet delivered, by provider the route named.")
                  .Register(*registry);
    write_failures_ = &prometheus::BuildCounter()
                           .Name("tocsin_outbox_write_failures_total")
                           .Help(
                               "Pages the outbox could not write to the database (the incident "
                               "side retries them until they are queued), by action.")
                           .Register(*registry);
    unroutable_ = &prometheus::BuildCounter()
                       .Name("tocsin_pages_unroutable_total")
                       .Help(
                           "Targets of a page that no configured channel of the step can reach "
                           "(not paged), by role.")
                       .Register(*registry);
  }
}

Outbox::~Outbox() { Close(); }

void Outbox::Stop() {
  stopped_ = true;
  CancelTimers();
}

void Outbox::Close() {
  *alive_ = false;
  CancelTimers();
}

void Outbox::CancelTimers() {
  if (wake_) scheduler_.Cancel(wake_->second);
  wake_.reset();
  if (prune_timer_) scheduler_.Cancel(*prune_timer_);
  prune_timer_.reset();
  for (auto& [c, ps] : providers_) {
    if (ps.probe_timer) scheduler_.Cancel(*ps.probe_timer);
    ps.probe_timer.reset();
  }
}

Result<void> Outbox::Open() {
  if (auto m = store_.Migrate(); !m) return m;
  auto pending = store_.LoadPending();
  if (!pending) return Fail(pending.error());
  for (auto& item : *pending) pending_[item.id] = std::move(item);
  auto routes = store_.Routes();
  if (!routes) return Fail(routes.error());
  routes_ = std::move(*routes);
  if (!pending_.empty()) {
    spdlog::info("outbox: {} deliveries left pending by the previous run, resuming",
                 pending_.size());
  }
  UpdateQueueDepth();
  RequestPump();
  SchedulePrune(std::chrono::minutes(1));
  return {};
}

void Outbox::SchedulePrune(Duration after) {
  if (stopped_) return;
  std::weak_ptr<bool> alive = alive_;
  prune_timer_ = scheduler_.ScheduleAfter(after, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    prune_timer_.reset();
    auto pruned = store_.Prune(scheduler_.clock().Now() - config_.retention);
    if (!pruned) {
      spdlog::warn("outbox: pruning old rows failed: {}", pruned.error().message());
    } else if (*pruned > 0) {
      spdlog::info("outbox: pruned {} delivered rows older than the retention", *pruned);
    }
    SchedulePrune(std::chrono::hours(6));
  });
}

void Outbox::Configure(NotifierSet notifiers, NotifyConfig config) {
  notifiers_ = std::move(notifiers);
  config_ = std::move(config);
  configured_ = true;
  for (auto& [c, ps] : providers_) {
    auto alt = config_.FailoverFor(c);
    if (ps.failed_over && (!alt || !notifiers_.Has(*alt))) ps.failed_over = false;
    // A provider no longer configured, or no longer failed over, needs no probe.
    if (ps.probe_timer && (!ps.failed_over || !notifiers_.Has(c))) {
      scheduler_.Cancel(*ps.probe_timer);
      ps.probe_timer.reset();
    }
  }
  RequestPump();
}

bool Outbox::failed_over(Channel c) const {
  auto it = providers_.find(c);
  return it != providers_.end() && it->second.failed_over;
}

// --- planning -----------------------------------------------------------------------------

std::vector<OutboxItem> Outbox::Plan(const PageRequest& r, TimePoint now,
                                     incident::PageReceipt* receipt) const {
  std::vector<OutboxItem> items;
  auto add = [&](Channel c, std::string kind, std::vector<std::string> people = {},
                 std::string target = {}, std::string person = {}, std::string coalesce = {}) {
    OutboxItem item;
    item.channel = c;
    item.original_channel = c;
    // Acks and resolves follow the trigger to where it was delivered (after a fail-over).
    if (auto it = routes_.find(r.incident_id); it != routes_.end()) {
      if (auto jt = it->second.find(c); jt != it->second.end()) item.channel = jt->second;
    }
    item.kind = std::move(kind);
    item.target = std::move(target);
    item.person_id = std::move(person);
    item.coalesce_key = std::move(coalesce);
    item.created_at = now;
    item.next_attempt_at = now;
    item.request = r;
    receipt->queued.push_back({c, item.kind, item.person_id, std::move(people)});
    items.push_back(std::move(item));
  };
  bool slack = notifiers_.Has(Channel::kSlack);
  std::string update_key = "slack-update:" + r.incident_id;
  auto used = [&](Channel c) {
    auto it = routes_.find(r.incident_id);
    return it != routes_.end() && it->second.count(c) > 0;
  };

  switch (r.action) {
    case PageAction::kTrigger: {
      // The first channel of the step that is configured and can reach the person is theirs.
      std::map<Channel, std::vector<std::string>> reached;
      std::vector<const incident::PageTarget*> by_email;
      // The same request with each target's fate, for the Slack message and thread.
      PageRequest told = r;
      for (std::size_t i = 0; i < r.targets.size(); ++i) {
        const auto& t = r.targets[i];
        std::optional<Channel> chosen;
        std::string why;
        for (Channel c : t.channels) {
          if (!notifiers_.Has(c)) {
            why += fmt::format("{}{} is not configured", why.empty() ? "" : "; ",
                               incident::ChannelName(c));
          } else if (!incident::ChannelReaches(c, t.person)) {
            why += fmt::format("{}{}: the roster has no {} for {}", why.empty() ? "" : "; ",
                               incident::ChannelName(c), IdentityField(c), t.person.id);
          } else {
            chosen = c;
            break;
          }
        }
        told.targets[i].paged_via = chosen;
        told.targets[i].unroutable = !chosen;
        if (!chosen) {
          receipt->unroutable.push_back(
              {t.person.id, t.role, why.empty() ? "the step names no channel" : why});
          continue;
        }
        if (*chosen == Channel::kEmail) {
          by_email.push_back(&t);
        } else {
          reached[*chosen].push_back(t.person.id);
        }
      }
      for (Channel c : {Channel::kPagerDuty, Channel::kOpsgenie, Channel::kWebhook}) {
        if (auto it = reached.find(c); it != reached.end()) add(c, "page", it->second);
      }
      for (const auto* t : by_email) {
        add(Channel::kEmail, "page", {t->person.id}, t->person.email, t->person.id);
      }
      if (slack) {
        // The incident message (or, for later steps, the thread reply) mentions whoever Slack
        // reaches; the update of the message reaches nobody by itself.
        std::vector<std::string> mentioned = reached[Channel::kSlack];
        std::size_t first = items.size();
        if (r.step == 0 && !used(Channel::kSlack)) {
          add(Channel::kSlack, "post", mentioned);
        } else {
          add(Channel::kSlack, "update", {}, {}, {}, update_key);
          add(Channel::kSlack, "thread", mentioned);
        }
        for (std::size_t i = first; i < items.size(); ++i) items[i].request.targets = told.targets;
      }
      break;
    }
    case PageAction::kAcknowledge:
    case PageAction::kResolve:
      for (Channel c : {Channel::kPagerDuty, Channel::kOpsgenie, Channel::kWebhook}) {
        // The provider the action came from already has it; a mirror would echo back.
        if (used(c) && !CameFrom(r, c)) add(c, "page");
      }
      if (slack) {
        add(Channel::kSlack, "update", {}, {}, {}, update_key);
        add(Channel::kSlack, "thread");
      }
      break;
    case PageAction::kUpdate:
      if (slack) add(Channel::kSlack, "update", {}, {}, {}, update_key);
      break;
    case PageAction::kNote:
      if (used(Channel::kOpsgenie) && !CameFrom(r, Channel::kOpsgenie)) {
        add(Channel::kOpsgenie, "page");
      }
      if (slack) add(Channel::kSlack, "thread");
      break;
    case PageAction::kReminder:
      if (slack) add(Channel::kSlack, "thread");
      break;
  }
  return items;
}

bool Outbox::CameFrom(const PageRequest& r, Channel c) {
  return (c == Channel::kPagerDuty && r.origin == incident::kOriginPagerDuty) ||
         (c == Channel::kOpsgenie && r.origin == incident::kOriginOpsgenie);
}

Result<incident::PageReceipt> Outbox::Send(const PageRequest& request) {
  TimePoint now = scheduler_.clock().Now();
  incident::PageReceipt receipt;
  auto items = Plan(request, now, &receipt);
  if (!items.empty()) {
    if (auto stored = Store(std::move(items)); !stored) {
      if (write_failures_) {
        write_failures_->Add({{"action", std::string(incident::PageActionName(request.action))}})
            .Increment();
      }
      return Fail(stored.error());
    }
  } else if (receipt.unroutable.empty()) {
    spdlog::warn("outbox: {} {} reaches no configured provider", request.incident_id,
                 incident::PageActionName(request.action));
  }
  for (const auto& u : receipt.unroutable) {
    spdlog::error(
        "outbox: {} step {}: {} ({}) is not paged: no configured channel reaches them "
        "({})",
        request.incident_id, request.step + 1, u.person_id, u.role, u.reason);
    if (unroutable_) unroutable_->Add({{"role", u.role}}).Increment();
  }
  if (observer_ && incident::IsProviderOrigin(request.origin)) {
    // Say in the timeline why the provider the action came from got nothing.
    Channel from =
        request.origin == incident::kOriginPagerDuty ? Channel::kPagerDuty : Channel::kOpsgenie;
    incident::DeliveryReport skipped;
    skipped.incident_id = request.incident_id;
    skipped.idempotency_key = request.idempotency_key;
    skipped.channel = from;
    skipped.original_channel = from;
    skipped.kind = "page";
    skipped.outcome = incident::DeliveryOutcome::kSkipped;
    skipped.detail = "the " + std::string(incident::PageActionName(request.action)) +
                     " came from " + request.origin;
    skipped.at = now;
    // Reported on the next loop turn: the incident side is still inside its own transition.
    std::weak_ptr<bool> alive = alive_;
    scheduler_.Post([this, alive, skipped] {
      if (auto a = alive.lock(); !a || !*a) return;
      if (observer_) observer_->OnDelivery(skipped);
    });
  }
  return receipt;
}

void Outbox::Enqueue(Channel channel, std::string kind, std::string target, PageRequest request) {
  OutboxItem item;
  item.channel = channel;
  item.original_channel = channel;
  item.kind = std::move(kind);
  item.target = std::move(target);
  item.created_at = scheduler_.clock().Now();
  item.next_attempt_at = item.created_at;
  item.request = std::move(request);
  const std::string what = item.kind;
  if (auto stored = Store({std::move(item)}); !stored) {
    // Notices and group notices have no intent behind them that could retry: said loudly.
    spdlog::critical("outbox: cannot write a {} {} to the database, it is lost: {}",
                     incident::ChannelName(channel), what, stored.error().message());
    if (write_failures_) write_failures_->Add({{"action", "notice"}}).Increment();
  }
}

void Outbox::NoticeToSlack(const std::string& about, const std::string& text) {
  spdlog::warn("notice: {}", text);
  if (!notifiers_.Has(Channel::kSlack)) return;
  PageRequest r;
  r.incident_id = about;
  r.idempotency_key =
      fmt::format("notice/{}/{}/{}", about, ToUnixMillis(scheduler_.clock().Now()), Fnv1a64(text));
  r.action = PageAction::kNote;
  r.title = "tocsin notice";
  r.text = text;
  r.at = scheduler_.clock().Now();
  Enqueue(Channel::kSlack, "notice", "", std::move(r));
}

Result<void> Outbox::Store(std::vector<OutboxItem> items) {
  // Coalescing: a pending update not yet on its way is superseded by the newer one. The same
  // request sent again (a retry, a restart) is not newer: it must not supersede itself.
  std::vector<std::int64_t> supersede;
  for (const auto& item : items) {
    if (item.coalesce_key.empty()) continue;
    for (const auto& [id, p] : pending_) {
      if (p.coalesce_key == item.coalesce_key && !in_flight_.count(id) &&
          p.request.idempotency_key != item.request.idempotency_key) {
        supersede.push_back(id);
      }
    }
  }
  auto inserted = store_.Insert(std::move(items), supersede);
  if (!inserted) {
    // Nothing durable was written; the caller keeps the request and tries again.
    spdlog::error("outbox: cannot write deliveries to the database: {}",
                  inserted.error().message());
    return Fail(inserted.error());
  }
  // As in the store: only a new update (not a duplicate skipped) supersedes pending ones.
  if (std::any_of(inserted->begin(), inserted->end(),
                  [](const OutboxItem& i) { return !i.coalesce_key.empty(); })) {
    for (auto id : supersede) pending_.erase(id);
  }
  for (auto& item : *inserted) {
    routes_[item.request.incident_id].emplace(item.original_channel, item.channel);
    pending_[item.id] = std::move(item);
  }
  UpdateQueueDepth();
  RequestPump();
  return {};
}

// --- sending --------------------------------------------------------------------------------

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
    if (in_flight_.count(id)) continue;
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
      if (auto w = store_.MarkSent(id, via, now, result.status, result.detail); !w) {
        // Stays pending in the database: a restart re-sends it, harmless by idempotency key.
        spdlog::error("outbox: item {} delivered but not marked sent: {}", id, w.error().message());
      }
      if (via != item.original_channel)
        routes_[item.request.incident_id][item.original_channel] = via;
      OutboxItem done = std::move(item);
      pending_.erase(it);
      spdlog::info("outbox: {} {} delivered via {}{}", done.request.incident_id,
                   incident::PageActionName(done.request.action), provider,
                   via != done.original_channel ? " (fail-over)" : "");
      Report(done, via, incident::DeliveryOutcome::kSent, result, now);
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
      (void)store_.MarkRetry(id, item.attempts, now + delay, result.status, result.detail);
      spdlog::warn("outbox: {} {} via {} failed ({}), retrying in {}", item.request.incident_id,
                   incident::PageActionName(item.request.action), provider, result.detail,
                   FormatDelay(delay));
      Report(item, via, incident::DeliveryOutcome::kRetrying, result, now, delay);
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
  (void)store_.MarkFailed(item.id, via, now, status, why);
  OutboxItem failed = item;
  pending_.erase(item.id);
  spdlog::error("outbox: {} {} via {} failed permanently: {}", failed.request.incident_id,
                incident::PageActionName(failed.request.action), incident::ChannelName(via), why);
  DeliveryResult answer = DeliveryResult::Permanent(status, why);
  Report(failed, via, incident::DeliveryOutcome::kFailed, answer, now);
  // A notice that failed is not announced with another notice (it would loop).
  if (failed.kind != "notice" && via != Channel::kSlack) {
    NoticeToSlack(
        failed.request.incident_id,
        fmt::format(":rotating_light: {} {} could not be delivered through {} and will "
                    "not be retried: {}. Reach the on-call another way.",
                    failed.request.incident_id, incident::PageActionName(failed.request.action),
                    ProviderTitle(via), why));
  }
  UpdateQueueDepth();
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

void Outbox::CheckFailover(Channel c, TimePoint now) {
  auto& ps = providers_[c];
  if (ps.failed_over || !ps.failing_since) return;
  if (*ps.failing_since + config_.failover_after > now) return;
  auto alt = config_.FailoverFor(c);
  if (!alt || !notifiers_.Has(*alt) || failed_over(*alt)) return;
  ps.failed_over = true;
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
        NoticeToSlack("tocsin", fmt::format(":white_check_mark: {} answers again: new pages go "
                                            "through {} again.",
                                            ProviderTitle(c), ProviderTitle(c)));
        RequestPump();
      });
    });
  });
}

void Outbox::UpdateQueueDepth() {
  if (!depth_) return;
  std::map<Channel, int> counts;
  for (Channel c : {Channel::kPagerDuty, Channel::kOpsgenie, Channel::kSlack, Channel::kEmail,
                    Channel::kWebhook}) {
    counts[c] = 0;
  }
  for (const auto& [id, item] : pending_) counts[item.original_channel]++;
  for (const auto& [c, n] : counts) {
    depth_->Add({{"provider", std::string(incident::ChannelName(c))}}).Set(n);
  }
}

}  // namespace tocsin::notify
