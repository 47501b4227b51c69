#include "change_relay.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <spdlog/spdlog.h>

#include "tocsin/common/json.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::app {

namespace {

using incident::ForwardedChange;
using incident::Incident;

constexpr std::string_view kForwardSource = "tocsin-ha";
// The keys of a request body that holds a silence change or an on-call override (an incident
// change has neither).
constexpr const char* kSilenceKey = "silence_change";
constexpr const char* kOverrideKey = "override";
// Answered and withdrawn requests are kept this long (for an operator reading the table),
// then deleted by the active, once every kPruneEvery polls.
constexpr Duration kKeepAnswered = std::chrono::hours(24);
constexpr std::uint64_t kPruneEvery = 3000;
constexpr int kAnswerAttempts = 20;

std::string Seconds(Duration d) {
  return fmt::format("{:g}", std::chrono::duration<double>(d).count());
}

}  // namespace

// One forwarded change a standby waits for.
struct ChangeRelay::Waiting {
  std::string what;  // "acknowledge of INC-7", "silence upsert": for messages and the log
  std::string actor;
  // Answers the caller: with what the active made on success, else with the error.
  std::function<void(Result<std::string>)> answer;
  std::int64_t id = 0;
  std::uint64_t take_deadline = 0;    // monotonic micros
  std::uint64_t answer_deadline = 0;  // monotonic micros
  std::string claimed_by;
  bool withdrawing = false;
};

ChangeRelay::ChangeRelay(Scheduler& scheduler, Executor& executor, ha::ChangeQueue& queue,
                         incident::IncidentManager& incidents, ChangeRelayOptions options,
                         prometheus::Registry* registry)
    : scheduler_(scheduler),
      executor_(executor),
      queue_(queue),
      incidents_(incidents),
      options_(std::move(options)) {
  if (registry) {
    forwarded_ = &prometheus::BuildCounter()
                      .Name("tocsin_ha_forwarded_changes_total")
                      .Help(
                          "Changes people asked this standby for, passed to the active "
                          "instance, by outcome (applied, refused, withdrawn, unanswered, "
                          "failed)")
                      .Register(*registry);
  }
}

ChangeRelay::~ChangeRelay() {
  *alive_ = false;
  StopApplying();
}

void ChangeRelay::Count(std::string_view outcome) {
  if (forwarded_) forwarded_->Add({{"outcome", std::string(outcome)}}).Increment();
}

// ---- The standby's side ----------------------------------------------------------------------

void ChangeRelay::Forward(ForwardedChange change, Done<Incident> done) {
  auto w = std::make_shared<Waiting>();
  using Kind = ForwardedChange::Kind;
  const bool opens = change.kind == Kind::kOpen || change.kind == Kind::kDrill;
  w->what =
      change.incident_id.empty()
          ? std::string(incident::ForwardedKindName(change.kind))
          : fmt::format("{} of {}", incident::ForwardedKindName(change.kind), change.incident_id);
  if (change.drill) w->what += " " + change.drill->scenario;
  w->actor = change.actor;
  std::string body = DumpJson(incident::ForwardedChangeToJson(change));
  w->answer = [this, kind = change.kind, opens, incident_id = change.incident_id,
               done = std::move(done)](Result<std::string> made) {
    if (!made) return done(Fail(made.error()));
    if (kind == Kind::kRecordDelivery) return done(Incident{});
    // The active committed it to the shared store before answering: read it from there (an
    // open answers the id of the incident it opened).
    done(incidents_.Get(opens ? *made : incident_id));
  };
  Submit(std::move(w), std::move(body));
}

void ChangeRelay::ForwardSilence(dispatch::SilenceChange change, Done<std::string> done) {
  auto w = std::make_shared<Waiting>();
  w->what = fmt::format("silence {}", dispatch::SilenceChangeKindName(change.kind));
  w->actor = change.silence.created_by;
  std::string body = DumpJson(nlohmann::json{{kSilenceKey, dispatch::SilenceChangeToJson(change)}});
  w->answer = [this, done = std::move(done)](Result<std::string> made) {
    AnswerAfter(reload_, "silences", std::move(made), done);
  };
  Submit(std::move(w), std::move(body));
}

void ChangeRelay::ForwardOverride(nlohmann::json body, std::string actor, Done<std::string> done) {
  auto w = std::make_shared<Waiting>();
  w->what = "on-call override";
  w->actor = actor;
  std::string request = DumpJson(
      nlohmann::json{{kOverrideKey, {{"body", std::move(body)}, {"actor", std::move(actor)}}}});
  w->answer = [this, done = std::move(done)](Result<std::string> made) {
    AnswerAfter(reload_overrides_, "on-call overrides", std::move(made), done);
  };
  Submit(std::move(w), std::move(request));
}

