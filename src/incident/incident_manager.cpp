#include "tocsin/incident/incident_manager.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "incident/page_handoff.h"
#include "tocsin/common/duration.h"
#include "tocsin/incident/incident_json.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;

constexpr const char* kSystemActor = "tocsin";
constexpr Duration kStoreRetry = std::chrono::seconds(10);

std::vector<std::string> ChannelNames(const std::vector<Channel>& channels) {
  std::vector<std::string> out;
  for (auto c : channels) out.emplace_back(ChannelName(c));
  return out;
}

std::string TitleOf(const dispatch::AlertGroup& group) {
  for (const auto& a : group.alerts) {
    if (!a.firing()) continue;
    auto summary = a.Annotation("summary");
    if (!summary.empty()) return summary;
  }
  std::string name = group.alerts.empty() ? "incident" : std::string(group.alerts[0].Name());
  std::string labels;
  for (const auto& l : group.group_labels.items()) {
    if (l.name == "alertname") continue;
    labels += fmt::format("{}{}={}", labels.empty() ? "" : ", ", l.name, l.value);
  }
  return labels.empty() ? name : fmt::format("{} ({})", name, labels);
}

std::string DomainOf(const std::vector<Alert>& alerts) {
  for (const auto& a : alerts) {
    if (auto d = a.labels.Get("domain")) return std::string(*d);
  }
  return {};
}

IncidentFilter OpenFilter() {
  IncidentFilter f;
  f.open_only = true;
  f.limit = 1000000;
  return f;
}

IncidentFilter ResolvedFilter() {
  IncidentFilter f;
  f.state = IncidentState::kResolved;
  f.limit = 500;
  return f;
}

// " via slack" for the timeline text; nothing for tocsin's own actions.
std::string Via(std::string_view origin) {
  return origin.empty() ? std::string() : fmt::format(" via {}", origin);
}

std::string OriginData(std::string_view origin) {
  return origin.empty() ? std::string("{}") : json{{"origin", std::string(origin)}}.dump();
}

bool HasFiring(const std::vector<Alert>& alerts, TimePoint now) {
  return std::any_of(alerts.begin(), alerts.end(),
                     [now](const Alert& a) { return a.firing() && !a.ResolvedAt(now); });
}

}  // namespace

IncidentManager::IncidentManager(Scheduler& scheduler, IncidentStore& store, Pager& pager,
                                 std::shared_ptr<const oncall::Schedule> schedule,
                                 PolicySet policies, IncidentsConfig config,
                                 prometheus::Registry* registry)
    : scheduler_(scheduler),
      store_(store),
      pager_(pager),
      schedule_(std::move(schedule)),
      policies_(std::move(policies)),
      config_(std::move(config)),
      fallback_policy_(DefaultPolicy()),
      handoff_(std::make_unique<PageHandoff>(
          scheduler, store, pager,
          [this](const std::string& id, std::vector<TimelineEvent> events) {
            return Record(id, std::move(events));
          })) {
  if (registry) {
    write_failures_ = &prometheus::BuildCounter()
                           .Name("tocsin_incident_write_failures_total")
                           .Help(
                               "Incident transitions the store refused to write, by what they "
                               "were (retried until written).")
                           .Register(*registry);
  }
}

IncidentManager::~IncidentManager() { Stop(); }

void IncidentManager::Stop() {
  stopped_ = true;
  for (auto& [id, live] : live_) CancelTimers(live);
  for (TimerId* t : {&handover_timer_, &handover_retry_timer_}) {
    if (*t != 0) scheduler_.Cancel(*t);
    *t = 0;
  }
  handoff_->Stop();
}

Result<void> IncidentManager::Start() {
  const TimePoint now = scheduler_.clock().Now();
  auto open = store_.List(OpenFilter());
  if (!open) return Fail(open.error());
  auto resolved = store_.List(ResolvedFilter());
  if (!resolved) return Fail(resolved.error());
  for (auto& inc : *resolved) {
    if (now - inc.resolved_at <= config_.reopen_window) recent_resolved_.emplace(inc.key, inc);
  }
  for (auto& inc : *open) {
    open_by_key_[inc.key] = inc.id;
    live_[inc.id].incident = std::move(inc);
  }
  // Pages decided before the crash but never handed to the Pager go out now, with their
  // original idempotency keys.
  auto pending = store_.PendingPages();
  if (!pending) return Fail(pending.error());
  for (const auto& intent : *pending) {
    spdlog::info("re-sending page {} decided before the restart", intent.request.idempotency_key);
    handoff_->Hand(intent.request);
  }
  started_ = true;
  ArmEveryIncident();
  OnHandover();  // a shift may have changed while we were down
  spdlog::info("incidents: {} open incident(s) reloaded", live_.size());
  return {};
}

void IncidentManager::Reconfigure(std::shared_ptr<const oncall::Schedule> schedule,
                                  PolicySet policies, IncidentsConfig config) {
  schedule_ = std::move(schedule);
  policies_ = std::move(policies);
  config_ = std::move(config);
  if (!started_ || stopped_) return;
  ArmHandoverWatch(scheduler_.clock().Now());
  // Re-armed under the new settings; an incident resolved meanwhile has no timers left.
  ArmEveryIncident();
}

