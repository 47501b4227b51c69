#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "notify/outbox_queue.h"
#include "notify/rate_limiter.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/incident/page.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/notify_config.h"
#include "tocsin/notify/outbox_store.h"
#include "tocsin/oncall/person.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace tocsin::notify {

// The providers configured now; rebuilt on every reload.
struct NotifierSet {
  std::map<incident::Channel, std::shared_ptr<Notifier>> notifiers;
  bool Has(incident::Channel c) const { return notifiers.count(c) > 0; }
  // Those with a heartbeat of their own to ping (Notifier::HasHeartbeat).
  std::vector<std::shared_ptr<Notifier>> WithHeartbeat() const {
    std::vector<std::shared_ptr<Notifier>> out;
    for (const auto& [c, n] : notifiers) {
      if (n->HasHeartbeat()) out.push_back(n);
    }
    return out;
  }
};

// The durable outbox and its sender: the notify module's Pager. Its work is split by job:
// outbox.cpp (lifecycle, Send, storing), outbox_plan.cpp (what a request becomes),
// outbox_sender.cpp (pump, delivery, results), outbox_failover.cpp (fail-over and probes),
// outbox_stale.cpp (what an acknowledge or resolve withdraws).
//
// Pending items live in an OutboxQueue (outbox_queue.h) indexed by lane (provider and rate
// bucket) and due time, so a pass of the pump costs what it sends plus one look per lane.
//
// Send() plans the deliveries of a PageRequest (one per provider, one e-mail per person, Slack
// post / update / thread reply) and hands them to the OutboxStore, which writes them on the
// store thread; the event loop never waits for that write. Only once it is durable do the items
// join the queue and does Send's completion report them accepted; a failed write reports the
// error and queues nothing. A sender driven by the Scheduler picks due items in id order and
// runs each delivery on the Executor; the result comes back through Scheduler::Post, is written
// (sent / retry / failed), and is reported to the DeliveryObserver once that write has
// completed. Between a provider's 2xx and that write lies the only at-least-once window: a
// crash there re-sends the item after restart, which the provider folds into the same alert
// (PagerDuty dedup_key, Opsgenie alias) and Slack sees as an update of the stored message.
//
// Order: items of one (provider, incident) go one at a time in id order, so an acknowledge
// never overtakes its trigger. Failures: a transient error blocks that provider for an
// exponential backoff with jitter (or Retry-After) and then one item probes it; a provider
// failing (not merely throttled) for `failover_after` fails over to its partner (PagerDuty <->
// Opsgenie) with a notice in Slack, and its queue replays in order through the partner; it
// is probed every `probe_interval` and taken back when it answers. When the partner is down
// too (or there is none), the person in `last_resort_role` is called through Twilio for every
// trigger stuck there (outbox_last_resort.cpp). Rate limits: rolling
// windows per provider bucket (NotifyConfig). Coalescing: a new item with the coalesce key of
// a pending one decided no later supersedes it; one decided earlier than an update queued or
// sent is itself dropped. Permanent errors, and transient ones older than
// `give_up_after`, are reported as failed (DeliveryOutcome::kFailed) and announced in Slack.
// Timers (wake-ups, probes, pruning) are cancelled by Stop() and Close(); every callback and
// every posted result and store completion checks `alive_`, so nothing runs into a destroyed
// outbox.
//
// Thread-safety: loop thread only (Send, Enqueue, Configure); deliveries run on the Executor,
// writes on the store's thread.
class Outbox final : public incident::Pager {
 public:
  Outbox(OutboxStore& store, Scheduler& scheduler, Executor& executor,
         prometheus::Registry* registry = nullptr, std::uint64_t jitter_seed = 0);
  ~Outbox() override;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Migrates the tables and loads what a previous run left pending.
  Result<void> Open();
  // Installs providers and settings (start and every reload). Pending items stay queued.
  void Configure(NotifierSet notifiers, NotifyConfig config);
  void SetObserver(incident::DeliveryObserver* observer) { observer_ = observer; }
  // Who holds `role` now (the roster), for the call of last resort; unset: no such call.
  using OnCallLookup =
      std::function<std::vector<oncall::Person>(const std::string& role, TimePoint now)>;
  void SetOnCallLookup(OnCallLookup lookup) { on_call_ = std::move(lookup); }
  // High availability: asked on the delivery's worker right before each provider request
  // (any thread); when it says no, nothing is sent and the item stays pending in the database
  // for the active instance. Unset: always send (one instance).
  void SetSendGate(std::function<bool()> may_send) { may_send_ = std::move(may_send); }