void ChangeRelay::AnswerAfter(const Reload& reload, std::string_view what, Result<std::string> made,
                              Done<std::string> done) {
  if (!made || !reload) return done(std::move(made));
  // What the active wrote, for the caller's next read of this instance.
  reload([what = std::string(what), made = std::move(made), done](Result<void> loaded) mutable {
    if (!loaded) {
      spdlog::warn(
          "ha: the active applied a forwarded change, but this standby cannot read the {} "
          "again: {}",
          what, loaded.error().message());
    }
    done(std::move(made));
  });
}

void ChangeRelay::Submit(std::shared_ptr<Waiting> w, std::string body) {
  std::weak_ptr<bool> alive = alive_;
  executor_.Submit([this, queue = &queue_, scheduler = &scheduler_, alive, w, body,
                    from = options_.instance] {
    auto id = queue->Submit(from, body);
    scheduler->Post([this, alive, w, id = std::move(id)] {
      if (auto a = alive.lock(); !a || !*a) return;
      if (!id) {
        return Finish(w,
                      Fail(Error::Transient(fmt::format(
                          "instance {} is a standby and could not pass the change to the active "
                          "instance through the database ({}); nothing was changed, try again",
                          options_.instance, id.error().message()))),
                      "failed");
      }
      w->id = *id;
      const auto now = scheduler_.clock().MonotonicMicros();
      auto micros = [](Duration d) {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(d).count());
      };
      w->take_deadline = now + micros(options_.take_within);
      w->answer_deadline = w->take_deadline + micros(options_.answer_within);
      scheduler_.ScheduleAfter(options_.standby_poll, [this, alive, w] {
        if (auto a = alive.lock(); a && *a) Poll(w);
      });
    });
  });
}

void ChangeRelay::Poll(std::shared_ptr<Waiting> w) {
  const bool withdraw = scheduler_.clock().MonotonicMicros() >= w->take_deadline &&
                        w->claimed_by.empty() && !w->withdrawing;
  if (withdraw) w->withdrawing = true;
  std::weak_ptr<bool> alive = alive_;
  executor_.Submit([this, queue = &queue_, scheduler = &scheduler_, alive, w, withdraw] {
    std::optional<Result<bool>> withdrawn;
    if (withdraw) withdrawn = queue->Withdraw(w->id);
    auto status = queue->Status(w->id);
    scheduler->Post([this, alive, w, withdrawn = std::move(withdrawn), status = std::move(status)] {
      if (auto a = alive.lock(); !a || !*a) return;
      const auto now = scheduler_.clock().MonotonicMicros();
      const std::string& what = w->what;
      if (status && status->state == ha::RequestState::kAnswered && status->answer) {
        const auto& answer = *status->answer;
        if (!answer.ok) {
          return Finish(w, Fail(Error(answer.kind, answer.message)), "refused");
        }
        return Finish(w, answer.message, "applied");
      }
      if (status && status->state == ha::RequestState::kWithdrawn) {
        return Finish(
            w,
            Fail(Error::Transient(fmt::format(
                "instance {} is a standby and no active instance took the {} within {} s (GET "
                "/api/v1/ha shows the cluster); nothing was changed, try again",
                options_.instance, what, Seconds(options_.take_within)))),
            "withdrawn");
      }
      if (status && status->state == ha::RequestState::kClaimed) {
        w->claimed_by = status->claimed_by;
      }
      if (now >= w->answer_deadline) {
        const std::string who = w->claimed_by.empty() ? "the active instance" : w->claimed_by;
        std::string why;
        if (!status) why = fmt::format(" (the database: {})", status.error().message());
        return Finish(
            w,
            Fail(Error::Transient(fmt::format(
                "instance {} is a standby and passed the {} to the active instance (request "
                "{}), but {} has not answered within {} s{}; it may still be applied: look "
                "whether it was (the incident's timeline, the silences, the overrides) before "
                "trying again",
                options_.instance, what, w->id, who,
                Seconds(options_.take_within + options_.answer_within), why))),
            "unanswered");
      }
      if (withdrawn && *withdrawn && !**withdrawn) {
        w->withdrawing = false;  // claimed meanwhile: wait for the answer
      } else if (withdrawn && !*withdrawn) {
        w->withdrawing = false;  // the database did not answer: try again on the next poll
      }
      scheduler_.ScheduleAfter(options_.standby_poll, [this, alive, w] {
        if (auto a = alive.lock(); a && *a) Poll(w);
      });
    });
  });
}