void IncidentManager::ArmEveryIncident() {
  // By id: arming may page at once and resolve or change incidents.
  std::vector<std::string> ids;
  for (const auto& [id, live] : live_) ids.push_back(id);
  for (const auto& id : ids) {
    ArmStep(id);
    ArmAckDeadline(id);
    ArmReminder(id);
  }
}

const EscalationPolicy& IncidentManager::PolicyOf(const Incident& incident) const {
  if (const auto* p = policies_.Find(incident.policy)) return *p;
  if (const auto* p = policies_.Find("default")) return *p;
  return fallback_policy_;
}

Duration IncidentManager::AckTimeoutOf(const Incident& incident) const {
  return PolicyOf(incident).ack_timeout.value_or(config_.ack_timeout);
}

ResolveMode IncidentManager::ResolveModeOf(const Incident& incident) const {
  return PolicyOf(incident).resolve.value_or(config_.resolve);
}

TimelineEvent IncidentManager::Event(TimePoint at, std::string kind, std::string actor,
                                     std::string text, std::string data) const {
  TimelineEvent e;
  e.at = at;
  e.kind = std::move(kind);
  e.actor = std::move(actor);
  e.text = std::move(text);
  e.data = std::move(data);
  return e;
}

PageRequest IncidentManager::Request(const Incident& incident, PageAction action, std::string key,
                                     TimePoint at) const {
  PageRequest r;
  r.incident_id = incident.id;
  // Bounded and stable for the incident's life (PagerDuty dedup_key, Opsgenie alias).
  r.dedup_key = "tocsin/" + incident.id;
  r.idempotency_key = std::move(key);
  r.action = action;
  r.step = incident.next_step;
  r.sev = incident.sev;
  r.title = fmt::format("[{}] {}: {}", SevName(incident.sev), incident.id, incident.title);
  r.state = std::string(IncidentStateName(incident.state));
  r.alerts = incident.alerts;
  std::stable_partition(r.alerts.begin(), r.alerts.end(),
                        [](const Alert& a) { return a.firing(); });
  r.causes = incident.causes;
  r.opened_at = incident.opened_at;
  r.at = at;
  return r;
}

std::optional<oncall::Person> IncidentManager::PersonOf(const std::string& id) const {
  if (schedule_) {
    if (const auto* p = schedule_->roster().FindPerson(id)) return *p;
  }
  return std::nullopt;
}

std::vector<PageTarget> IncidentManager::ResolveStep(const Incident& incident,
                                                     const EscalationStep& step, TimePoint now,
                                                     std::vector<std::string>* notes) const {
  std::vector<PageTarget> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& person, const std::string& role) {
    if (!seen.insert(person).second) return;
    auto p = PersonOf(person);
    if (!p) {
      notes->push_back(fmt::format("{} is not in the roster; not paged", person));
      return;
    }
    out.push_back({*p, role, step.channels});
    // A newcomer learns by being paged alongside their buddy.
    for (const auto& shadow : schedule_->ShadowsOf(person, now)) {
      if (!seen.insert(shadow).second) continue;
      if (auto sp = PersonOf(shadow)) out.push_back({*sp, "shadow", step.channels});
    }
  };
  if (!schedule_) {
    notes->push_back("no roster is configured; nobody can be paged");
    return out;
  }
  const auto& policy = PolicyOf(incident);
  for (const auto& t : step.targets) {
    std::vector<std::string> people;
    std::string role = t.role;
    if (!t.role.empty()) {
      auto pos = role.find("{domain}");
      if (pos != std::string::npos) {
        std::string domain = incident.domain.empty() ? policy.default_domain : incident.domain;
        role = t.role.substr(0, pos) + domain + t.role.substr(pos + 8);
        people = schedule_->WhoHolds(role, now);
        if (people.empty() && domain != policy.default_domain) {
          std::string fallback =
              t.role.substr(0, pos) + policy.default_domain + t.role.substr(pos + 8);
          notes->push_back(fmt::format("nobody holds {}; paging {} instead", role, fallback));
          role = fallback;
          people = schedule_->WhoHolds(role, now);
        }
      } else {
        people = schedule_->WhoHolds(role, now);
      }
    } else if (!t.person.empty()) {
      people = {t.person};
      role = "person";
    } else if (!t.team.empty()) {
      people = schedule_->WhoHoldsForTeam(t.team, now);
      role = "team-" + t.team;
    } else if (!t.rotation.empty()) {
      people = schedule_->WhoHoldsRotation(t.rotation, now);
      role = "rotation-" + t.rotation;
    }
    if (people.empty()) {
      // Never page nobody: the reserve backs up every role, and the L1 backs up the reserve.
      for (const char* backup : {oncall::kRoleReserve, oncall::kRoleL1}) {
        people = schedule_->WhoHolds(backup, now);
        if (!people.empty()) {
          notes->push_back(
              fmt::format("nobody on call for {}; paging the {} instead", role, backup));
          role = backup;
          break;
        }
      }
    }
    if (people.empty()) notes->push_back(fmt::format("nobody on call for {}", role));
    for (const auto& p : people) add(p, role);
  }
  return out;
}

