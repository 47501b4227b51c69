// IncidentManager, part 1 of 3: construction, start and stop, the public calls in both forms
// (the per-incident lanes and the asynchronous commit: incident_lanes.cpp; reads and settings:
// incident_manager_reads.cpp; a standby's forwarded changes: incident_forwarded.cpp).
// The transitions themselves are in incident_lifecycle.cpp (open, acknowledge, resolve, notes) and
// incident_escalation.cpp (ladder, ack deadlines, reminders, handovers).
#include "tocsin/incident/incident_manager.h"

#include <algorithm>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "incident/incident_manager_text.h"
#include "incident/page_handoff.h"
#include "tocsin/incident/forwarded_change.h"

namespace tocsin::incident {

using manager_detail::kResumeChunk;
using manager_detail::kSystemActor;

namespace {

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

}  // namespace

IncidentManager::IncidentManager(Scheduler& scheduler, IncidentStore& store, Pager& pager,
                                 std::shared_ptr<const oncall::Schedule> schedule,
                                 PolicySet policies, IncidentsConfig config,
                                 prometheus::Registry* registry)
    : scheduler_(scheduler),
      store_(store),
      schedule_(std::move(schedule)),
      policies_(std::move(policies)),
      config_(std::move(config)),
      fallback_policy_(DefaultPolicy()),
      handoff_(std::make_unique<PageHandoff>(
          scheduler, pager,
          [this](const std::string& id, std::vector<TimelineEvent> events, std::string key,
                 PageHandoff::Recorded done) {
            Record(id, std::move(events), std::move(key), std::move(done));
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

IncidentManager::~IncidentManager() {
  *alive_ = false;
  Stop();
}

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
  auto number = store_.PeekNextIncidentNumber();
  if (!number) return Fail(number.error());
  next_number_ = *number;
  for (auto& inc : *resolved) {
    if (now - inc.resolved_at <= config_.reopen_window) recent_resolved_.emplace(inc.key, inc);
  }
  for (auto& inc : *open) {
    open_by_key_[inc.key] = inc.id;
    live_[inc.id].incident = std::move(inc);
  }
  // Pages decided before the crash whose "queued" record never landed go out on the following
  // loop turns, with their original idempotency keys (HandPendingPages).
  auto pending = store_.PendingPages();
  if (!pending) return Fail(pending.error());
  started_ = true;
  HandPendingPages(std::move(*pending));
  // Then every incident's timers; a deadline that passed while the process was down fires
  // now. After a storm this is thousands of steps: the first kResumeChunk incidents are armed
  // here, the rest in chunks of as many on the following loop turns, so the daemon serves (and
  // acks are taken) meanwhile. Nothing is lost by waiting a turn: every Arm* re-arms from the
  // state in memory at the time it runs, and a step that an ack made moot is not paged
  // (OnStepDue checks).
  struct ResumeChunk {
    IncidentManager* self;
    std::shared_ptr<bool> alive;
    std::shared_ptr<std::vector<std::string>> ids;
    std::size_t next = 0;
    void operator()() {
      if (!*alive || self->stopped_) return;
      for (std::size_t n = 0; n < kResumeChunk && next < ids->size(); ++n) {
        self->ArmIncident((*ids)[next++]);
      }
      if (next < ids->size()) self->scheduler_.Post(*this);
    }
  };
  auto ids = std::make_shared<std::vector<std::string>>();
  ids->reserve(live_.size());
  for (const auto& [id, live] : live_) ids->push_back(id);
  ResumeChunk{this, alive_, std::move(ids)}();
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
  // The commander is who holds the role under the new roster now (an override in force from
  // now on, a changed rotation), not only from the next shift change; and the watch is armed
  // for the new roster's next one.
  OnHandover();
  // Re-armed under the new settings; an incident resolved meanwhile has no timers left.
  ArmEveryIncident();
}

void IncidentManager::ArmEveryIncident() {
  // By id: arming may page at once and resolve or change incidents.
  std::vector<std::string> ids;
  for (const auto& [id, live] : live_) ids.push_back(id);
  for (const auto& id : ids) ArmIncident(id);
}

void IncidentManager::ArmIncident(const std::string& id) {
  ArmStep(id);
  ArmAckDeadline(id);
  ArmReminder(id);
}

// --- Public calls --------------------------------------------------------------------------

void IncidentManager::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  if (group.receiver.escalation_policy.empty()) {
    // A receiver that a reload left without an escalation policy: the incident its group has
    // open still hears of the group (its resolve above all: else it escalates on and never
    // resolves itself). Nothing is opened or reopened for it. In the group's lane, as an open
    // is: an open in progress finishes first, and an earlier flush waiting there goes first.
    // Most such groups are plain notices with nothing open and nothing opening: they cost a
    // lookup here, not a copy of their alerts into a lane.
    std::string lane = "group/" + group.key;
    if (read_only_ || (open_by_key_.count(group.key) == 0 && lanes_.count(lane) == 0)) return;
    RunInLane(lane, [this, group, now](Release release) {
      auto open = open_by_key_.find(group.key);
      if (open == open_by_key_.end()) return release();
      const std::string id = open->second;
      RunInLane(id, [this, id, group, now, release](Release in_incident) {
        auto done = [release, in_incident, key = group.key](Result<Incident> r) {
          in_incident();
          release();
          if (!r) spdlog::error("group {}: {}", key, r.error().ToString());
        };
        if (live_.find(id) == live_.end()) return done(Incident{});  // resolved meanwhile
        UpdateFromGroup(id, group, now, done);
      });
    });
    return;
  }
  OpenAsync(group, kSystemActor, now, [key = group.key](Result<Incident> r) {
    if (!r && r.error().kind() != Error::Kind::kNotFound) {
      spdlog::error("group {}: {}", key, r.error().ToString());
    }
  });
}

void IncidentManager::OpenAsync(dispatch::AlertGroup group, std::string actor, TimePoint now,
                                Done<Incident> done) {
  if (read_only_) {
    // A person's incident goes to the active; the groups of this instance's own dispatcher
    // never do (the active's dispatcher opens those from the same alerts).
    if (actor == kSystemActor) return done(Fail(Error::Transient(*read_only_)));
    auto change = MakeForwardedChange(ForwardedChange::Kind::kOpen, {}, actor, "api");
    change.group = std::move(group);
    ForwardOrRefuse(std::move(change), done);
    return;
  }
  // The group's lane: a second flush of the group while its incident is being opened waits,
  // then finds it open and updates it. Named before the call: as an argument beside the
  // capture that moves `group`, the key could be read after the move (the order of arguments
  // is unspecified), putting every open in one lane "group/" and opening them one at a time.
  const std::string lane = "group/" + group.key;
  RunInLane(lane, [this, group = std::move(group), actor = std::move(actor), now,
                   done = std::move(done)](Release release) {
    DoOpen(group, actor, now, [release, done](Result<Incident> r) {
      release();
      done(std::move(r));
    });
  });
}

void IncidentManager::AcknowledgeAsync(std::string id, std::string actor, TimePoint now,
                                       std::string origin, std::optional<InboundDelivery> delivery,
                                       Done<Incident> done) {
  if (read_only_ && ForwardOrRefuse(MakeForwardedChange(ForwardedChange::Kind::kAcknowledge, id,
                                                        actor, origin, delivery),
                                    done)) {
    return;
  }
  RunInLane(id, [=, this](Release release) {
    DoAcknowledge(id, actor, now, origin, delivery, [this, id, release, done](Result<Incident> r) {
      release();
      if (r) {
        if (auto it = live_.find(id); it != live_.end()) r = it->second.incident;
      }
      done(std::move(r));
    });
  });
}

void IncidentManager::UnacknowledgeAsync(std::string id, std::string actor, TimePoint now,
                                         std::string origin,
                                         std::optional<InboundDelivery> delivery,
                                         Done<Incident> done) {
  if (read_only_ && ForwardOrRefuse(MakeForwardedChange(ForwardedChange::Kind::kUnacknowledge, id,
                                                        actor, origin, delivery),
                                    done)) {
    return;
  }
  RunInLane(id, [=, this](Release release) {
    DoUnacknowledge(id, actor, now, origin, delivery,
                    [this, id, release, done](Result<Incident> r) {
                      release();
                      if (r) {
                        if (auto it = live_.find(id); it != live_.end()) r = it->second.incident;
                      }
                      done(std::move(r));
                    });
  });
}

void IncidentManager::ResolveAsync(std::string id, std::string actor, TimePoint now,
                                   std::string origin, std::optional<InboundDelivery> delivery,
                                   Done<Incident> done) {
  if (read_only_ && ForwardOrRefuse(MakeForwardedChange(ForwardedChange::Kind::kResolve, id, actor,
                                                        origin, delivery),
                                    done)) {
    return;
  }
  RunInLane(id, [=, this](Release release) {
    if (live_.find(id) == live_.end()) {
      release();
      done(Current(id));  // already resolved: resolving again changes nothing
      return;
    }
    if (actor.empty()) {
      release();
      done(Fail(Error::Invalid("a resolve needs an actor")));
      return;
    }
    DoResolve(id, actor, false, now, origin, delivery, [release, done](Result<Incident> r) {
      release();
      done(std::move(r));
    });
  });
}

void IncidentManager::AddNoteAsync(std::string id, std::string actor, std::string text,
                                   TimePoint now, std::string origin,
                                   std::optional<InboundDelivery> delivery, Done<Incident> done) {
  if (read_only_) {
    auto change = MakeForwardedChange(ForwardedChange::Kind::kNote, id, actor, origin, delivery);
    change.text = text;
    if (ForwardOrRefuse(std::move(change), done)) return;
  }
  RunInLane(id, [=, this](Release release) {
    DoAddNote(id, actor, text, now, origin, delivery, [release, done](Result<Incident> r) {
      release();
      done(std::move(r));
    });
  });
}

void IncidentManager::EscalateNowAsync(std::string id, std::string actor, TimePoint now,
                                       std::string origin, Done<Incident> done) {
  if (read_only_ &&
      ForwardOrRefuse(MakeForwardedChange(ForwardedChange::Kind::kEscalate, id, actor, origin),
                      done)) {
    return;
  }
  RunInLane(id, [=, this](Release release) {
    DoEscalateNow(id, actor, now, origin, [this, id, release, done](Result<Incident> r) {
      release();
      if (r) {
        if (auto it = live_.find(id); it != live_.end()) r = it->second.incident;
      }
      done(std::move(r));
    });
  });
}

void IncidentManager::RecordDeliveryAsync(InboundDelivery delivery, Done<void> done) {
  if (read_only_ && ForwardOrRefuse(MakeForwardedChange(ForwardedChange::Kind::kRecordDelivery, {},
                                                        {}, {}, delivery),
                                    [done](Result<Incident> r) {
                                      if (!r) return done(Fail(r.error()));
                                      done({});
                                    })) {
    return;
  }
  store_.RecordDeliveryAsync(std::move(delivery), [alive = alive_, done](Result<void> r) {
    if (*alive) done(std::move(r));
  });
}

Result<Incident> IncidentManager::Open(const dispatch::AlertGroup& group, const std::string& actor,
                                       TimePoint now) {
  return Inline<Incident>([&](Done<Incident> d) { OpenAsync(group, actor, now, std::move(d)); });
}

Result<Incident> IncidentManager::Acknowledge(const std::string& id, const std::string& actor,
                                              TimePoint now, std::string_view origin,
                                              const std::optional<InboundDelivery>& delivery) {
  return Inline<Incident>([&](Done<Incident> d) {
    AcknowledgeAsync(id, actor, now, std::string(origin), delivery, std::move(d));
  });
}

Result<Incident> IncidentManager::Resolve(const std::string& id, const std::string& actor,
                                          TimePoint now, std::string_view origin,
                                          const std::optional<InboundDelivery>& delivery) {
  return Inline<Incident>([&](Done<Incident> d) {
    ResolveAsync(id, actor, now, std::string(origin), delivery, std::move(d));
  });
}

Result<Incident> IncidentManager::AddNote(const std::string& id, const std::string& actor,
                                          const std::string& text, TimePoint now,
                                          std::string_view origin,
                                          const std::optional<InboundDelivery>& delivery) {
  return Inline<Incident>([&](Done<Incident> d) {
    AddNoteAsync(id, actor, text, now, std::string(origin), delivery, std::move(d));
  });
}

Result<Incident> IncidentManager::EscalateNow(const std::string& id, const std::string& actor,
                                              TimePoint now, std::string_view origin) {
  return Inline<Incident>([&](Done<Incident> d) {
    EscalateNowAsync(id, actor, now, std::string(origin), std::move(d));
  });
}

Result<bool> IncidentManager::HasDelivery(const std::string& source, const std::string& id) {
  return store_.HasDelivery(source, id);
}

Result<void> IncidentManager::RecordDelivery(const InboundDelivery& delivery) {
  return Inline<void>([&](Done<void> d) { RecordDeliveryAsync(delivery, std::move(d)); });
}

void IncidentManager::Record(const std::string& id, std::vector<TimelineEvent> events,
                             std::string handed_off_key, Done<void> done) {
  if (events.empty()) {
    if (handed_off_key.empty()) return done({});
    return store_.MarkHandedOffAsync(std::move(handed_off_key), std::move(done));
  }
  RunInLane(id, [this, id, events = std::move(events), key = std::move(handed_off_key),
                 done](Release release) mutable {
    auto cur = Current(id);
    if (!cur) {
      release();
      done(Fail(cur.error()));
      return;
    }
    IncidentChange change{std::move(*cur), std::move(events), {}, std::nullopt, {}};
    if (!key.empty()) change.handed_off.push_back(std::move(key));
    ApplyChange(id, std::move(change), [release, done](Result<Incident> r) {
      release();
      done(r ? Result<void>() : Result<void>(Fail(r.error())));
    });
  });
}

void IncidentManager::OnDelivery(const DeliveryReport& report) {
  const TimePoint now = report.at == TimePoint{} ? scheduler_.clock().Now() : report.at;
  Record(report.incident_id, {PageHandoff::DeliveryEvent(report, now)}, "",
         [this, report](Result<void> r) {
           if (r) return;
           if (r.error().kind() == Error::Kind::kNotFound) {
             spdlog::warn("delivery report for unknown incident {}", report.incident_id);
             return;
           }
           CountWriteFailure("delivery");
           spdlog::error("incident {}: delivery report ({} via {}) not recorded: {}",
                         report.incident_id, DeliveryOutcomeName(report.outcome),
                         ChannelName(report.channel), r.error().ToString());
         });
}

}  // namespace tocsin::incident