void ChangeRelay::Finish(const std::shared_ptr<Waiting>& w, Result<std::string> made,
                         std::string_view outcome) {
  Count(outcome);
  if (outcome != "applied") {
    spdlog::warn("ha: forwarded {} by {} (request {}): {}", w->what, w->actor, w->id,
                 made ? "done" : made.error().message());
  }
  auto answer = std::move(w->answer);
  answer(std::move(made));
}

// ---- The active's side -----------------------------------------------------------------------

void ChangeRelay::StartApplying(std::int64_t epoch) {
  StopApplying();
  epoch_ = epoch;
  ApplyTick();
}

void ChangeRelay::StopApplying() {
  epoch_.reset();
  if (tick_timer_) scheduler_.Cancel(*tick_timer_);
  tick_timer_.reset();
}

void ChangeRelay::ApplyTick() {
  if (!epoch_) return;
  tick_timer_ = scheduler_.ScheduleAfter(options_.active_poll, [this] { ApplyTick(); });
  // One batch at a time: the next claim waits until every answer of this one is written.
  if (claiming_ || answers_in_flight_ > 0) return;
  claiming_ = true;
  const bool prune = ++ticks_ % kPruneEvery == 0;
  std::weak_ptr<bool> alive = alive_;
  executor_.Submit([this, queue = &queue_, scheduler = &scheduler_, alive, prune, epoch = *epoch_,
                    instance = options_.instance, batch = options_.batch] {
    if (prune) {
      if (auto p = queue->Prune(kKeepAnswered); !p) {
        spdlog::warn("ha: cannot delete old forwarded requests: {}", p.error().message());
      }
    }
    auto claimed = queue->Claim(instance, epoch, batch);
    scheduler->Post([this, alive, epoch, claimed = std::move(claimed)]() mutable {
      if (auto a = alive.lock(); !a || !*a) return;
      claiming_ = false;
      if (!claimed) {
        spdlog::warn("ha: cannot read the changes standbys forwarded: {}",
                     claimed.error().message());
        return;
      }
      // Claimed under an epoch this instance no longer holds: the next active takes them.
      if (!epoch_ || *epoch_ != epoch) return;
      ApplyClaimed(epoch, std::move(*claimed));
    });
  });
}

void ChangeRelay::ApplyClaimed(std::int64_t epoch, std::vector<ha::ChangeRequest> requests) {
  for (auto& req : requests) {
    ++answers_in_flight_;
    auto body = ParseJson(req.body);
    if (!body) {
      SendAnswer(epoch, req.id, Fail(Error::Invalid("the forwarded change is not JSON")));
      continue;
    }
    if (body->is_object() && body->contains(kSilenceKey)) {
      ApplySilence(epoch, req, (*body)[kSilenceKey]);
      continue;
    }
    if (body->is_object() && body->contains(kOverrideKey)) {
      ApplyOverride(epoch, req, (*body)[kOverrideKey]);
      continue;
    }
    auto parsed = incident::ForwardedChangeFromJson(*body);
    if (!parsed) {
      SendAnswer(epoch, req.id, Fail(parsed.error()));
      continue;
    }
    ForwardedChange change = std::move(*parsed);
    if (!change.delivery) {
      change.delivery =
          incident::InboundDelivery{std::string(kForwardSource), std::to_string(req.id), {}};
    }
    if (req.reclaimed) {
      // Its claimer lost the lease after taking it, perhaps after applying it.
      auto seen = incidents_.HasDelivery(change.delivery->source, change.delivery->id);
      if (seen && *seen) {
        // An open answers the incident it opened (ApplyForwarded finds it by the group).
        if (!change.group) {
          SendAnswer(epoch, req.id, std::string());
          continue;
        }
      }
    }
    spdlog::info("ha: applying {}{} by {} via {}, forwarded by standby {} (request {})",
                 incident::ForwardedKindName(change.kind),
                 change.incident_id.empty() ? "" : " of " + change.incident_id,
                 change.actor.empty() ? "-" : change.actor, change.origin, req.from_instance,
                 req.id);
    std::weak_ptr<bool> alive = alive_;
    incidents_.ApplyForwarded(std::move(change), scheduler_.clock().Now(),
                              [this, alive, epoch, id = req.id](Result<Incident> r) {
                                if (auto a = alive.lock(); !a || !*a) return;
                                if (!r) return SendAnswer(epoch, id, Fail(r.error()));
                                SendAnswer(epoch, id, r->id);
                              });
  }
}

