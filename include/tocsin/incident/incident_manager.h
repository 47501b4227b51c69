#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/incident/page.h"
#include "tocsin/incident/status_update.h"
#include "tocsin/incident/timeline.h"
#include "tocsin/oncall/schedule.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace tocsin::incident {

class PageHandoff;
struct ForwardedChange;

// True when `origin` (a provider: "pagerduty", "opsgenie", "jsm") may withdraw the incident's
// acknowledgement: it is acknowledged, and the ack was given at that provider.
bool AckWithdrawableFrom(const Incident& incident, std::string_view origin);

// Turns dispatched alert groups into incidents and walks each incident's escalation ladder on
// the Scheduler until someone acknowledges: step k of the policy falls due at T0 + after(k);
// the people it names are looked up on the roster at that moment (L2 by the alerts' domain,
// shadows added) and paged through the Pager. Also: ack timeouts re-escalate, SEV-1/2 status
// reminders to the incident commander, commander handover at shift change, auto-resolve.
//
// Durability: every transition is committed to the IncidentStore (incident row, chained
// timeline events and page intents in one transaction) before the Pager hears of it and before
// the caller gets an answer. Commits are asynchronous (IncidentStore::CommitAsync): the loop
// computes a transition from the state in memory, which stays authoritative for every
// decision, submits it, and applies it to memory, hands its pages to the Pager and answers the
// caller only in the completion, once it is durable; a failed commit changes nothing in memory
// and fails the call (the API answers 503, a timer retries). While one transition of an
// incident is being written, the next one for that incident waits for it (a per-incident
// lane), so each is computed from the state the previous one left; transitions of different
// incidents are written together (group commit). Start() reloads open incidents and re-arms every
// timer on its original deadline; a deadline that passed while the process was down fires once, at
// once. Idempotency keys ("INC-42/step-1/trigger") make a re-sent page a duplicate the outbox
// drops. A page the outbox cannot write is retried until it is queued (PageHandoff); a transition
// the store cannot write is retried on its timer, logged and counted
// (tocsin_incident_write_failures_total).
//
// Timers: every timer (ladder steps, ack deadlines, reminders, handovers and their retries) is
// owned by the manager and cancelled by Stop() and the destructor, and an incident's timers go
// with the incident, so no callback ever runs into a freed manager.
//
// Thread-safety: loop thread only (GroupSink, DeliveryObserver and the API all run there);
// completions of the store arrive there too.
class IncidentManager final : public dispatch::GroupSink, public DeliveryObserver {
 public:
  template <typename T>
  using Done = std::function<void(Result<T>)>;

  IncidentManager(Scheduler& scheduler, IncidentStore& store, Pager& pager,
                  std::shared_ptr<const oncall::Schedule> schedule, PolicySet policies,
                  IncidentsConfig config, prometheus::Registry* registry = nullptr);
  ~IncidentManager() override;
  IncidentManager(const IncidentManager&) = delete;
  IncidentManager& operator=(const IncidentManager&) = delete;

