#include "notify/outbox.h"

#include <algorithm>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "notify/provider_registry.h"

namespace tocsin::notify {

using incident::Channel;
using incident::PageAction;
using incident::PageRequest;

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
  // Routes first: they say which lane each loaded item waits in.
  delivered_.clear();
  auto routes = store_.LoadRoutes(delivered_);
  if (!routes) return Fail(routes.error());
  routes_ = std::move(*routes);
  auto pending = store_.LoadPending();
  if (!pending) return Fail(pending.error());
  for (auto& item : *pending) {
    NoteClosing(item.request.incident_id, item.request.action, item.request.at);
    NoteUpdate(item);
    queue_.Add(std::move(item));
  }
  // The acknowledges and resolves of those incidents (and of those with a page the incident
  // side will hand over again), queued or not (one made in a provider's app may queue
  // nothing), from the incident store: a page (or message update) the previous run withdrew
  // but could not mark so, or was stopped before marking, is withdrawn again by the pump, and
  // one handed over again is withdrawn as it lands, not sent. Not reading them costs at worst
  // a stale page; not starting would cost every page.
  if (auto closings = store_.LoadClosings(); !closings) {
    spdlog::error(
        "outbox: cannot read the acknowledges and resolves of incidents with deliveries "
        "pending; one withdrawn before the restart may be sent: {}",
        closings.error().message());
  } else {
    for (const auto& c : *closings) NoteClosing(c.incident_id, c.action, c.at);
  }
  if (queue_.size() > 0) {
    spdlog::info("outbox: {} deliveries left pending by the previous run, resuming", queue_.size());
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
    ForgetRoutes(scheduler_.clock().Now() - config_.retention);
    store_.Prune(scheduler_.clock().Now() - config_.retention, [](Result<std::int64_t> pruned) {
      if (!pruned) {
        spdlog::warn("outbox: pruning old rows failed: {}", pruned.error().message());
      } else if (*pruned > 0) {
        spdlog::info("outbox: pruned {} delivered rows older than the retention", *pruned);
      }
    });
    SchedulePrune(std::chrono::hours(6));
  });
}

