// IncidentManager, part 2 of 3: an incident's life outside the ladder: opened (or reopened, or
// updated) from an alert group, acknowledged, resolved, annotated. Each body runs with its
// lane held (see incident_lanes.cpp) and ends in `done` once its change is durable.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "incident/incident_manager_text.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

using manager_detail::kSystemActor;
using manager_detail::OriginData;
using manager_detail::Via;

namespace {

using nlohmann::json;

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

bool HasFiring(const std::vector<Alert>& alerts, TimePoint now) {
  return std::any_of(alerts.begin(), alerts.end(),
                     [now](const Alert& a) { return a.firing() && !a.ResolvedAt(now); });
}

// The alerts as the incident keeps them: one whose endsAt has passed is resolved, whatever
// state it was last sent with (the API, the panel and the next flush's "fired again" read it).
std::vector<Alert> AsKept(const std::vector<Alert>& alerts, TimePoint now) {
  std::vector<Alert> out = alerts;
  for (auto& a : out) {
    if (a.firing() && a.ResolvedAt(now)) a.state = AlertState::kResolved;
  }
  return out;
}

}  // namespace

void IncidentManager::DoOpen(const dispatch::AlertGroup& group, const std::string& actor,
                             TimePoint now, Done<Incident> done,
                             const std::optional<DrillSpec>& drill) {
  // Changes of an existing incident go through its own lane; `done` then reports the state
  // after whatever the change set off (a step due at once).
  auto in_incident_lane = [this, done](const std::string& id, auto body) {
    RunInLane(id, [this, id, body, done](Release release) {
      body([this, id, release, done](Result<Incident> r) {
        release();
        if (r) {
          if (auto it = live_.find(id); it != live_.end()) r = it->second.incident;
        }
        done(std::move(r));
      });
    });
  };
  if (drill && (open_by_key_.count(group.key) || recent_resolved_.count(group.key))) {
    // A drill never folds into another incident, nor reopens one.
    return done(Fail(Error::Conflict(fmt::format("the key {} is in use", group.key))));
  }
  if (auto it = open_by_key_.find(group.key); it != open_by_key_.end()) {
    const std::string id = it->second;
    in_incident_lane(id, [this, id, group, actor, now](Done<Incident> finish) {
      if (live_.find(id) == live_.end()) {
        // Resolved while this waited for the lane: reopened here, in the lane this holds
        // (DoOpen would queue the reopen behind this very lane and wait for itself: the
        // group would never page again), or opened afresh when it may not be reopened.
        auto r = recent_resolved_.find(group.key);
        if (r != recent_resolved_.end() && r->second.id == id &&
            now - r->second.resolved_at <= config_.reopen_window) {
          if (!HasFiring(group.alerts, now)) {
            return finish(
                Fail(Error::NotFound("no firing alert in the group: no incident to open")));
          }
          Incident resolved = r->second;
          Reopen(resolved, group, now, std::move(finish));
          return;
        }
        DoOpen(group, actor, now, std::move(finish));
        return;
      }
      UpdateFromGroup(id, group, now, std::move(finish));
    });
    return;
  }
  if (!HasFiring(group.alerts, now)) {
    return done(Fail(Error::NotFound("no firing alert in the group: no incident to open")));
  }
  if (auto it = recent_resolved_.find(group.key);
      it != recent_resolved_.end() && now - it->second.resolved_at <= config_.reopen_window) {
    Incident resolved = it->second;
    in_incident_lane(resolved.id, [this, resolved, group, now](Done<Incident> finish) {
      Reopen(resolved, group, now, std::move(finish));
    });
    return;
  }
  if (next_number_ == 0) {
    // Start() reads it; a manager used without Start() reads it on its first incident.
    auto number = store_.PeekNextIncidentNumber();
    if (!number) return done(Fail(number.error()));
    next_number_ = *number;
  }
  Incident inc;
  inc.number = next_number_++;
  inc.id = fmt::format("INC-{}", inc.number);
  inc.key = group.key.empty() ? "manual/" + inc.id : group.key;
  inc.title = TitleOf(group);
  if (drill) {
    inc.drill = true;
    inc.title = std::string(kDrillMark) + inc.title;
  }
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
  inc.alerts = AsKept(group.alerts, now);
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
  json opened_data = {{"key", inc.key}, {"receiver", inc.receiver}};
  if (drill) {
    opened_data["drill"] = {
        {"scenario", drill->scenario}, {"team", drill->team}, {"runbook", drill->runbook}};
  }
  events.insert(events.begin(), Event(now, "opened", actor,
                                      fmt::format("{} opened: {} (policy {}, commander {})",
                                                  SevName(inc.sev), inc.title, inc.policy,
                                                  inc.commander.empty() ? "none" : inc.commander),
                                      DumpJson(opened_data)));
  for (const auto& a : group.alerts) {
    if (!a.firing()) continue;
    events.push_back(Event(now, "alert_fired", kSystemActor, std::string(a.Name()),
                           DumpJson(json{{"fingerprint", a.fingerprint().ToString()},
                                         {"severity", std::string(SeverityName(a.severity))}})));
  }
  const std::string id = inc.id;
  std::vector<PageRequest> pages;
  DecideFirstStepNow(inc, events, pages, now);
  Apply(id, std::move(inc), std::move(events), std::move(pages), std::nullopt,
        [this, id, done](Result<Incident> r) {
          if (!r) return done(std::move(r));
          open_by_key_[r->key] = id;
          live_[id].incident = *r;
          spdlog::info("incident {} opened ({}, {})", id, SevName(r->sev), r->title);
          ArmReminder(id);
          ArmStep(id);  // the next step; one also due at once fires inside this call
          done(live_.count(id) ? live_.at(id).incident : *r);
        });
}