Result<void> IncidentManager::Apply(Live& live, Incident next, std::vector<TimelineEvent> events,
                                    std::vector<PageRequest> pages,
                                    const std::optional<InboundDelivery>& delivery) {
  for (auto& e : events) ChainEvent(next, e);
  IncidentChange change{next, events, pages, delivery};
  if (auto r = store_.Commit(change); !r) {
    spdlog::error("incident {}: cannot record the change, nothing announced: {}", next.id,
                  r.error().ToString());
    return r;
  }
  live.incident = std::move(next);
  // The intents are durable now; the handoff queues them, retrying until the outbox has them.
  for (const auto& p : pages) handoff_->Hand(p);
  return {};
}

Result<void> IncidentManager::Record(const std::string& id, std::vector<TimelineEvent> events) {
  if (events.empty()) return {};
  if (auto it = live_.find(id); it != live_.end()) {
    return Apply(it->second, it->second.incident, std::move(events), {});
  }
  auto stored = Get(id);
  if (!stored) return Fail(stored.error());
  Live tmp;
  tmp.incident = *stored;
  return Apply(tmp, *stored, std::move(events), {});
}

void IncidentManager::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  if (group.receiver.escalation_policy.empty()) return;  // notices only: not an incident
  auto r = Open(group, kSystemActor, now);
  if (!r && r.error().kind() != Error::Kind::kNotFound) {
    spdlog::error("group {}: {}", group.key, r.error().ToString());
  }
}

Result<Incident> IncidentManager::Open(const dispatch::AlertGroup& group, const std::string& actor,
                                       TimePoint now) {
  if (auto it = open_by_key_.find(group.key); it != open_by_key_.end()) {
    return UpdateFromGroup(live_.at(it->second), group, now);
  }
  if (!HasFiring(group.alerts, now)) {
    return Fail(Error::NotFound("no firing alert in the group: no incident to open"));
  }
  if (auto it = recent_resolved_.find(group.key);
      it != recent_resolved_.end() && now - it->second.resolved_at <= config_.reopen_window) {
    return Reopen(it->second, group, now);
  }
  auto number = store_.NextIncidentNumber();
  if (!number) return Fail(number.error());
  Incident inc;
  inc.number = *number;
  inc.id = fmt::format("INC-{}", *number);
  inc.key = group.key.empty() ? "manual/" + inc.id : group.key;
  inc.title = TitleOf(group);
  inc.receiver = group.receiver.name;
  inc.policy =
      group.receiver.escalation_policy.empty() ? "default" : group.receiver.escalation_policy;
  std::vector<TimelineEvent> events;
  if (!policies_.Find(inc.policy) && !policies_.policies.empty()) {
    events.push_back(Event(now, "note", kSystemActor,
                           fmt::format("escalation policy \"{}\" is not defined; using "
                                       "\"default\"",
                                       inc.policy)));
    inc.policy = "default";
  }
  inc.domain = DomainOf(group.alerts);
  inc.sev = SevOf(group.alerts);
  inc.group_labels = group.group_labels;
  inc.alerts = group.alerts;
  inc.causes = group.causes;
  inc.opened_at = now;
  if (schedule_) {
    auto holders = schedule_->WhoHolds(config_.commander_role, now);
    if (!holders.empty()) inc.commander = holders.front();
  }
  const auto& policy = PolicyOf(inc);
  inc.ladder_start = now;
  inc.next_step = 0;
  inc.next_step_at = policy.steps.empty() ? TimePoint{} : now + policy.steps[0].after;
  if (inc.sev <= Sev::kSev2) inc.next_reminder_at = now + config_.reminder_interval;
  events.insert(events.begin(), Event(now, "opened", actor,
                                      fmt::format("{} opened: {} (policy {}, commander {})",
                                                  SevName(inc.sev), inc.title, inc.policy,
                                                  inc.commander.empty() ? "none" : inc.commander),
                                      json{{"key", inc.key}, {"receiver", inc.receiver}}.dump()));
  for (const auto& a : group.alerts) {
    if (!a.firing()) continue;
    events.push_back(Event(now, "alert_fired", kSystemActor, std::string(a.Name()),
                           json{{"fingerprint", a.fingerprint().ToString()},
                                {"severity", std::string(SeverityName(a.severity))}}
                               .dump()));
  }
  Live fresh;
  if (auto r = Apply(fresh, inc, std::move(events), {}); !r) return Fail(r.error());
  const std::string id = fresh.incident.id;
  open_by_key_[fresh.incident.key] = id;
  live_[id] = std::move(fresh);
  spdlog::info("incident {} opened ({}, {})", id, SevName(inc.sev), inc.title);
  ArmReminder(id);
  ArmStep(id);  // step 0 is due at once (after: 0) and fires inside this call
  return live_.count(id) ? live_.at(id).incident : Get(id).value_or(inc);
}

