#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/incident/page.h"
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

// Turns dispatched alert groups into incidents and walks each incident's escalation ladder on
// the Scheduler until someone acknowledges: step k of the policy falls due at T0 + after(k);
// the people it names are looked up on the roster at that moment (L2 by the alerts' domain,
// shadows added) and paged through the Pager. Also: ack timeouts re-escalate, SEV-1/2 status
// reminders to the incident commander, commander handover at shift change, auto-resolve.
//
// Durability: every transition is committed to the IncidentStore (incident row, chained
// timeline events and page intents in one transaction) before the Pager hears of it and before
// the caller gets an answer. Start() reloads open incidents and re-arms every timer on its
// original deadline; a deadline that passed while the process was down fires once, at once.
// Idempotency keys ("INC-42/step-1/trigger") make a re-sent page a duplicate the outbox drops.
// A page the outbox cannot write is retried until it is queued (PageHandoff); a transition the
// store cannot write is retried on its timer, logged and counted
// (tocsin_incident_write_failures_total).
//
// Timers: every timer (ladder steps, ack deadlines, reminders, handovers and their retries) is
// owned by the manager and cancelled by Stop() and the destructor, and an incident's timers go
// with the incident, so no callback ever runs into a freed manager.
//
// Thread-safety: loop thread only (GroupSink, DeliveryObserver and the API all run there).
class IncidentManager final : public dispatch::GroupSink, public DeliveryObserver {
 public:
  IncidentManager(Scheduler& scheduler, IncidentStore& store, Pager& pager,
                  std::shared_ptr<const oncall::Schedule> schedule, PolicySet policies,
                  IncidentsConfig config, prometheus::Registry* registry = nullptr);
  ~IncidentManager() override;
  IncidentManager(const IncidentManager&) = delete;
  IncidentManager& operator=(const IncidentManager&) = delete;

  // Reloads open incidents from the store, re-arms their timers, re-sends page intents that
  // never reached the Pager, and starts watching shift handovers.
  Result<void> Start();
  // Shutdown: cancels every timer and retry; nothing fires afterwards. Pages not yet queued
  // stay intents in the store and are sent on the next Start().
  void Stop();
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
  // Someone asks for help now: pages the next ladder step at once instead of at its deadline
  // (past the end of the ladder, the last step again) and records who asked. The incident
  // keeps its state: escalating an acknowledged incident brings in the next step without
  // taking the incident away from whoever acknowledged it. A second request within
  // kEscalateDebounce of the previous one changes nothing, so a double click on Escalate does
  // not skip a step.
  static constexpr Duration kEscalateDebounce = std::chrono::seconds(30);
  Result<Incident> EscalateNow(const std::string& id, const std::string& actor, TimePoint now,
                               std::string_view origin = {});

  Result<Incident> Get(const std::string& id);
  Result<std::vector<Incident>> List(const IncidentFilter& filter);
  Result<std::vector<TimelineEvent>> Timeline(const std::string& id);
  Result<VerifyResult> Verify(const std::string& id);

  std::shared_ptr<const oncall::Schedule> schedule() const { return schedule_; }
  std::size_t open_count() const { return live_.size(); }
  // Resolved incidents remembered for reopening (within reopen_window of their resolve).
  std::size_t recent_resolved_count() const { return recent_resolved_.size(); }

 private:
  struct Live {
    Incident incident;
    TimerId step_timer = 0;
    TimerId ack_timer = 0;
    TimerId reminder_timer = 0;
    TimerId retry_timer = 0;            // a transition the store refused, tried again
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

  // Commits `next` with `events` and `pages`, then announces the pages. On failure nothing
  // changes in memory and nothing is sent.
  Result<void> Apply(Live& live, Incident next, std::vector<TimelineEvent> events,
                     std::vector<PageRequest> pages,
                     const std::optional<InboundDelivery>& delivery = std::nullopt);
  Result<Incident> UpdateFromGroup(Live& live, const dispatch::AlertGroup& group, TimePoint now);
  Result<Incident> Reopen(const Incident& resolved, const dispatch::AlertGroup& group,
                          TimePoint now);
  Result<Incident> DoResolve(Live& live, const std::string& actor, bool automatic, TimePoint now,
                             std::string_view origin = {},
                             const std::optional<InboundDelivery>& delivery = std::nullopt);

  void ArmStep(const std::string& id);
  void ArmAckDeadline(const std::string& id);
  void ArmReminder(const std::string& id);
  void ArmHandoverWatch(TimePoint now);
  void ArmEveryIncident();
  void CancelTimers(Live& live);
  void OnStepDue(const std::string& id);
  // Pages the step at next_step: on its deadline (`requested_by` empty) or at once because
  // someone asked (EscalateNow).
  Result<void> PageNextStep(Live& live, TimePoint now, const std::string& requested_by,
                            std::string_view origin);
  void OnAckDeadline(const std::string& id);
  void OnReminderDue(const std::string& id);
  void OnHandover();
  // Counts and retries a transition the store refused (`what`: "step", "ack_timeout", ...).
  void RetryLater(const std::string& id, void (IncidentManager::*fn)(const std::string&),
                  std::string_view what);
  void CountWriteFailure(std::string_view what);
  // Appends events to an incident's timeline, open or resolved (PageHandoff's Recorder).
  Result<void> Record(const std::string& id, std::vector<TimelineEvent> events);

  Scheduler& scheduler_;
  IncidentStore& store_;
  Pager& pager_;
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
  bool stopped_ = false;
  std::unique_ptr<PageHandoff> handoff_;
  prometheus::Family<prometheus::Counter>* write_failures_ = nullptr;
};

}  // namespace tocsin::incident