  // Plans the deliveries and writes them; `done` gets the receipt once they are durable, or an
  // error (and tocsin_outbox_write_failures_total) when the database refused them: nothing was
  // queued and the caller retries. Targets that no configured channel of their step reaches
  // are in the receipt (and tocsin_pages_unroutable_total), not paged. `done` may be empty.
  void Send(const incident::PageRequest& request, SendDone done) override;
  // The same, written only if the request's intent is recorded (OutboxStore::InsertIfDecided):
  // the daemon's incident store and outbox share the store thread. A failure is neither logged
  // as a write failure nor counted as one: the caller writes the page again with Send (counted
  // if that fails too) or drops it, its change having failed.
  void SendOnceDecided(const incident::PageRequest& request, SendDone done) override;
  // One item to one provider outside the incident flow (group notices, tocsin's own notices).
  void Enqueue(incident::Channel channel, std::string kind, std::string target,
               incident::PageRequest request);
  // A notice to Slack (or nowhere, logged, when Slack is not configured).
  void NoticeToSlack(const std::string& about, const std::string& text);

  // Deliveries not done: queued, on their way, or parked (waiting for a failed-over provider).
  std::size_t pending() const;
  // Items and lanes the pump has looked at since the start: its work, which grows with what
  // it sends, not with how many items wait (a test counts it).
  std::uint64_t pump_visits() const { return pump_visits_; }
  bool failed_over(incident::Channel c) const;
  // Shutdown begins: cancels every timer and sends nothing more; results still on their way
  // are recorded, and Send still writes durably (sent after the next start).
  void Stop();
  // Stops timers and ignores results still on their way (destruction).
  void Close();

 private:
  struct ProviderState {
    int consecutive_failures = 0;
    std::optional<TimePoint> failing_since;  // first non-throttling failure of this streak
    TimePoint blocked_until{};
    bool failed_over = false;
    bool probe_in_flight = false;
    std::optional<TimerId> probe_timer;
    int in_flight = 0;
    std::string last_detail;
  };

