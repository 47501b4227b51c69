// IncidentManager, part 3 of 3: what time does to an open incident. The escalation ladder (a
// step falls due and its people are paged, or someone asks to escalate now), ack deadlines
// that re-escalate, the timer of SEV-1/2 status reminders (the reminder itself is in
// incident_status_update.cpp), commander handovers at shift change, and the retry of a
// transition the store refused. Timers only ever start an operation in the
// incident's lane (see incident_lanes.cpp); the operation checks that it is still due.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "incident/incident_manager_text.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

using manager_detail::ChannelNames;
using manager_detail::kStoreRetry;
using manager_detail::kSystemActor;
using manager_detail::Via;
using nlohmann::json;

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

void IncidentManager::CancelTimers(Live& live) {
  for (TimerId* t : {&live.step_timer, &live.ack_timer, &live.reminder_timer}) {
    if (*t != 0) scheduler_.Cancel(*t);
    *t = 0;
  }
  for (const auto& [fn, timer] : live.retries) scheduler_.Cancel(timer);
  live.retries.clear();
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

void IncidentManager::RetryLater(const std::string& id,
                                 void (IncidentManager::*fn)(const std::string&),
                                 std::string_view what) {
  CountWriteFailure(what);
  auto it = live_.find(id);
  if (it == live_.end() || stopped_) return;
  spdlog::error("incident {}: the {} could not be recorded; trying again in {}", id, what,
                FormatDuration(kStoreRetry));
  Live& live = it->second;
  auto same = [fn](const auto& r) { return r.first == fn; };
  if (auto r = std::find_if(live.retries.begin(), live.retries.end(), same);
      r != live.retries.end()) {
    scheduler_.Cancel(r->second);
    live.retries.erase(r);
  }
  // Owned by the incident: resolving it or stopping the manager cancels the retry.
  TimerId timer = scheduler_.ScheduleAfter(kStoreRetry, [this, id, fn, same] {
    if (auto jt = live_.find(id); jt != live_.end()) std::erase_if(jt->second.retries, same);
    (this->*fn)(id);
  });
  live.retries.emplace_back(fn, timer);
}

void IncidentManager::OnStepDue(const std::string& id) {
  if (auto it = live_.find(id); it != live_.end()) it->second.step_timer = 0;
  RunInLane(id, [this, id](Release release) {
    auto it = live_.find(id);
    if (it == live_.end()) return release();
    const TimePoint now = scheduler_.clock().Now();
    const Incident& cur = it->second.incident;
    // Waited in the lane behind a change (an ack, the previous step): only a step still due
    // is paged, so a step never goes out early.
    if (!StepDue(cur, now)) return release();
    PageNextStep(id, now, {}, {}, [this, id, release](Result<void> r) {
      if (!r) {
        RetryLater(id, &IncidentManager::OnStepDue, "ladder step");
      } else {
        ArmStep(id);
      }
      release();
    });
  });
}

void IncidentManager::DoEscalateNow(const std::string& id, const std::string& actor, TimePoint now,
                                    const std::string& origin, Done<Incident> done) {
  auto open = OpenLive(id);
  if (!open) return done(Fail(open.error()));
  if (actor.empty()) return done(Fail(Error::Invalid("an escalation needs an actor")));
  Live& live = **open;
  if (live.last_escalate_request != TimePoint{} &&
      now - live.last_escalate_request < kEscalateDebounce) {
    return done(live.incident);
  }
  PageNextStep(id, now, actor, origin, [this, id, now, done](Result<void> r) {
    if (!r) return done(Fail(r.error()));
    if (auto it = live_.find(id); it != live_.end()) it->second.last_escalate_request = now;
    ArmStep(id);
    done(Current(id));
  });
}

Result<std::optional<IncidentManager::StepDecision>> IncidentManager::DecideStep(
    const Incident& cur, TimePoint now, const std::string& requested_by,
    const std::string& origin) const {
  const std::string& id = cur.id;
  const bool requested = !requested_by.empty();
  const auto& policy = PolicyOf(cur);
  const int steps = static_cast<int>(policy.steps.size());
  const bool exhausted = cur.next_step < 0 || cur.next_step >= steps;
  if (exhausted && !requested) {
    if (cur.next_step_at == TimePoint{}) return std::optional<StepDecision>();
    // A step fell due that the policy no longer has: a reload (or a restart on a new
    // configuration) shortened it, or renamed it and the incident fell back on a shorter one.
    // The ladder goes on as after its last step (a repeat round, when the policy has one left)
    // or ends, and says so; left due, the step would be re-armed at once, again and again, and
    // never page anyone.
    Incident next = cur;
    next.next_step_at = {};
    std::string then = "the ladder ends here";
    if (steps > 0 && cur.round < policy.repeat) {
      ++next.round;
      ++next.epoch;
      next.next_step = 0;
      next.ladder_start = cur.next_step_at + policy.repeat_after;
      next.next_step_at = next.ladder_start + policy.steps[0].after;
      then = fmt::format("the ladder repeats from step 1 at {} (repeat {})",
                         FormatRfc3339(next.next_step_at), next.round);
    }
    std::vector<TimelineEvent> events{
        Event(now, "note", kSystemActor,
              fmt::format("step {} of the ladder was due, but policy {} now has {} step{}: {}",
                          cur.next_step + 1, policy.name, steps, steps == 1 ? "" : "s", then))};
    return std::optional<StepDecision>(StepDecision{std::move(next), std::move(events), {}});
  }
  if (steps == 0) {
    return Fail(Error::Invalid(fmt::format("policy {} has no steps to escalate to", policy.name)));
  }
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
    events.push_back(Event(now, "escalated", requested_by,
                           fmt::format("escalated by {}{}: step {} of policy {} is due now",
                                       requested_by, Via(origin), index + 1, policy.name),
                           DumpJson(json{{"step", index},
                                         {"requested", true},
                                         {"origin", std::string(origin)},
                                         {"was_due_at", cur.next_step_at == TimePoint{}
                                                            ? std::string()
                                                            : FormatRfc3339(cur.next_step_at)}})));
  } else if (index > 0 || cur.round > 0) {
    events.push_back(
        Event(now, "escalated", kSystemActor,
              fmt::format("step {} of policy {} (T0+{}){}", index + 1, policy.name,
                          FormatDuration(step.after),
                          cur.round > 0 ? fmt::format(", repeat {}", cur.round) : std::string()),
              DumpJson(json{{"step", index}, {"due_at", FormatRfc3339(due)}})));
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
  events.push_back(targets.empty()
                       ? Event(now, std::string(kEventNotPaged), kSystemActor,
                               fmt::format("not paged: nobody to page for step {}", index + 1),
                               DumpJson(decided))
                       : Event(now, std::string(kEventPageDecided), kSystemActor,
                               fmt::format("step {} calls for {}", index + 1, who),
                               DumpJson(decided)));
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
  return std::optional<StepDecision>(
      StepDecision{std::move(next), std::move(events), std::move(pages)});
}

bool IncidentManager::StepDue(const Incident& inc, TimePoint now) {
  return inc.state == IncidentState::kTriggered && inc.next_step_at != TimePoint{} &&
         inc.next_step_at <= now;
}

void IncidentManager::DecideFirstStepNow(Incident& inc, std::vector<TimelineEvent>& events,
                                         std::vector<PageRequest>& pages, TimePoint now) const {
  if (!StepDue(inc, now)) return;
  auto decided = DecideStep(inc, now, {}, {});
  // Not requested: DecideStep fails only for a request, so `decided` holds a value.
  if (!decided || !*decided) return;
  inc = std::move((*decided)->next);
  for (auto& e : (*decided)->events) events.push_back(std::move(e));
  for (auto& p : (*decided)->pages) pages.push_back(std::move(p));
}

void IncidentManager::PageNextStep(const std::string& id, TimePoint now,
                                   const std::string& requested_by, const std::string& origin,
                                   Done<void> done) {
  auto decided = DecideStep(live_.at(id).incident, now, requested_by, origin);
  if (!decided) return done(Fail(decided.error()));
  if (!*decided) return done({});
  StepDecision& d = **decided;
  Apply(id, std::move(d.next), std::move(d.events), std::move(d.pages), std::nullopt,
        [done](Result<Incident> r) { done(r ? Result<void>() : Result<void>(Fail(r.error()))); });
}

void IncidentManager::OnAckDeadline(const std::string& id) {
  if (auto it = live_.find(id); it != live_.end()) it->second.ack_timer = 0;
  RunInLane(id, [this, id](Release release) { AckDeadlinePassed(id, std::move(release)); });
}

void IncidentManager::AckDeadlinePassed(const std::string& id, Release release) {
  auto it = live_.find(id);
  if (it == live_.end()) return release();
  const TimePoint now = scheduler_.clock().Now();
  const Incident& cur = it->second.incident;
  // Waited in the lane behind a change that moved or cleared the deadline: nothing is due.
  if (cur.state != IncidentState::kAcknowledged || cur.ack_deadline == TimePoint{} ||
      cur.ack_deadline > now) {
    return release();
  }
  const auto& policy = PolicyOf(cur);
  Incident next = cur;
  // Continue where the ack stopped the ladder; past its end, the last step is paged again.
  const bool steps = ResumeLadder(next, now);
  auto ev = Event(now, "ack_timeout", kSystemActor,
                  // The timeout the deadline was set with when the ack was taken: a reload since
                  // may have changed the configured one.
                  fmt::format("acknowledged by {} at {} but not resolved within {}; {}",
                              cur.acknowledged_by, FormatRfc3339(cur.acknowledged_at),
                              FormatDuration(cur.ack_deadline - cur.acknowledged_at),
                              steps ? std::string("re-escalating")
                                    : fmt::format("policy {} has no step to page, so "
                                                  "nobody is paged",
                                                  policy.name)));
  Apply(id, std::move(next), {ev}, {}, std::nullopt, [this, id, release](Result<Incident> r) {
    if (!r) {
      RetryLater(id, &IncidentManager::OnAckDeadline, "ack timeout");
    } else {
      ArmStep(id);
    }
    release();
  });
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
  std::size_t due = 0;
  if (schedule_) {
    auto holders = schedule_->WhoHolds(config_.commander_role, now);
    if (!holders.empty()) {
      const std::string incoming = holders.front();
      std::vector<std::string> ids;
      for (const auto& [id, live] : live_) {
        if (live.incident.commander != incoming) ids.push_back(id);
      }
      due = ids.size();
      for (const auto& id : ids) {
        HandOver(id, incoming, now, [this](Result<void> r) {
          if (r) return;
          CountWriteFailure("handover");
          ScheduleHandoverRetry();
        });
      }
    }
  }
  if (due == 0) handover_failures_ = 0;
  ArmHandoverWatch(now);
}

void IncidentManager::ScheduleHandoverRetry() {
  // The incidents not handed over yet are found again: their commander is still the old one.
  if (stopped_ || handover_retry_timer_ != 0) return;
  ++handover_failures_;
  Duration delay = std::min<Duration>(kStoreRetry * handover_failures_, std::chrono::minutes(5));
  spdlog::error("commander handover not recorded for every incident; trying again in {}",
                FormatDuration(delay));
  handover_retry_timer_ = scheduler_.ScheduleAfter(delay, [this] {
    handover_retry_timer_ = 0;
    OnHandover();
  });
}

void IncidentManager::HandOver(const std::string& id, const std::string& incoming, TimePoint now,
                               Done<void> done) {
  RunInLane(id, [this, id, incoming, now, done](Release release) {
    auto it = live_.find(id);
    if (it == live_.end() || it->second.incident.commander == incoming) {
      release();
      return done({});
    }
    const Incident& cur = it->second.incident;
    Incident next = cur;
    next.commander = incoming;
    auto ev = Event(now, "handover", kSystemActor,
                    fmt::format("shift change: incident commander passes from {} to {}",
                                cur.commander.empty() ? "nobody" : cur.commander, incoming),
                    DumpJson(json{{"from", cur.commander}, {"to", incoming}}));
    std::vector<PageRequest> pages;
    if (auto p = PersonOf(incoming)) {
      auto page = Request(next, PageAction::kUpdate,
                          fmt::format("{}/handover/{}", id, ToUnixMillis(now)), now);
      // Told in the incident's Slack thread (an update pages nobody: PagerDuty has none).
      page.targets = {{*p, config_.commander_role, {Channel::kSlack}}};
      page.text = fmt::format(
          "You are now incident commander of {} ({}), handed over by {} "
          "at the shift change; state: {}",
          id, cur.title, cur.commander.empty() ? "nobody" : cur.commander,
          IncidentStateName(cur.state));
      pages.push_back(std::move(page));
    }
    Apply(id, std::move(next), {ev}, std::move(pages), std::nullopt,
          [release, done](Result<Incident> r) {
            release();
            done(r ? Result<void>() : Result<void>(Fail(r.error())));
          });
  });
}

}  // namespace tocsin::incident