void Outbox::ForgetRoutes(TimePoint before) {
  std::set<std::string> held;  // parked closings, closings to write, triggers being written
  for (const auto& [c, items] : parked_) {
    for (const auto& item : items) held.insert(item.request.incident_id);
  }
  for (const auto& item : closings_due_) held.insert(item.request.incident_id);
  for (const auto& [key, writes] : trigger_writes_) held.insert(key.first);
  std::erase_if(resolved_at_, [&](const auto& entry) {
    const auto& [id, at] = entry;
    if (at >= before || held.count(id) || !queue_.IdsOfIncident(id).empty()) return false;
    routes_.erase(id);
    delivered_.erase(id);
    return true;
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
  Unpark(std::nullopt);  // the pump parks again those whose provider is still failed over
  queue_.RelaneAll();    // other notifiers, other fail-over partners, other buckets
  RequestPump();
}

bool Outbox::failed_over(Channel c) const {
  auto it = providers_.find(c);
  return it != providers_.end() && it->second.failed_over;
}

void Outbox::Send(const PageRequest& request, SendDone done) {
  SendPlanned(request, false, std::move(done));
}

void Outbox::SendOnceDecided(const PageRequest& request, SendDone done) {
  SendPlanned(request, true, std::move(done));
}

void Outbox::SendPlanned(const PageRequest& request, bool once_decided, SendDone done) {
  const TimePoint now = scheduler_.clock().Now();
  if (request.action == PageAction::kTrigger) {
    if (auto it = resolved_at_.find(request.incident_id);
        it != resolved_at_.end() && request.at > it->second) {
      resolved_at_.erase(it);  // reopened
    }
  }
  incident::PageReceipt receipt;
  auto items = Plan(request, now, &receipt);
  // Nothing to write, and the intent is durable: answered now. Once decided, the empty write
  // still asks the store whether the intent is recorded, and answers after it.
  if (items.empty() && !once_decided) {
    Accepted(request, receipt, now);
    if (done) done(std::move(receipt));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  auto stored_then = [this, alive, request, receipt = std::move(receipt), now, once_decided,
                      done = std::move(done)](Result<void> stored) mutable {
    if (auto a = alive.lock(); !a || !*a) return;
    if (!stored && once_decided) {
      // Neither logged nor counted here: whether it is written again (its change is durable)
      // or dropped (its change failed, so the intent was missing) is the caller's to say and
      // do, and a failure of that second write is counted then.
      spdlog::debug("outbox: {} {} not written with its change: {}", request.incident_id,
                    request.idempotency_key, stored.error().ToString());
      if (done) done(Fail(stored.error()));
      return;
    }
    if (!stored) {
      if (write_failures_) {
        write_failures_->Add({{"action", std::string(incident::PageActionName(request.action))}})
            .Increment();
      }
      if (done) done(Fail(stored.error()));
      return;
    }
    // On the next loop turn: the pump this write requested runs first, so the provider
    // request is on its way before the caller records what was queued (and before the
    // delivery reports Accepted posts, as when it answered at once).
    if (done) {
      scheduler_.Post([alive, done = std::move(done), receipt]() mutable {
        if (auto a = alive.lock(); !a || !*a) return;
        done(std::move(receipt));
      });
    }
    Accepted(request, receipt, now);
  };
  Store(std::move(items), std::move(stored_then),
        once_decided ? request.idempotency_key : std::string());
}

void Outbox::Accepted(const PageRequest& request, const incident::PageReceipt& receipt,
                      TimePoint now) {
  // Durable (its change, and what it queued): an acknowledge or resolve makes the incident's
  // triggers decided before it stale, also when it queued nothing (acknowledged in the
  // provider's app, with no Slack to update).
  NoteClosing(request.incident_id, request.action, request.at);
  if (request.action == PageAction::kResolve) {
    auto [it, added] = resolved_at_.try_emplace(request.incident_id, request.at);
    if (!added && it->second < request.at) it->second = request.at;
  }
  if (receipt.queued.empty() && receipt.unroutable.empty()) {
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
  const ProviderSpec* origin = nullptr;
  for (const auto& p : Providers()) {
    if (!p.origin.empty() && p.origin == request.origin) origin = &p;
  }
  if (observer_ && origin) {
    // Say in the timeline why the provider the action came from got nothing.
    Channel from = origin->channel;
    incident::DeliveryReport skipped;
    skipped.incident_id = request.incident_id;
    skipped.idempotency_key = request.idempotency_key;
    skipped.channel = from;
    skipped.original_channel = from;
    skipped.kind = "page";
    skipped.action = request.action;
    skipped.outcome = incident::DeliveryOutcome::kSkipped;
    skipped.detail = "the " + std::string(incident::PageActionName(request.action)) +
                     " came from " + request.origin;
    skipped.at = now;
    // Reported on the next loop turn: the incident side may still be inside its own transition
    // (the store completes at once when it has no writer thread).
    std::weak_ptr<bool> alive = alive_;
    scheduler_.Post([this, alive, skipped] {
      if (auto a = alive.lock(); !a || !*a) return;
      if (observer_) observer_->OnDelivery(skipped);
    });
  }
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
  std::string what = item.kind;
  std::weak_ptr<bool> alive = alive_;
  Store({std::move(item)}, [this, alive, channel, what](Result<void> stored) {
    if (stored) return;
    // Notices and group notices have no intent behind them that could retry: said loudly.
    spdlog::critical("outbox: cannot write a {} {} to the database, it is lost: {}",
                     incident::ChannelName(channel), what, stored.error().message());
    if (auto a = alive.lock(); a && *a && write_failures_) {
      write_failures_->Add({{"action", "notice"}}).Increment();
    }
  });
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

void Outbox::Store(std::vector<OutboxItem> items, std::function<void(Result<void>)> then,
                   std::string intent_key) {
  // Coalescing: a pending update not yet on its way is superseded by the newer one. The same
  // request sent again (a retry, a restart) is not newer: it must not supersede itself.
  std::vector<std::int64_t> supersede;
  for (const auto& item : items) {
    if (item.coalesce_key.empty()) continue;
    const auto* same = queue_.WithCoalesceKey(item.coalesce_key);
    if (!same) continue;
    for (auto id : *same) {
      const OutboxItem* p = queue_.Find(id);
      // Nor is one decided earlier (a write retried after a database error): the pending
      // update shows the newer state and stays; the late one is withdrawn once written.
      if (p && !in_flight_.count(id) &&
          p->request.idempotency_key != item.request.idempotency_key &&
          p->request.at <= item.request.at) {
        supersede.push_back(id);
      }
    }
  }
  // An acknowledge or resolve withdraws the incident's triggers that have not gone out (queued
  // while a provider was down, a later step's trigger would wake its L2 after the incident was
  // resolved): those that call on someone (WakesSomeone) are superseded by this write, and the
  // timeline says they were not sent and why.
  std::vector<std::pair<OutboxItem, PageAction>> withdrawn;  // and what withdrew it
  for (const auto& item : items) {
    const auto action = item.request.action;
    if (action != PageAction::kAcknowledge && action != PageAction::kResolve) continue;
    for (auto id : queue_.IdsOfIncident(item.request.incident_id)) {
      const OutboxItem* p = queue_.Find(id);
      // Only what was decided before it: a trigger of the incident reopened (or of its ladder
      // resumed) after the resolve or ack was decided is news, even if this write lands later
      // (a write retried after a failure).
      if (!p || p->request.action != PageAction::kTrigger || in_flight_.count(id) ||
          !WakesSomeone(*p) || p->request.at > item.request.at ||
          std::count(supersede.begin(), supersede.end(), id)) {
        continue;
      }
      supersede.push_back(id);
      withdrawn.emplace_back(*p, action);
    }
    break;  // the items of one request are of one incident
  }
  // Until the write has answered, the pump leaves them be: sending one now would make the row
  // the write marks "superseded" a delivery that did happen.
  superseding_.insert(supersede.begin(), supersede.end());
  // A trigger being written is on its way too (TriggerGoing), though not queued yet.
  std::set<std::pair<std::string, Channel>> triggers;
  for (const auto& item : items) {
    if (item.kind == "page" && item.request.action == PageAction::kTrigger) {
      triggers.emplace(item.request.incident_id, item.original_channel);
    }
  }
  for (const auto& t : triggers) trigger_writes_[t]++;
  std::weak_ptr<bool> alive = alive_;
  auto inserted_then = [this, alive, supersede, triggers, withdrawn = std::move(withdrawn),
                        once_decided = !intent_key.empty(),
                        then = std::move(then)](Result<std::vector<OutboxItem>> inserted) {
    if (auto a = alive.lock(); !a || !*a) return;
    for (auto id : supersede) {
      if (auto it = superseding_.find(id); it != superseding_.end()) superseding_.erase(it);
    }
    for (const auto& t : triggers) {
      if (auto it = trigger_writes_.find(t); it != trigger_writes_.end() && --it->second <= 0) {
        trigger_writes_.erase(it);
      }
    }
    if (!inserted) {
      // Nothing durable was written; the caller keeps the request and tries again (once
      // decided, the caller says whether: see SendPlanned).
      if (!once_decided) {
        spdlog::error("outbox: cannot write deliveries to the database: {}",
                      inserted.error().message());
      }
      RequestPump();  // the items it would have superseded go on
      then(Fail(inserted.error()));
      return;
    }
    // As in the store: only a new update, acknowledge or resolve (not a duplicate skipped)
    // supersedes pending ones.
    if (std::any_of(inserted->begin(), inserted->end(), SupersedesPending)) {
      for (auto id : supersede) queue_.Remove(id);
      const TimePoint at = scheduler_.clock().Now();
      for (const auto& [w, by] : withdrawn) {
        DeliveryResult why;
        why.detail = WithdrawnDetail(w.request.incident_id, by);
        Report(w, EffectiveChannel(w), incident::DeliveryOutcome::kSkipped, why, at);
      }
    }
    // Written late (a write retried after a database error) behind its incident's
    // acknowledge or resolve: a stale trigger's pages are withdrawn at once, as they would have
    // been had they been queued, and with them its war-room lines ("Step 2: paging L2", the
    // message showing it), untrue once its pages are not sent. The incident's first message
    // stays: later updates edit it.
    std::map<std::string, PageAction> stale_requests;
    for (const auto& item : *inserted) {
      if (auto by = StaleBy(item)) stale_requests.emplace(item.request.idempotency_key, *by);
    }
    std::vector<std::pair<std::int64_t, PageAction>> stale;
    std::vector<std::int64_t> outdated;
    for (auto& item : *inserted) {
      auto request_stale = stale_requests.find(item.request.idempotency_key);
      if (request_stale != stale_requests.end() && item.kind != "post") {
        stale.emplace_back(item.id, request_stale->second);
      } else if (OutdatedUpdate(item)) {
        outdated.push_back(item.id);
      } else {
        NoteUpdate(item);
      }
      if (item.kind != "closing") {
        SetRoute(item.request.incident_id, item.original_channel, item.channel, false);
      }
      queue_.Add(std::move(item));
    }
    const TimePoint now = scheduler_.clock().Now();
    for (const auto& [id, by] : stale) {
      if (const OutboxItem* item = queue_.Find(id)) {
        Withdraw(*item, EffectiveChannel(*item), by, now);
      }
    }
    for (auto id : outdated) {
      if (const OutboxItem* item = queue_.Find(id)) Outdated(*item, now);
    }
    UpdateQueueDepth();
    RequestPump();
    then({});
  };
  if (intent_key.empty()) {
    store_.Insert(std::move(items), std::move(supersede), std::move(inserted_then));
  } else {
    store_.InsertIfDecided(std::move(intent_key), std::move(items), std::move(supersede),
                           std::move(inserted_then));
  }
}

void Outbox::UpdateQueueDepth() {
  if (!depth_) return;
  std::map<Channel, int> counts;
  for (const auto& p : Providers()) counts[p.channel] = 0;
  for (const auto& [c, n] : queue_.depth()) counts[c] = static_cast<int>(n);
  for (const auto& [c, items] : parked_) counts[c] += static_cast<int>(items.size());
  for (const auto& [c, n] : counts) {
    auto [it, added] = depth_gauges_.try_emplace(c, nullptr);
    if (added) it->second = &depth_->Add({{"provider", std::string(incident::ChannelName(c))}});
    it->second->Set(n);
  }
}

}  // namespace tocsin::notify