Result<Incident> IncidentManager::Reopen(const Incident& resolved,
                                         const dispatch::AlertGroup& group, TimePoint now) {
  // Notes and delivery reports keep landing on a resolved incident, so the copy kept since
  // the resolve may be behind the store: reopen the stored incident, never the copy.
  auto stored = store_.Get(resolved.id);
  if (!stored) return Fail(stored.error());
  if (!*stored) return Fail(Error::NotFound(fmt::format("no incident {}", resolved.id)));
  const Incident& old = **stored;
  Incident inc = old;
  inc.state = IncidentState::kTriggered;
  inc.alerts = group.alerts;
  inc.causes = group.causes;
  inc.sev = SevOf(group.alerts);
  inc.resolved_at = {};
  inc.resolved_by.clear();
  inc.acknowledged_at = {};
  inc.acknowledged_by.clear();
  inc.ack_deadline = {};
  ++inc.epoch;
  inc.round = 0;
  inc.next_step = 0;
  inc.ladder_start = now;
  const auto& policy = PolicyOf(inc);
  inc.next_step_at = policy.steps.empty() ? TimePoint{} : now + policy.steps[0].after;
  inc.next_reminder_at = inc.sev <= Sev::kSev2 ? now + config_.reminder_interval : TimePoint{};
  Live fresh;
  fresh.incident = old;
  auto ev = Event(now, "reopened", kSystemActor,
                  fmt::format("alerts fire again {} after the resolve; the ladder restarts",
                              FormatDuration(now - old.resolved_at)));
  if (auto r = Apply(fresh, inc, {ev}, {}); !r) return Fail(r.error());
  recent_resolved_.erase(inc.key);
  open_by_key_[inc.key] = inc.id;
  live_[inc.id] = std::move(fresh);
  ArmReminder(inc.id);
  ArmStep(inc.id);
  return live_.count(inc.id) ? live_.at(inc.id).incident : inc;
}

Result<Incident> IncidentManager::UpdateFromGroup(Live& live, const dispatch::AlertGroup& group,
                                                  TimePoint now) {
  Incident next = live.incident;
  std::vector<TimelineEvent> events;
  std::map<Fingerprint, bool> was_firing;
  for (const auto& a : live.incident.alerts) was_firing[a.fingerprint()] = a.firing();
  for (const auto& a : group.alerts) {
    bool firing = a.firing() && !a.ResolvedAt(now);
    auto it = was_firing.find(a.fingerprint());
    bool before = it != was_firing.end() && it->second;
    if (firing && !before) {
      events.push_back(Event(now, "alert_fired", kSystemActor, std::string(a.Name()),
                             json{{"fingerprint", a.fingerprint().ToString()}}.dump()));
    } else if (!firing && before) {
      events.push_back(Event(now, "alert_resolved", kSystemActor, std::string(a.Name()),
                             json{{"fingerprint", a.fingerprint().ToString()}}.dump()));
    }
  }
  next.alerts = group.alerts;
  next.causes = group.causes;
  Sev sev = SevOf(group.alerts);
  bool all_resolved = !HasFiring(group.alerts, now);
  if (!all_resolved && sev < next.sev) {
    events.push_back(
        Event(now, "note", kSystemActor,
              fmt::format("severity raised from {} to {}", SevName(next.sev), SevName(sev))));
    next.sev = sev;
    if (sev <= Sev::kSev2 && next.next_reminder_at == TimePoint{}) {
      next.next_reminder_at = now + config_.reminder_interval;
    }
  }
  const std::string id = next.id;
  if (all_resolved && ResolveModeOf(next) == ResolveMode::kManual &&
      std::any_of(events.begin(), events.end(),
                  [](const TimelineEvent& e) { return e.kind == "alert_resolved"; })) {
    events.push_back(Event(now, "note", kSystemActor,
                           "all alerts resolved; the policy waits for a human to resolve"));
  }
  if (!events.empty() || next.alerts != live.incident.alerts) {
    if (auto r = Apply(live, next, std::move(events), {}); !r) return Fail(r.error());
  }
  ArmReminder(id);
  if (all_resolved && ResolveModeOf(live_.at(id).incident) == ResolveMode::kAuto) {
    return DoResolve(live_.at(id), kSystemActor, true, now);
  }
  return live_.at(id).incident;
}

Result<IncidentManager::Live*> IncidentManager::OpenLive(const std::string& id) {
  auto it = live_.find(id);
  if (it != live_.end()) return &it->second;
  auto stored = Get(id);  // kNotFound for an unknown id
  if (!stored) return Fail(stored.error());
  return Fail(Error::Conflict(fmt::format("{} is already resolved", id)));
}

Result<Incident> IncidentManager::Acknowledge(const std::string& id, const std::string& actor,
                                              TimePoint now, std::string_view origin,
                                              const std::optional<InboundDelivery>& delivery) {
  auto open = OpenLive(id);
  if (!open) return Fail(open.error());
  if (actor.empty()) return Fail(Error::Invalid("an acknowledgement needs an actor"));
  if (schedule_ && !IsProviderOrigin(origin) && !schedule_->roster().FindPerson(actor)) {
    std::vector<std::string> ids;
    for (const auto& [pid, p] : schedule_->roster().people) ids.push_back(pid);
    std::string hint = config::Suggest(actor, ids);
    return Fail(Error::Unauthorized(
        fmt::format("\"{}\" is not a person of the roster; only rostered people can "
                    "acknowledge{}",
                    actor, hint.empty() ? "" : " (did you mean \"" + hint + "\"?)")));
  }
  Live& live = **open;
  if (live.incident.state == IncidentState::kAcknowledged) return live.incident;
  Incident next = live.incident;
  next.state = IncidentState::kAcknowledged;
  next.acknowledged_at = now;
  next.acknowledged_by = actor;
  next.next_step_at = {};  // the ladder stops; next_step remembers where it stood
  if (next.commander.empty()) next.commander = actor;
  Duration timeout = AckTimeoutOf(next);
  next.ack_deadline = timeout > Duration(0) ? now + timeout : TimePoint{};
  std::string text = fmt::format("acknowledged by {}{}", actor, Via(origin));
  if (timeout > Duration(0)) {
    text += fmt::format("; re-escalates at {} unless resolved", FormatRfc3339(next.ack_deadline));
  }
  auto ev = Event(now, "acknowledged", actor, text, OriginData(origin));
  auto page = Request(next, PageAction::kAcknowledge,
                      fmt::format("{}/ack/{}", id, next.timeline_seq + 1), now);
  page.actor = actor;
  page.origin = std::string(origin);
  CancelTimers(live);
  if (auto r = Apply(live, next, {ev}, {page}, delivery); !r) {
    ArmStep(id);
    ArmReminder(id);
    return Fail(r.error());
  }
  ArmAckDeadline(id);
  ArmReminder(id);
  return live.incident;
}