  // Reloads open incidents from the store, re-arms their timers, hands again the page
  // intents whose "queued" record never landed (on the following loop turns, each such
  // incident's changes waiting until its pages are queued: a synchronous Acknowledge etc. on
  // one of them answers kTransient until the loop has run), and starts watching shift
  // handovers.
  Result<void> Start();
  // Shutdown: cancels every timer and retry; nothing fires afterwards. Pages not yet queued
  // stay intents in the store and are sent on the next Start().
  void Stop();
  // A manager that must not change incidents (a standby of a high-availability cluster, whose
  // store another instance writes): every call that would change one answers kTransient with
  // `why` and changes nothing. nullopt: changes allowed (the default).
  void SetReadOnly(std::optional<std::string> why) { read_only_ = std::move(why); }
  // The composition root says the Pager writes through the store writer this manager's store
  // commits through, in submission order, and honours Pager::SendOnceDecided (the daemon: the
  // outbox and the incident store on one store thread). A change's pages are then handed as soon
  // as the change is submitted, and their outbox rows join its group commit: one fsync between
  // a decision and the provider request instead of two. The pages of a change that fails are
  // not written (the outbox checks the intent) and not retried. Off by default.
  void SetPagerSharesWriter(bool shares) { pager_shares_writer_ = shares; }
  // A read-only manager with a forwarder hands the changes a person asks for (acknowledge,
  // resolve, note, escalate, status update, post-mortem, an incident opened by hand, a drill,
  // and a delivery recorded alone) to it instead of refusing them: the standby passes them to
  // the active instance, and `done` gets what the active answered. The manager's own
  // transitions (groups of its dispatcher, ladder steps, reminders) stay refused.
  using Forwarder = std::function<void(ForwardedChange, Done<Incident>)>;
  void SetForwarder(Forwarder forwarder) { forwarder_ = std::move(forwarder); }
  // The active's side: applies a change a standby forwarded, through the same calls as if it
  // had been asked here. With a delivery, a change already applied for it is not applied again
  // (ack, resolve and note record it with the change; escalate and status update record it
  // first, so a replay after a crash between the two skips them rather than paging twice; an
  // opening, a drill and a post-mortem record it after, and a replay finds what the first
  // made: the incident by its group's key, the post-mortem by its URL). kRecordDelivery
  // answers an empty Incident.
  void ApplyForwarded(ForwardedChange change, TimePoint now, Done<Incident> done);
  // Config reload: new roster, policies and settings apply from now on; incidents stay and
  // their timers are re-armed under the new settings.
  void Reconfigure(std::shared_ptr<const oncall::Schedule> schedule, PolicySet policies,
                   IncidentsConfig config);