void IncidentManager::Reopen(const Incident& resolved, const dispatch::AlertGroup& group,
                             TimePoint now, Done<Incident> done) {
  // Notes and delivery reports keep landing on a resolved incident, so the copy kept since
  // the resolve may be behind the store: reopen the stored incident, never the copy.
  auto stored = store_.Get(resolved.id);
  if (!stored) return done(Fail(stored.error()));
  if (!*stored) return done(Fail(Error::NotFound(fmt::format("no incident {}", resolved.id))));
  const Incident& old = **stored;
  Incident inc = old;
  inc.state = IncidentState::kTriggered;
  inc.alerts = AsKept(group.alerts, now);
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
  // The commander is whoever holds the role now, as at an opening: the first opening's may be
  // off shift by now (a shift change passes only open incidents on).
  if (schedule_) {
    auto holders = schedule_->WhoHolds(config_.commander_role, now);
    if (!holders.empty()) inc.commander = holders.front();
  }
  std::string text = fmt::format("alerts fire again {} after the resolve; the ladder restarts",
                                 FormatDuration(now - old.resolved_at));
  if (inc.commander != old.commander) {
    text += fmt::format("; incident commander is now {} (was {})", inc.commander,
                        old.commander.empty() ? "nobody" : old.commander);
  }
  auto ev = Event(now, "reopened", kSystemActor, std::move(text));
  std::vector<TimelineEvent> events{std::move(ev)};
  std::vector<PageRequest> pages;
  DecideFirstStepNow(inc, events, pages, now);
  const std::string reopened = inc.id;
  Apply(reopened, std::move(inc), std::move(events), std::move(pages), std::nullopt,
        [this, done](Result<Incident> r) {
          if (!r) return done(std::move(r));
          const std::string id = r->id;
          recent_resolved_.erase(r->key);
          open_by_key_[r->key] = id;
          live_[id].incident = *r;
          ArmReminder(id);
          ArmStep(id);
          done(live_.count(id) ? live_.at(id).incident : *r);
        });
}