  std::vector<OutboxItem> Plan(const incident::PageRequest& request, TimePoint now,
                               incident::PageReceipt* receipt) const;
  void SendPlanned(const incident::PageRequest& request, bool once_decided, SendDone done);
  // Writes the items; once durable they join the queue and `then` gets ok, else the error.
  // With an intent key, only if that intent is recorded (OutboxStore::InsertIfDecided).
  void Store(std::vector<OutboxItem> items, std::function<void(Result<void>)> then,
             std::string intent_key = {});
  // Send's completion once its items are durable (or there were none).
  void Accepted(const incident::PageRequest& request, const incident::PageReceipt& receipt,
                TimePoint now);
  void CancelTimers();
  incident::Channel EffectiveChannel(const OutboxItem& item) const;
  // Where something of `incident_id` planned for `original` goes: where the incident's trigger
  // went (its route) and, with `now_failed_over`, the fail-over partner while `original` is
  // failed over. EffectiveChannel for an item still on its original channel; Plan for mirrors.
  incident::Channel Landing(const std::string& incident_id, incident::Channel original,
                            bool now_failed_over = true) const;
  // Whether a trigger of `incident_id` was delivered through `via` (delivered_).
  bool Delivered(const std::string& incident_id, incident::Channel via) const;
  // Whether a trigger of `incident_id` planned for `original` is on its way, or was decided
  // after `at`: an acknowledge or resolve decided at `at` does not withdraw it.
  bool TriggerGoing(const std::string& incident_id, incident::Channel original, TimePoint at) const;
  // Takes the "closing" heads waiting for a failed-over provider out of the queue (parked_),
  // so that the incident's later pages fail over instead of waiting behind them; Unpark
  // puts back those of `c` (every provider's when empty) once it answers again.
  void ParkClosings();
  // An acknowledge or resolve of an incident's line on its way through the partner `via`
  // (queued before its provider failed over, or written meanwhile): where that provider has a
  // page of the incident (also one accepted while it was failing), it gets its own copy, a
  // closing (Plan makes those decided while it is failed over). Queued after the pump's pass,
  // by QueueClosingsDue: a write may land at once and change the lanes the pass walks.
  void CloseWhereItWas(const OutboxItem& item, incident::Channel via);
  void QueueClosingsDue();
  void Unpark(std::optional<incident::Channel> c);
  Lane LaneFor(const OutboxItem& item) const;
  // Records where an original channel of an incident went; its queued items follow.
  void SetRoute(const std::string& incident_id, incident::Channel original, incident::Channel via,
                bool replace);
  void RequestPump();
  void Pump();
  void Dispatch(const OutboxItem& item, incident::Channel via, std::shared_ptr<Notifier> n);
  void OnResult(std::int64_t id, incident::Channel via, DeliveryResult result, double seconds);
  void GiveUp(const OutboxItem& item, incident::Channel via, int status, const std::string& why,
              TimePoint now);
  // A delivery that calls on people: a provider's page, an SMS, a call (the last resort's too).
  static bool WakesSomeone(const OutboxItem& item);
  // The timeline's reason for a delivery withdrawn by `by`; `attempt`: the failed attempt it
  // was on its way with.
  static std::string WithdrawnDetail(const std::string& incident_id, incident::PageAction by,
                                     const DeliveryResult* attempt = nullptr);
  // Remembers an acknowledge or resolve once it is durable (see closings_).
  void NoteClosing(const std::string& incident_id, incident::PageAction action, TimePoint at);
  // A trigger that calls on someone and that an acknowledge or resolve of its incident, decided
  // at or after it and stored, makes stale: the action that did; nothing otherwise.
  std::optional<incident::PageAction> StaleBy(const OutboxItem& item) const;
  // An update of the incident message decided before another update of it queued or sent
  // (see updates_), or before the incident's acknowledge or resolve; NoteUpdate records an
  // update as it joins the queue.
  bool OutdatedUpdate(const OutboxItem& item) const;
  void NoteUpdate(const OutboxItem& item);
  // Takes such an outdated update out of the queue: marked superseded, as coalescing does.
  void Outdated(const OutboxItem& item, TimePoint now);
  // Takes a stale trigger (StaleBy said `by`), or a war-room line of one written late, out of
  // the queue instead of sending, retrying or giving it up: marked superseded, reported as not
  // sent and why. `attempt`: the failed
  // attempt it was on its way with, if any.
  void Withdraw(const OutboxItem& item, incident::Channel via, incident::PageAction by,
                TimePoint now, const DeliveryResult* attempt = nullptr);
  void Report(const OutboxItem& item, incident::Channel via, incident::DeliveryOutcome outcome,
              const DeliveryResult& result, TimePoint now, Duration retry_in = Duration(0));
  void CheckFailover(incident::Channel c, TimePoint now);
  void ScheduleProbe(incident::Channel c);
  void CallLastResort(incident::Channel c, TimePoint now);  // outbox_last_resort.cpp
  void ScheduleWake(TimePoint at);
  Duration Backoff(int failures);
  void UpdateQueueDepth();
  void SchedulePrune(Duration after);
  // Forgets routes_ and delivered_ of the incidents resolved before `before` with nothing of
  // theirs queued, parked or being written: what a restart would no longer read once the
  // prune deleted their rows. An open incident's are kept however long it stays open (its
  // acknowledge and resolve go where its pages went).
  void ForgetRoutes(TimePoint before);
  static std::string FormatDelay(Duration d);  // "45s", "3m0s": in logs and notices