  void OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) override;
  void OnDelivery(const DeliveryReport& report) override;

  // Opens an incident for `group` (used by the dispatcher path and by POST /api/v1/incidents).
  // A group whose key already has an open incident updates it instead.
  Result<Incident> Open(const dispatch::AlertGroup& group, const std::string& actor, TimePoint now);
  // `origin` says where the action came from (PageRequest::origin values); it is recorded in
  // the timeline and on the mirror page so the notify side does not echo it back.
  // `actor` must be a person of the roster: an ack by someone the roster does not know would
  // stop the ladder without anyone being responsible. Provider origins are the exception: the
  // provider authenticated its user ("pagerduty:Olena Kovalenko"). Acknowledging an
  // acknowledged incident changes nothing.
  // `delivery`, when given, is the inbound request (webhook delivery, Slack request) that asked
  // for the action: it is recorded in the transaction of the change, and a delivery already
  // recorded fails the call with kConflict and changes nothing.
  Result<Incident> Acknowledge(const std::string& id, const std::string& actor, TimePoint now,
                               std::string_view origin = {},
                               const std::optional<InboundDelivery>& delivery = std::nullopt);
  Result<Incident> Resolve(const std::string& id, const std::string& actor, TimePoint now,
                           std::string_view origin = {},
                           const std::optional<InboundDelivery>& delivery = std::nullopt);
  Result<Incident> AddNote(const std::string& id, const std::string& actor, const std::string& text,
                           TimePoint now, std::string_view origin = {},
                           const std::optional<InboundDelivery>& delivery = std::nullopt);
  // Inbound deliveries that changed no incident are recorded alone (see IncidentStore).
  Result<bool> HasDelivery(const std::string& source, const std::string& id);
  Result<void> RecordDelivery(const InboundDelivery& delivery);

  // The asynchronous forms of the calls above and below: `done` runs on the loop once the
  // change is durable (or failed, or nothing had to change). The daemon's HTTP handlers use
  // these; the synchronous forms are for stores that complete at once (tests, tools) and fail
  // with kTransient when the store has not answered by the time they return.
  void OpenAsync(dispatch::AlertGroup group, std::string actor, TimePoint now, Done<Incident> done);
  void AcknowledgeAsync(std::string id, std::string actor, TimePoint now, std::string origin,
                        std::optional<InboundDelivery> delivery, Done<Incident> done);
  void ResolveAsync(std::string id, std::string actor, TimePoint now, std::string origin,
                    std::optional<InboundDelivery> delivery, Done<Incident> done);
  // An acknowledgement withdrawn at a provider (PagerDuty's incident.unacknowledged, Opsgenie's
  // UnAcknowledge: a responder undid it, or the provider's own ack timeout ran out): the
  // incident is triggered again and its ladder resumes where the ack stopped it, as after
  // ack_timeout. An incident that is not acknowledged is left as it is.
  // Only an ack given at that provider (acknowledged_by "pagerduty:..." for origin "pagerduty")
  // is withdrawn: one given since in Slack, the API or another provider stands.
  void UnacknowledgeAsync(std::string id, std::string actor, TimePoint now, std::string origin,
                          std::optional<InboundDelivery> delivery, Done<Incident> done);
  void AddNoteAsync(std::string id, std::string actor, std::string text, TimePoint now,
                    std::string origin, std::optional<InboundDelivery> delivery,
                    Done<Incident> done);
  void EscalateNowAsync(std::string id, std::string actor, TimePoint now, std::string origin,
                        Done<Incident> done);
  void RecordDeliveryAsync(InboundDelivery delivery, Done<void> done);
  // A status update (docs/reports.md, "Status updates"): recorded in the timeline as its own
  // event ("status_update"), posted to the war room (the incident's Slack thread, shown in the
  // channel) and, for a real incident, to the status-page webhook; the next status reminder
  // falls due `next_update_in` later (the reminder interval when zero). kInvalid without a
  // situation or with next_update_in outside [1m, 24h]; kConflict on a resolved incident.
  void PostStatusUpdateAsync(std::string id, std::string actor, StatusUpdate update, TimePoint now,
                             std::string origin, Done<Incident> done);
  Result<Incident> PostStatusUpdate(const std::string& id, const std::string& actor,
                                    const StatusUpdate& update, TimePoint now,
                                    std::string_view origin = {});
  // Opens a drill: an incident like any other (same ladder, same providers) whose every page
  // is marked DRILL, which no KPI counts, and which never reaches the status page. `group`
  // holds the scenario's alerts; its key must be unique to this drill.
  void OpenDrillAsync(dispatch::AlertGroup group, DrillSpec drill, std::string actor, TimePoint now,
                      Done<Incident> done);
  Result<Incident> OpenDrill(const dispatch::AlertGroup& group, const DrillSpec& drill,
                             const std::string& actor, TimePoint now);
  // Runs `fn` once nothing else holds `lane`, and holds it until `fn` calls its argument:
  // callers that read, decide and then write (ManagerIncidentCommands) keep their steps of one
  // incident from interleaving. Lanes named "INC-..." are the manager's own.
  using Release = std::function<void()>;
  void Serialize(const std::string& lane, std::function<void(Release)> fn);
  // Someone asks for help now: pages the next ladder step at once instead of at its deadline
  // (past the end of the ladder, the last step again) and records who asked. The incident
  // keeps its state: escalating an acknowledged incident brings in the next step without
  // taking the incident away from whoever acknowledged it. A second request within
  // kEscalateDebounce of the previous one changes nothing, so a double click on Escalate does
  // not skip a step.
  static constexpr Duration kEscalateDebounce = std::chrono::seconds(30);
  Result<Incident> EscalateNow(const std::string& id, const std::string& actor, TimePoint now,
                               std::string_view origin = {});

  // Post-mortems (docs/reports.md). RecordPostmortemAsync appends a kEventPostmortem event
  // saying where the post-mortem is (data {"url"}) and posts it to the incident's thread.
  // RemindPostmortemAsync appends a kEventPostmortemReminder event and posts `text` to the
  // incident's thread (to the commander), unless the timeline already holds a post-mortem or
  // a reminder: `done` gets true when it reminded, false when there was nothing to do, so a
  // reminder goes out once however often it is asked for. Open and resolved incidents alike.
  static constexpr const char* kEventPostmortem = "postmortem";
  static constexpr const char* kEventPostmortemReminder = "postmortem_reminder";
  void RecordPostmortemAsync(std::string id, std::string actor, std::string url, TimePoint now,
                             Done<Incident> done);
  void RemindPostmortemAsync(std::string id, std::string text, TimePoint now, Done<bool> done);

  Result<Incident> Get(const std::string& id);
  Result<std::vector<Incident>> List(const IncidentFilter& filter);
  // Each open incident as it was committed, without a copy (at start, the dispatcher's recall
  // of 10,000 of them). Loop thread; `visit` must not change incidents.
  void ForEachOpen(const std::function<void(const Incident&)>& visit) const {
    for (const auto& [id, live] : live_) {
      if (live.incident.open()) visit(live.incident);
    }
  }
  // The timeline up to the event the incident Get returns counts (the same turn of the loop).
  Result<std::vector<TimelineEvent>> Timeline(const std::string& id);
  Result<VerifyResult> Verify(const std::string& id);

  std::shared_ptr<const oncall::Schedule> schedule() const { return schedule_; }
  // The escalation policies an incident may name: those configured, and "default" always
  // (without a policy of that name the built-in ladder stands in). Sorted.
  std::vector<std::string> PolicyNames() const;
  // Called on the loop after every change of an incident is durable and in memory (the web
  // panel's live updates); one listener, replaced by a second call.
  using ChangeListener = std::function<void(const Incident&)>;
  void SetChangeListener(ChangeListener listener) { change_listener_ = std::move(listener); }
  std::size_t open_count() const { return live_.size(); }
  // Whether some incident's change is in progress (its lane held, or others wait for it): a
  // graceful stop lets those finish, within its timeout. Loop thread.
  bool changing() const { return !lanes_.empty(); }
  // Resolved incidents remembered for reopening (within reopen_window of their resolve).
  std::size_t recent_resolved_count() const { return recent_resolved_.size(); }

 private:
  struct Live {
    Incident incident;
    TimerId step_timer = 0;
    TimerId ack_timer = 0;
    TimerId reminder_timer = 0;
    // Transitions the store refused, each tried again on its own timer: a ladder step, an ack
    // timeout and a reminder refused close together are all retried (one shared timer let the
    // last refusal cancel the others' retries, and the ladder stopped for good).
    std::vector<std::pair<void (IncidentManager::*)(const std::string&), TimerId>> retries;
    TimePoint last_escalate_request{};  // for kEscalateDebounce; not durable, need not be
  };

  const EscalationPolicy& PolicyOf(const Incident& incident) const;
  Duration AckTimeoutOf(const Incident& incident) const;
  ResolveMode ResolveModeOf(const Incident& incident) const;
  TimelineEvent Event(TimePoint at, std::string kind, std::string actor, std::string text,
                      std::string data = "{}") const;
  PageRequest Request(const Incident& incident, PageAction action, std::string key,
                      TimePoint at) const;
  std::vector<PageTarget> ResolveStep(const Incident& incident, const EscalationStep& step,
                                      TimePoint now, std::vector<std::string>* notes) const;
  std::optional<oncall::Person> PersonOf(const std::string& id) const;
  // The live (open) incident `id`; kNotFound when unknown, kConflict when already resolved.
  Result<Live*> OpenLive(const std::string& id);

  // Commits `next` with `events` and `pages` (asynchronously); once durable, `next` replaces
  // the live incident `id` (if there is one), `then` gets `next`, and then the pages go to the
  // Pager (whose "queued" events land on the incident `then` put in memory). On failure
  // nothing changes in memory, nothing is sent and `then` gets the error. The caller holds
  // the incident's lane.
  void Apply(const std::string& id, Incident next, std::vector<TimelineEvent> events,
             std::vector<PageRequest> pages, std::optional<InboundDelivery> delivery,
             Done<Incident> then);
  // The same with the whole change (`change.incident` is the next state).
  void ApplyChange(const std::string& id, IncidentChange change, Done<Incident> then);
  // The bodies of the public calls; each runs with the incident's lane held.
  void DoOpen(const dispatch::AlertGroup& group, const std::string& actor, TimePoint now,
              Done<Incident> done, const std::optional<DrillSpec>& drill = std::nullopt);
  void DoPostStatusUpdate(const std::string& id, const std::string& actor,
                          const StatusUpdate& update, TimePoint now, const std::string& origin,
                          Done<Incident> done);
  void UpdateFromGroup(const std::string& id, const dispatch::AlertGroup& group, TimePoint now,
                       Done<Incident> done);
  void Reopen(const Incident& resolved, const dispatch::AlertGroup& group, TimePoint now,
              Done<Incident> done);
  void DoUnacknowledge(const std::string& id, const std::string& actor, TimePoint now,
                       const std::string& origin, const std::optional<InboundDelivery>& delivery,
                       Done<Incident> done);
  // Triggered again after an ack, the ladder due at once where the ack stopped it (past its end:
  // the last step again), in a new epoch. False when the policy has no step to page.
  bool ResumeLadder(Incident& next, TimePoint now) const;
  void DoAcknowledge(const std::string& id, const std::string& actor, TimePoint now,
                     const std::string& origin, const std::optional<InboundDelivery>& delivery,
                     Done<Incident> done);
  void DoResolve(const std::string& id, const std::string& actor, bool automatic, TimePoint now,
                 const std::string& origin, const std::optional<InboundDelivery>& delivery,
                 Done<Incident> done);
  void DoAddNote(const std::string& id, const std::string& actor, const std::string& text,
                 TimePoint now, const std::string& origin,
                 const std::optional<InboundDelivery>& delivery, Done<Incident> done);
  void DoEscalateNow(const std::string& id, const std::string& actor, TimePoint now,
                     const std::string& origin, Done<Incident> done);
  void HandOver(const std::string& id, const std::string& incoming, TimePoint now, Done<void> done);
  // The live incident, or the stored one (resolved); kNotFound when neither.
  Result<Incident> Current(const std::string& id);
  // Runs the asynchronous form and returns what it gave, if it gave it before returning.
  template <typename T>
  static Result<T> Inline(const std::function<void(Done<T>)>& call);

  void ArmStep(const std::string& id);
  void ArmAckDeadline(const std::string& id);
  void ArmReminder(const std::string& id);
  void ArmHandoverWatch(TimePoint now);
  void ArmEveryIncident();
  // One incident's timers: its next step, ack deadline and reminder.
  void ArmIncident(const std::string& id);
  void CancelTimers(Live& live);
  void OnStepDue(const std::string& id);
  // What paging the step at next_step changes: the incident after it, its timeline events
  // and the pages (none when nobody is reachable).
  struct StepDecision {
    Incident next;
    std::vector<TimelineEvent> events;
    std::vector<PageRequest> pages;
  };
  // Decides the step at next_step of `cur`: on its deadline (`requested_by` empty) or at once
  // because someone asked (EscalateNow). Nothing (no value) when there is nothing to page: no
  // steps, or the ladder is exhausted and nobody asked. Writes nothing.
  Result<std::optional<StepDecision>> DecideStep(const Incident& cur, TimePoint now,
                                                 const std::string& requested_by,
                                                 const std::string& origin) const;
  // Whether `inc`'s ladder has a step due at `now` (triggered, a step left, its time reached).
  static bool StepDue(const Incident& inc, TimePoint now);
  // A new or reopened incident whose first step is due at once decides it in the same commit
  // as the open: its page intent is durable with the incident, and the page reaches the outbox
  // one commit later (two in series before).
  void DecideFirstStepNow(Incident& inc, std::vector<TimelineEvent>& events,
                          std::vector<PageRequest>& pages, TimePoint now) const;
  // Pages the step at next_step (DecideStep) and commits it. The caller holds the lane.
  void PageNextStep(const std::string& id, TimePoint now, const std::string& requested_by,
                    const std::string& origin, Done<void> done);
  void OnAckDeadline(const std::string& id);
  void AckDeadlinePassed(const std::string& id, Release release);
  void OnReminderDue(const std::string& id);
  void ReminderDue(const std::string& id, Release release);
  void OnHandover();
  // Counts and retries a transition the store refused (`what`: "step", "ack_timeout", ...).
  void RetryLater(const std::string& id, void (IncidentManager::*fn)(const std::string&),
                  std::string_view what);
  void CountWriteFailure(std::string_view what);
  // Appends events to an incident's timeline, open or resolved, and marks the intent
  // `handed_off_key` (when not empty) handed off in the same commit (PageHandoff's Recorder).
  void Record(const std::string& id, std::vector<TimelineEvent> events, std::string handed_off_key,
              Done<void> done);
  void ScheduleHandoverRetry();
  // Lanes: at most one operation of an incident (or of a group key, while it opens) runs
  // between its decision and its commit's completion; the others wait here in order.
  struct Lane {
    bool busy = false;
    std::deque<std::function<void(Release)>> waiting;
  };
  void RunInLane(const std::string& lane, std::function<void(Release)> fn);
  // Hands the pages decided before a restart (in chunks, on later loop turns), holding the
  // lane of each of their incidents until the outbox has all of its pages (or Stop()).
  void HandPendingPages(std::vector<PageIntent> pending);
  void ReleaseLane(const std::string& lane);
  std::map<std::string, Lane> lanes_;
  // Incident numbers are counted here from the store's next free one (read once), so opening
  // an incident is one commit; 0 until read.
  std::int64_t next_number_ = 0;
  // Gives a change's pages their decision time (ApplyChange): after the incident's latest page
  // (`Incident::last_page_at`, stored with it), at least a millisecond on, so that an
  // incident's pages are ordered by `at` as their changes were applied.
  void StampPages(const std::string& id, Incident& next, std::vector<PageRequest>& pages) const;
  // Completions that arrive after the manager is gone (a store thread drains after shutdown)
  // find this false and do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  Scheduler& scheduler_;
  IncidentStore& store_;
  std::shared_ptr<const oncall::Schedule> schedule_;
  PolicySet policies_;
  IncidentsConfig config_;
  EscalationPolicy fallback_policy_;
  std::map<std::string, Live> live_;                 // open incidents by id
  std::map<std::string, std::string> open_by_key_;   // group key -> id
  std::map<std::string, Incident> recent_resolved_;  // group key -> last resolved incident
  // Entries older than reopen_window are dropped when the map has doubled since the last sweep:
  // without it, every distinct group that ever resolved would stay in memory for good.
  static constexpr std::size_t kMinResolvedSweep = 1024;
  std::size_t next_resolved_sweep_ = kMinResolvedSweep;
  void ForgetResolvedBefore(TimePoint cutoff);
  TimerId handover_timer_ = 0;
  TimerId handover_retry_timer_ = 0;
  int handover_failures_ = 0;
  bool started_ = false;
  std::optional<std::string> read_only_;
  bool pager_shares_writer_ = false;
  // True (and `done` answered) when read-only.
  Forwarder forwarder_;
  // True (and `change` forwarded or refused, `done` answered) when read-only.
  bool ForwardOrRefuse(ForwardedChange change, const Done<Incident>& done);
  // The answer to a forwarded change whose delivery was recorded already (applied before).
  Result<Incident> AlreadyApplied(const ForwardedChange& change);
  // A forwarded opening, drill or post-mortem: applied, then its delivery recorded.
  void ApplyThenRecord(ForwardedChange change, TimePoint now, Done<Incident> done);
  template <typename T>
  bool RefuseReadOnly(const std::function<void(Result<T>)>& done) {
    if (!read_only_) return false;
    done(Fail(Error::Transient(*read_only_)));
    return true;
  }
  bool stopped_ = false;
  std::unique_ptr<PageHandoff> handoff_;
  prometheus::Family<prometheus::Counter>* write_failures_ = nullptr;
  ChangeListener change_listener_;
};

}  // namespace tocsin::incident