Result<Incident> IncidentManager::Resolve(const std::string& id, const std::string& actor,
                                          TimePoint now, std::string_view origin,
                                          const std::optional<InboundDelivery>& delivery) {
  auto it = live_.find(id);
  if (it == live_.end()) {
    auto stored = Get(id);
    if (!stored) return stored;
    return *stored;  // already resolved: resolving again changes nothing
  }
  if (actor.empty()) return Fail(Error::Invalid("a resolve needs an actor"));
  return DoResolve(it->second, actor, false, now, origin, delivery);
}

Result<Incident> IncidentManager::DoResolve(Live& live, const std::string& actor, bool automatic,
                                            TimePoint now, std::string_view origin,
                                            const std::optional<InboundDelivery>& delivery) {
  Incident next = live.incident;
  const std::string id = next.id;
  next.state = IncidentState::kResolved;
  next.resolved_at = now;
  next.resolved_by = actor;
  next.next_step_at = {};
  next.ack_deadline = {};
  next.next_reminder_at = {};
  auto ev = Event(now, automatic ? "auto_resolved" : "resolved", actor,
                  automatic ? "all alerts resolved; resolved automatically"
                            : fmt::format("resolved by {}{}", actor, Via(origin)),
                  OriginData(origin));
  auto page = Request(next, PageAction::kResolve,
                      fmt::format("{}/resolve/{}", id, next.timeline_seq + 1), now);
  page.actor = actor;
  page.origin = std::string(origin);
  if (auto r = Apply(live, next, {ev}, {page}, delivery); !r) return Fail(r.error());
  CancelTimers(live);
  Incident done = live.incident;
  open_by_key_.erase(done.key);
  recent_resolved_[done.key] = done;
  ForgetResolvedBefore(now - config_.reopen_window);
  live_.erase(id);
  spdlog::info("incident {} resolved by {}", id, actor);
  return done;
}

void IncidentManager::ForgetResolvedBefore(TimePoint cutoff) {
  // A sweep only when the map has doubled since the last one: amortised O(1) per resolve, and
  // at most twice as many entries as incidents resolved within reopen_window.
  if (recent_resolved_.size() < next_resolved_sweep_) return;
  std::erase_if(recent_resolved_, [&](const auto& kv) { return kv.second.resolved_at < cutoff; });
  next_resolved_sweep_ = std::max(kMinResolvedSweep, 2 * recent_resolved_.size());
}

Result<Incident> IncidentManager::AddNote(const std::string& id, const std::string& actor,
                                          const std::string& text, TimePoint now,
                                          std::string_view origin,
                                          const std::optional<InboundDelivery>& delivery) {
  if (text.empty()) return Fail(Error::Invalid("a note needs text"));
  if (actor.empty()) return Fail(Error::Invalid("a note needs an actor"));
  auto it = live_.find(id);
  if (it == live_.end()) {
    // Notes on resolved incidents (post-mortem findings) are still recorded.
    auto stored = Get(id);
    if (!stored) return stored;
    Live tmp;
    tmp.incident = *stored;
    auto ev = Event(now, "note", actor, text, OriginData(origin));
    if (auto r = Apply(tmp, *stored, {ev}, {}, delivery); !r) return Fail(r.error());
    return tmp.incident;
  }
  Live& live = it->second;
  Incident next = live.incident;
  // A note is the status update the reminder asks for: the next reminder is a full interval on.
  if (next.next_reminder_at != TimePoint{}) next.next_reminder_at = now + config_.reminder_interval;
  auto ev = Event(now, "note", actor, text, OriginData(origin));
  auto page =
      Request(next, PageAction::kNote, fmt::format("{}/note/{}", id, next.timeline_seq + 1), now);
  page.text = text;
  page.actor = actor;
  page.origin = std::string(origin);
  if (auto r = Apply(live, next, {ev}, {page}, delivery); !r) return Fail(r.error());
  ArmReminder(id);
  return live.incident;
}

Result<bool> IncidentManager::HasDelivery(const std::string& source, const std::string& id) {
  return store_.HasDelivery(source, id);
}

Result<void> IncidentManager::RecordDelivery(const InboundDelivery& delivery) {
  return store_.RecordDelivery(delivery);
}

void IncidentManager::OnDelivery(const DeliveryReport& report) {
  const TimePoint now = report.at == TimePoint{} ? scheduler_.clock().Now() : report.at;
  if (auto r = Record(report.incident_id, {PageHandoff::DeliveryEvent(report, now)}); !r) {
    if (r.error().kind() == Error::Kind::kNotFound) {
      spdlog::warn("delivery report for unknown incident {}", report.incident_id);
      return;
    }
    CountWriteFailure("delivery");
    spdlog::error("incident {}: delivery report ({} via {}) not recorded: {}", report.incident_id,
                  DeliveryOutcomeName(report.outcome), ChannelName(report.channel),
                  r.error().ToString());
  }
}