void IncidentManager::UpdateFromGroup(const std::string& id, const dispatch::AlertGroup& group,
                                      TimePoint now, Done<Incident> done) {
  const Incident& cur = live_.at(id).incident;
  Incident next = cur;
  std::vector<TimelineEvent> events;
  std::map<Fingerprint, bool> was_firing;
  for (const auto& a : cur.alerts) was_firing[a.fingerprint()] = a.firing();
  for (const auto& a : group.alerts) {
    bool firing = a.firing() && !a.ResolvedAt(now);
    auto it = was_firing.find(a.fingerprint());
    bool before = it != was_firing.end() && it->second;
    if (firing && !before) {
      events.push_back(Event(now, "alert_fired", kSystemActor, std::string(a.Name()),
                             DumpJson(json{{"fingerprint", a.fingerprint().ToString()}})));
    } else if (!firing && before) {
      events.push_back(Event(now, "alert_resolved", kSystemActor, std::string(a.Name()),
                             DumpJson(json{{"fingerprint", a.fingerprint().ToString()}})));
    }
  }
  next.alerts = AsKept(group.alerts, now);
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
  if (all_resolved && ResolveModeOf(next) == ResolveMode::kManual &&
      std::any_of(events.begin(), events.end(),
                  [](const TimelineEvent& e) { return e.kind == "alert_resolved"; })) {
    events.push_back(Event(now, "note", kSystemActor,
                           "all alerts resolved; the policy waits for a human to resolve"));
  }
  auto after = [this, id, all_resolved, now, done]() {
    ArmReminder(id);
    auto it = live_.find(id);
    if (it == live_.end()) return done(Get(id));
    if (all_resolved && ResolveModeOf(it->second.incident) == ResolveMode::kAuto) {
      return DoResolve(id, kSystemActor, true, now, {}, std::nullopt, done);
    }
    done(it->second.incident);
  };
  if (events.empty() && next.alerts == cur.alerts) return after();
  Apply(id, std::move(next), std::move(events), {}, std::nullopt,
        [after, done](Result<Incident> r) {
          if (!r) return done(std::move(r));
          after();
        });
}