  OutboxStore& store_;
  Scheduler& scheduler_;
  Executor& executor_;
  incident::DeliveryObserver* observer_ = nullptr;
  NotifierSet notifiers_;
  NotifyConfig config_;
  OutboxQueue queue_{[this](const OutboxItem& item) { return LaneFor(item); }};
  std::set<std::int64_t> in_flight_;
  // Pending items a write in progress supersedes: not sent meanwhile (the write may fail, then
  // they go on); counted, since two writes may supersede the same item.
  std::multiset<std::int64_t> superseding_;
  // incident -> the latest acknowledge or resolve of it made durable (its decision time and
  // which): a trigger of the incident decided at or before it is stale, withdrawn by the pump,
  // after a failed attempt, or as its late write lands, instead of being sent. Entries go an
  // hour on, once nothing of their incident is queued.
  struct Closing {
    TimePoint at;
    incident::PageAction action;
  };
  std::unordered_map<std::string, Closing> closings_;
  std::size_t closings_after_prune_ = 0;
  // coalesce key -> the latest decision time of an update of it queued (and maybe sent since):
  // an update decided earlier is outdated, whether the newer one is still queued or went out.
  // Entries go an hour on, once nothing of their key is queued.
  std::unordered_map<std::string, TimePoint> updates_;
  std::size_t updates_after_prune_ = 0;
  std::map<incident::Channel, ProviderState> providers_;
  // incident -> original channels it was paged through, and where each actually went.
  std::map<std::string, std::map<incident::Channel, incident::Channel>> routes_;
  // incident -> the alert providers a trigger of it was delivered to. After a fail-over in
  // the middle of the ladder PagerDuty has step 1's alert and Opsgenie step 2's: an
  // acknowledge or resolve goes to each (kind "closing" for the one the route left).
  OutboxStore::DeliveredMap delivered_;
  // incident -> when the resolve it was last told of was decided (ForgetRoutes); a trigger
  // decided after it (the incident reopened) takes it out.
  std::unordered_map<std::string, TimePoint> resolved_at_;
  // (incident, original channel) -> writes in progress that hold a trigger of it (Store).
  std::map<std::pair<std::string, incident::Channel>, int> trigger_writes_;
  // Closings CloseWhereItWas made during a pass, and the items it made them for (once each).
  std::vector<OutboxItem> closings_due_;
  std::set<std::int64_t> closings_made_;
  std::size_t closings_made_after_prune_ = 0;
  // provider -> its "closing" items waiting while it is failed over (still pending on disk).
  std::map<incident::Channel, std::vector<OutboxItem>> parked_;
  RateLimiter limiter_;
  std::mt19937_64 rng_;
  std::optional<std::pair<TimePoint, TimerId>> wake_;
  std::optional<TimerId> prune_timer_;
  OnCallLookup on_call_;
  std::function<bool()> may_send_;          // set before the first delivery, read by workers
  std::set<std::string> last_resort_keys_;  // last-resort calls queued by this run
  std::uint64_t pump_visits_ = 0;
  bool pump_posted_ = false;
  bool configured_ = false;  // nothing is sent (or failed as unroutable) before Configure
  bool stopped_ = false;     // Stop(): no timers, no new attempts
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  prometheus::Family<prometheus::Counter>* deliveries_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  prometheus::Family<prometheus::Gauge>* depth_ = nullptr;
  // depth_'s gauge of each provider, looked up once (UpdateQueueDepth runs on every change).
  std::map<incident::Channel, prometheus::Gauge*> depth_gauges_;
  prometheus::Family<prometheus::Counter>* write_failures_ = nullptr;
  prometheus::Family<prometheus::Counter>* unroutable_ = nullptr;
};

}  // namespace tocsin::notify