Result<Incident> IncidentManager::Get(const std::string& id) {
  if (auto it = live_.find(id); it != live_.end()) return it->second.incident;
  auto stored = store_.Get(id);
  if (!stored) return Fail(stored.error());
  if (!*stored) return Fail(Error::NotFound(fmt::format("no incident {}", id)));
  return **stored;
}

Result<std::vector<Incident>> IncidentManager::List(const IncidentFilter& filter) {
  return store_.List(filter);
}

Result<std::vector<TimelineEvent>> IncidentManager::Timeline(const std::string& id) {
  if (auto inc = Get(id); !inc) return Fail(inc.error());
  return store_.Timeline(id);
}

Result<VerifyResult> IncidentManager::Verify(const std::string& id) {
  // Read both from the store: verification is about what is on disk, not what is in memory.
  auto stored = store_.Get(id);
  if (!stored) return Fail(stored.error());
  if (!*stored) return Fail(Error::NotFound(fmt::format("no incident {}", id)));
  auto events = store_.Timeline(id);
  if (!events) return Fail(events.error());
  return VerifyTimeline(**stored, *events);
}

void IncidentManager::CancelTimers(Live& live) {
  for (TimerId* t : {&live.step_timer, &live.ack_timer, &live.reminder_timer, &live.retry_timer}) {
    if (*t != 0) scheduler_.Cancel(*t);
    *t = 0;
  }
}

void IncidentManager::ArmStep(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  if (live.step_timer != 0) scheduler_.Cancel(live.step_timer);
  live.step_timer = 0;
  const Incident& inc = live.incident;
  if (stopped_ || inc.state != IncidentState::kTriggered || inc.next_step_at == TimePoint{}) {
    return;
  }
  if (inc.next_step_at <= scheduler_.clock().Now()) {
    // Due now, or fell due while the process was down: fire once, at once.
    OnStepDue(id);
    return;
  }
  live.step_timer = scheduler_.ScheduleAt(inc.next_step_at, [this, id] { OnStepDue(id); });
}

void IncidentManager::ArmAckDeadline(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  if (live.ack_timer != 0) scheduler_.Cancel(live.ack_timer);
  live.ack_timer = 0;
  const Incident& inc = live.incident;
  if (stopped_ || inc.state != IncidentState::kAcknowledged || inc.ack_deadline == TimePoint{}) {
    return;
  }
  live.ack_timer = scheduler_.ScheduleAt(std::max(inc.ack_deadline, scheduler_.clock().Now()),
                                         [this, id] { OnAckDeadline(id); });
}

void IncidentManager::ArmReminder(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  if (live.reminder_timer != 0) scheduler_.Cancel(live.reminder_timer);
  live.reminder_timer = 0;
  const Incident& inc = live.incident;
  if (stopped_ || !inc.open() || inc.next_reminder_at == TimePoint{} || inc.sev > Sev::kSev2) {
    return;
  }
  live.reminder_timer = scheduler_.ScheduleAt(
      std::max(inc.next_reminder_at, scheduler_.clock().Now()), [this, id] { OnReminderDue(id); });
}

void IncidentManager::CountWriteFailure(std::string_view what) {
  if (write_failures_) write_failures_->Add({{"what", std::string(what)}}).Increment();
}

void IncidentManager::RetryLater(const std::string& id,
                                 void (IncidentManager::*fn)(const std::string&),
                                 std::string_view what) {
  CountWriteFailure(what);
  auto it = live_.find(id);
  if (it == live_.end() || stopped_) return;
  spdlog::error("incident {}: the {} could not be recorded; trying again in {}", id, what,
                FormatDuration(kStoreRetry));
  Live& live = it->second;
  if (live.retry_timer != 0) scheduler_.Cancel(live.retry_timer);
  // Owned by the incident: resolving it or stopping the manager cancels the retry.
  live.retry_timer = scheduler_.ScheduleAfter(kStoreRetry, [this, id, fn] {
    if (auto jt = live_.find(id); jt != live_.end()) jt->second.retry_timer = 0;
    (this->*fn)(id);
  });
}

void IncidentManager::OnStepDue(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  live.step_timer = 0;
  const Incident& cur = live.incident;
  if (cur.state != IncidentState::kTriggered || cur.next_step_at == TimePoint{}) return;
  if (auto r = PageNextStep(live, scheduler_.clock().Now(), {}, {}); !r) {
    RetryLater(id, &IncidentManager::OnStepDue, "ladder step");
    return;
  }
  ArmStep(id);
}

Result<Incident> IncidentManager::EscalateNow(const std::string& id, const std::string& actor,
                                              TimePoint now, std::string_view origin) {
  auto open = OpenLive(id);
  if (!open) return Fail(open.error());
  if (actor.empty()) return Fail(Error::Invalid("an escalation needs an actor"));
  Live& live = **open;
  if (live.last_escalate_request != TimePoint{} &&
      now - live.last_escalate_request < kEscalateDebounce) {
    return live.incident;
  }
  if (auto r = PageNextStep(live, now, actor, origin); !r) return Fail(r.error());
  live.last_escalate_request = now;
  ArmStep(id);
  return live.incident;
}