void IncidentManager::DoAcknowledge(const std::string& id, const std::string& actor, TimePoint now,
                                    const std::string& origin,
                                    const std::optional<InboundDelivery>& delivery,
                                    Done<Incident> done) {
  auto open = OpenLive(id);
  if (!open) return done(Fail(open.error()));
  if (actor.empty()) return done(Fail(Error::Invalid("an acknowledgement needs an actor")));
  if (schedule_ && !IsProviderOrigin(origin) && !schedule_->roster().FindPerson(actor)) {
    std::vector<std::string> ids;
    for (const auto& [pid, p] : schedule_->roster().people) ids.push_back(pid);
    std::string hint = config::Suggest(actor, ids);
    return done(Fail(Error::Unauthorized(
        fmt::format("\"{}\" is not a person of the roster; only rostered people can "
                    "acknowledge{}",
                    actor, hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"))));
  }
  Live& live = **open;
  if (live.incident.state == IncidentState::kAcknowledged) return done(live.incident);
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
  page.origin = origin;
  // Stopped while the ack is written: a step falling due meanwhile must not page.
  CancelTimers(live);
  Apply(id, std::move(next), {ev}, {page}, delivery, [this, id, done](Result<Incident> r) {
    if (!r) {
      ArmStep(id);
      ArmReminder(id);
      return done(std::move(r));
    }
    ArmAckDeadline(id);
    ArmReminder(id);
    done(std::move(r));
  });
}

bool AckWithdrawableFrom(const Incident& incident, std::string_view origin) {
  return incident.state == IncidentState::kAcknowledged && !origin.empty() &&
         incident.acknowledged_by.starts_with(std::string(origin) + ":");
}

bool IncidentManager::ResumeLadder(Incident& next, TimePoint now) const {
  const auto& policy = PolicyOf(next);
  next.state = IncidentState::kTriggered;
  ++next.epoch;
  next.ack_deadline = {};
  const int steps = static_cast<int>(policy.steps.size());
  next.next_step = std::clamp(next.next_step, 0, std::max(0, steps - 1));
  if (steps == 0) return false;
  next.ladder_start = now - policy.steps[static_cast<std::size_t>(next.next_step)].after;
  next.next_step_at = now;
  return true;
}

void IncidentManager::DoUnacknowledge(const std::string& id, const std::string& actor,
                                      TimePoint now, const std::string& origin,
                                      const std::optional<InboundDelivery>& delivery,
                                      Done<Incident> done) {
  auto open = OpenLive(id);
  if (!open) return done(Fail(open.error()));
  Live& live = **open;
  // Only an ack taken at the same provider is withdrawn there: a late or repeated withdrawal,
  // one after tocsin's own ack timeout re-escalated, or one of an ack given since in Slack or
  // by another provider (still standing) changes nothing.
  if (!AckWithdrawableFrom(live.incident, origin)) return done(live.incident);
  Incident next = live.incident;
  const bool pages = ResumeLadder(next, now);
  auto ev = Event(
      now, "unacknowledged", actor.empty() ? kSystemActor : actor,
      fmt::format("{} withdrew the acknowledgement by {}{}; {}",
                  actor.empty() ? kSystemActor : actor, live.incident.acknowledged_by, Via(origin),
                  pages ? std::string("re-escalating")
                        : fmt::format("policy {} has no step to page, so nobody is paged",
                                      PolicyOf(next).name)),
      OriginData(origin));
  CancelTimers(live);  // the ack deadline goes with the ack
  Apply(id, std::move(next), {ev}, {}, delivery, [this, id, done](Result<Incident> r) {
    if (!r) {
      ArmAckDeadline(id);  // still acknowledged
      ArmReminder(id);
      return done(std::move(r));
    }
    ArmStep(id);
    ArmReminder(id);
    done(std::move(r));
  });
}

void IncidentManager::DoResolve(const std::string& id, const std::string& actor, bool automatic,
                                TimePoint now, const std::string& origin,
                                const std::optional<InboundDelivery>& delivery,
                                Done<Incident> done) {
  Incident next = live_.at(id).incident;
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
  page.origin = origin;
  Apply(id, std::move(next), {ev}, {page}, delivery,
        [this, id, actor, now, done](Result<Incident> r) {
          if (!r) return done(std::move(r));
          auto it = live_.find(id);
          if (it != live_.end()) {
            CancelTimers(it->second);
            live_.erase(it);
          }
          open_by_key_.erase(r->key);
          recent_resolved_[r->key] = *r;
          ForgetResolvedBefore(now - config_.reopen_window);
          spdlog::info("incident {} resolved by {}", id, actor);
          done(std::move(r));
        });
}

void IncidentManager::ForgetResolvedBefore(TimePoint cutoff) {
  // A sweep only when the map has doubled since the last one: amortised O(1) per resolve, and
  // at most twice as many entries as incidents resolved within reopen_window.
  if (recent_resolved_.size() < next_resolved_sweep_) return;
  std::erase_if(recent_resolved_, [&](const auto& kv) { return kv.second.resolved_at < cutoff; });
  next_resolved_sweep_ = std::max(kMinResolvedSweep, 2 * recent_resolved_.size());
}

void IncidentManager::DoAddNote(const std::string& id, const std::string& actor,
                                const std::string& text, TimePoint now, const std::string& origin,
                                const std::optional<InboundDelivery>& delivery,
                                Done<Incident> done) {
  if (text.empty()) return done(Fail(Error::Invalid("a note needs text")));
  if (actor.empty()) return done(Fail(Error::Invalid("a note needs an actor")));
  auto it = live_.find(id);
  if (it == live_.end()) {
    // Notes on resolved incidents (post-mortem findings) are still recorded.
    auto stored = Get(id);
    if (!stored) return done(std::move(stored));
    auto ev = Event(now, "note", actor, text, OriginData(origin));
    Apply(id, *stored, {ev}, {}, delivery, std::move(done));
    return;
  }
  Incident next = it->second.incident;
  // A note is the status update the reminder asks for: the next reminder is a full interval on.
  if (next.next_reminder_at != TimePoint{}) next.next_reminder_at = now + config_.reminder_interval;
  auto ev = Event(now, "note", actor, text, OriginData(origin));
  auto page =
      Request(next, PageAction::kNote, fmt::format("{}/note/{}", id, next.timeline_seq + 1), now);
  page.text = text;
  page.actor = actor;
  page.origin = origin;
  Apply(id, std::move(next), {ev}, {page}, delivery, [this, id, done](Result<Incident> r) {
    if (r) ArmReminder(id);
    done(std::move(r));
  });
}

}  // namespace tocsin::incident