void ChangeRelay::ApplySilence(std::int64_t epoch, const ha::ChangeRequest& req,
                               const nlohmann::json& body) {
  auto change = dispatch::SilenceChangeFromJson(body);
  if (!change) return SendAnswer(epoch, req.id, Fail(change.error()));
  if (!silences_) {
    return SendAnswer(epoch, req.id,
                      Fail(Error::Transient("the active instance cannot apply silence changes")));
  }
  // Applied twice (reclaimed) is harmless: an upsert whose new id exists is answered with it,
  // an update in place writes the same values again, an expired silence stays expired.
  spdlog::info("ha: applying silence {} ({}) by {}, forwarded by standby {} (request {})",
               dispatch::SilenceChangeKindName(change->kind),
               change->kind == dispatch::SilenceChange::Kind::kExpire
                   ? change->id
                   : (change->silence.id.empty() ? "new" : change->silence.id),
               // As a JSON string: a newline in it cannot forge a log line.
               DumpJson(change->silence.created_by), req.from_instance, req.id);
  std::weak_ptr<bool> alive = alive_;
  silences_->ApplyForwarded(std::move(*change), scheduler_.clock().Now(),
                            [this, alive, epoch, id = req.id](Result<std::string> made) {
                              if (auto a = alive.lock(); !a || !*a) return;
                              SendAnswer(epoch, id, std::move(made));
                            });
}

void ChangeRelay::ApplyOverride(std::int64_t epoch, const ha::ChangeRequest& req,
                                const nlohmann::json& change) {
  const bool whole = change.is_object() && change.contains("body") && change.contains("actor") &&
                     change["body"].is_object() && change["actor"].is_string();
  if (!whole) {
    return SendAnswer(
        epoch, req.id,
        Fail(Error::Invalid("a forwarded override needs `body` (an object) and `actor`")));
  }
  if (!apply_override_) {
    return SendAnswer(
        epoch, req.id,
        Fail(Error::Transient("the active instance has no roster to put overrides in")));
  }
  // Applied twice (reclaimed) stores nothing twice: the same override by the same person is
  // answered with the one already recorded.
  const auto actor = change["actor"].get<std::string>();
  spdlog::info("ha: applying an on-call override by {}, forwarded by standby {} (request {})",
               actor, req.from_instance, req.id);
  std::weak_ptr<bool> alive = alive_;
  apply_override_(change["body"], actor,
                  [this, alive, epoch, id = req.id](Result<std::string> made) {
                    if (auto a = alive.lock(); !a || !*a) return;
                    SendAnswer(epoch, id, std::move(made));
                  });
}

void ChangeRelay::SendAnswer(std::int64_t epoch, std::int64_t id, Result<std::string> made) {
  ha::ChangeAnswer answer;
  answer.ok = made.has_value();
  if (made) {
    answer.message = std::move(*made);
  } else {
    answer.kind = made.error().kind();
    answer.message = made.error().message();
  }
  WriteAnswer(epoch, id, answer, 1);
}

void ChangeRelay::WriteAnswer(std::int64_t epoch, std::int64_t id, ha::ChangeAnswer answer,
                              int attempt) {
  std::weak_ptr<bool> alive = alive_;
  executor_.Submit([this, queue = &queue_, scheduler = &scheduler_, alive, epoch, id, answer,
                    attempt, instance = options_.instance] {
    auto written = queue->Answer(id, instance, epoch, answer);
    scheduler->Post([this, alive, epoch, id, answer, attempt, written = std::move(written)] {
      if (auto a = alive.lock(); !a || !*a) return;
      // A database hiccup: the standby is still waiting, so the answer is tried again while
      // this instance applies under the same epoch (another epoch answers for itself).
      const bool retry = !written && written.error().kind() != Error::Kind::kConflict &&
                         attempt < kAnswerAttempts && epoch_ == epoch;
      if (retry) {
        scheduler_.ScheduleAfter(options_.active_poll, [this, alive, epoch, id, answer, attempt] {
          if (auto a = alive.lock(); a && *a) WriteAnswer(epoch, id, answer, attempt + 1);
        });
        return;
      }
      --answers_in_flight_;
      if (!written) {
        spdlog::error("ha: cannot record the answer to forwarded request {}: {}", id,
                      written.error().message());
      }
    });
  });
}

}  // namespace tocsin::app