Result<void> IncidentManager::PageNextStep(Live& live, TimePoint now,
                                           const std::string& requested_by,
                                           std::string_view origin) {
  const Incident& cur = live.incident;
  const std::string id = cur.id;
  const bool requested = !requested_by.empty();
  const auto& policy = PolicyOf(cur);
  const int steps = static_cast<int>(policy.steps.size());
  if (steps == 0) {
    if (!requested) return {};
    return Fail(Error::Invalid(fmt::format("policy {} has no steps to escalate to", policy.name)));
  }
  const bool exhausted = cur.next_step < 0 || cur.next_step >= steps;
  if (exhausted && !requested) return {};
  // Asked for help after the last step: the last step is the most senior one, page it again.
  const int index = exhausted ? steps - 1 : cur.next_step;
  const auto& step = policy.steps[static_cast<std::size_t>(index)];
  std::vector<std::string> notes;
  auto targets = ResolveStep(cur, step, now, &notes);

  Incident next = cur;
  const TimePoint due = requested ? now : cur.next_step_at;
  // A requested escalation gets a key of its own: the same step may be asked for again once
  // the ladder is exhausted, and the outbox would drop a repeated key.
  std::string key = requested        ? fmt::format("{}/escalate/{}", id, cur.timeline_seq + 1)
                    : cur.epoch == 0 ? fmt::format("{}/step-{}/trigger", id, index)
                                     : fmt::format("{}/e{}/step-{}/trigger", id, cur.epoch, index);
  std::vector<TimelineEvent> events;
  if (requested) {
    events.push_back(Event(
        now, "escalated", requested_by,
        fmt::format("escalated by {}{}: step {} of policy {} is due now", requested_by, Via(origin),
                    index + 1, policy.name),
        json{{"step", index},
             {"requested", true},
             {"origin", std::string(origin)},
             {"was_due_at",
              cur.next_step_at == TimePoint{} ? std::string() : FormatRfc3339(cur.next_step_at)}}
            .dump()));
  } else if (index > 0 || cur.round > 0) {
    events.push_back(
        Event(now, "escalated", kSystemActor,
              fmt::format("step {} of policy {} (T0+{}){}", index + 1, policy.name,
                          FormatDuration(step.after),
                          cur.round > 0 ? fmt::format(", repeat {}", cur.round) : std::string()),
              json{{"step", index}, {"due_at", FormatRfc3339(due)}}.dump()));
  }
  json targets_json = json::array();
  std::string who;
  for (const auto& t : targets) {
    targets_json.push_back({{"person", t.person.id}, {"role", t.role}});
    who += fmt::format("{}{} ({})", who.empty() ? "" : ", ", t.person.id, t.role);
    if (std::find(next.paged.begin(), next.paged.end(), t.person.id) == next.paged.end()) {
      next.paged.push_back(t.person.id);
    }
  }
  for (const auto& n : notes) events.push_back(Event(now, "note", kSystemActor, n));
  // Only the decision: what reached the outbox ("queued") and the providers ("sent") is
  // recorded when it happens.
  json decided{{"step", index},
               {"idempotency_key", key},
               {"targets", targets_json},
               {"channels", ChannelNames(step.channels)},
               {"due_at", FormatRfc3339(due)}};
  events.push_back(
      targets.empty()
          ? Event(now, std::string(kEventNotPaged), kSystemActor,
                  fmt::format("not paged: nobody to page for step {}", index + 1), decided.dump())
          : Event(now, std::string(kEventPageDecided), kSystemActor,
                  fmt::format("step {} calls for {}", index + 1, who), decided.dump()));
  // Advance the ladder (an exhausted one stays exhausted).
  if (exhausted) {
    next.next_step_at = {};
  } else if (index + 1 < steps) {
    next.next_step = index + 1;
    next.next_step_at = next.ladder_start + policy.steps[static_cast<std::size_t>(index + 1)].after;
  } else if (next.round < policy.repeat) {
    ++next.round;
    ++next.epoch;
    next.next_step = 0;
    next.ladder_start = due + policy.repeat_after;
    next.next_step_at = next.ladder_start + policy.steps[0].after;
  } else {
    next.next_step = index + 1;
    next.next_step_at = {};
  }
  // An acknowledged incident's ladder stays stopped; next_step remembers where it stands.
  if (next.state != IncidentState::kTriggered) next.next_step_at = {};
  std::vector<PageRequest> pages;
  if (!targets.empty()) {
    PageRequest page = Request(cur, PageAction::kTrigger, key, now);
    page.step = index;
    page.targets = targets;
    pages.push_back(std::move(page));
  }
  return Apply(live, next, std::move(events), std::move(pages));
}

void IncidentManager::OnAckDeadline(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  live.ack_timer = 0;
  const TimePoint now = scheduler_.clock().Now();
  const Incident& cur = live.incident;
  if (cur.state != IncidentState::kAcknowledged || cur.ack_deadline == TimePoint{}) return;
  const auto& policy = PolicyOf(cur);
  Incident next = cur;
  next.state = IncidentState::kTriggered;
  ++next.epoch;
  next.ack_deadline = {};
  int steps = static_cast<int>(policy.steps.size());
  // Continue where the ack stopped the ladder; past its end, the last step is paged again.
  next.next_step = std::clamp(cur.next_step, 0, std::max(0, steps - 1));
  if (steps > 0) {
    next.ladder_start = now - policy.steps[static_cast<std::size_t>(next.next_step)].after;
    next.next_step_at = now;
  }
  auto ev = Event(now, "ack_timeout", kSystemActor,
                  fmt::format("acknowledged by {} at {} but not resolved within {}; "
                              "re-escalating",
                              cur.acknowledged_by, FormatRfc3339(cur.acknowledged_at),
                              FormatDuration(AckTimeoutOf(cur))));
  if (auto r = Apply(live, next, {ev}, {}); !r) {
    RetryLater(id, &IncidentManager::OnAckDeadline, "ack timeout");
    return;
  }
  ArmStep(id);
}

void IncidentManager::OnReminderDue(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& live = it->second;
  live.reminder_timer = 0;
  const TimePoint now = scheduler_.clock().Now();
  const Incident& cur = live.incident;
  if (!cur.open() || cur.next_reminder_at == TimePoint{} || cur.sev > Sev::kSev2) return;
  Incident next = cur;
  const TimePoint due = cur.next_reminder_at;
  // Reminders missed while down collapse into this one; the cadence keeps its phase.
  next.next_reminder_at = due + config_.reminder_interval;
  while (next.next_reminder_at <= now) next.next_reminder_at += config_.reminder_interval;
  std::string text = fmt::format(
      "{} status update due (every {}): post it to the war room and "
      "the status page",
      SevName(cur.sev), FormatDuration(config_.reminder_interval));
  auto ev =
      Event(now, "reminder", kSystemActor,
            fmt::format("reminded {}: {}", cur.commander.empty() ? "nobody" : cur.commander, text));
  std::vector<PageRequest> pages;
  if (auto p = PersonOf(cur.commander)) {
    auto page = Request(cur, PageAction::kReminder,
                        fmt::format("{}/reminder/{}", id, ToUnixMillis(due)), now);
    page.targets = {{*p, config_.commander_role, {Channel::kSlack}}};
    page.text = text;
    pages.push_back(std::move(page));
  }
  if (auto r = Apply(live, next, {ev}, std::move(pages)); !r) {
    RetryLater(id, &IncidentManager::OnReminderDue, "status reminder");
    return;
  }
  ArmReminder(id);
}

void IncidentManager::ArmHandoverWatch(TimePoint now) {
  if (handover_timer_ != 0) scheduler_.Cancel(handover_timer_);
  handover_timer_ = 0;
  if (!schedule_ || stopped_) return;
  auto at = schedule_->NextHandover(config_.commander_role, now);
  if (!at) return;
  handover_timer_ = scheduler_.ScheduleAt(*at, [this] {
    handover_timer_ = 0;
    OnHandover();
  });
}

void IncidentManager::OnHandover() {
  const TimePoint now = scheduler_.clock().Now();
  if (handover_retry_timer_ != 0) scheduler_.Cancel(handover_retry_timer_);
  handover_retry_timer_ = 0;
  bool failed = false;
  if (schedule_) {
    auto holders = schedule_->WhoHolds(config_.commander_role, now);
    std::vector<std::string> ids;
    for (const auto& [id, live] : live_) ids.push_back(id);
    for (const auto& id : ids) {
      auto it = live_.find(id);
      if (it == live_.end() || holders.empty()) continue;
      Live& live = it->second;
      const Incident& cur = live.incident;
      const std::string& incoming = holders.front();
      if (cur.commander == incoming) continue;
      Incident next = cur;
      next.commander = incoming;
      auto ev = Event(now, "handover", kSystemActor,
                      fmt::format("shift change: incident commander passes from {} to {}",
                                  cur.commander.empty() ? "nobody" : cur.commander, incoming),
                      json{{"from", cur.commander}, {"to", incoming}}.dump());
      std::vector<PageRequest> pages;
      if (auto p = PersonOf(incoming)) {
        auto page = Request(next, PageAction::kUpdate,
                            fmt::format("{}/handover/{}", id, ToUnixMillis(now)), now);
        page.targets = {{*p, config_.commander_role, {Channel::kSlack, Channel::kPagerDuty}}};
        page.text = fmt::format(
            "You are now incident commander of {} ({}), handed over by {} "
            "at the shift change; state: {}",
            id, cur.title, cur.commander.empty() ? "nobody" : cur.commander,
            IncidentStateName(cur.state));
        pages.push_back(std::move(page));
      }
      if (auto r = Apply(live, next, {ev}, std::move(pages)); !r) {
        CountWriteFailure("handover");
        failed = true;
      }
    }
  }
  if (failed && !stopped_) {
    // The incidents not handed over yet are found again: their commander is still the old one.
    ++handover_failures_;
    Duration delay = std::min<Duration>(kStoreRetry * handover_failures_, std::chrono::minutes(5));
    spdlog::error("commander handover not recorded for every incident; trying again in {}",
                  FormatDuration(delay));
    handover_retry_timer_ = scheduler_.ScheduleAfter(delay, [this] {
      handover_retry_timer_ = 0;
      OnHandover();
    });
  } else {
    handover_failures_ = 0;
  }
  ArmHandoverWatch(now);
}

}  // namespace tocsin::incident
