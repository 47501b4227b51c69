#include "tocsin/ha/ha_coordinator.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "tocsin/common/duration.h"

namespace tocsin::ha {

namespace {
std::uint64_t Micros(Duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}
}  // namespace

const char* RoleName(Role role) { return role == Role::kActive ? "active" : "standby"; }

HaCoordinator::HaCoordinator(Scheduler& scheduler, Executor& executor, LeaseStore& store,
                             HaConfig config, prometheus::Registry* registry)
    : scheduler_(scheduler), executor_(executor), store_(store), config_(std::move(config)) {
  if (registry) {
    auto& role = prometheus::BuildGauge()
                     .Name("tocsin_ha_role")
                     .Help(
                         "1 for the role this instance has now (active or standby), 0 for the "
                         "other.")
                     .Register(*registry);
    active_gauge_ = &role.Add({{"role", "active"}});
    standby_gauge_ = &role.Add({{"role", "standby"}});
    epoch_gauge_ = &prometheus::BuildGauge()
                        .Name("tocsin_ha_epoch")
                        .Help("Fencing epoch of the lease this instance holds or last saw.")
                        .Register(*registry)
                        .Add({});
    no_active_gauge_ = &prometheus::BuildGauge()
                            .Name("tocsin_ha_no_active")
                            .Help(
                                "1 when this standby has seen no active instance for longer "
                                "than the lease: nothing pages.")
                            .Register(*registry)
                            .Add({});
    failovers_counter_ = &prometheus::BuildCounter()
                              .Name("tocsin_ha_failovers_total")
                              .Help("Times this instance took the lease over and became active.")
                              .Register(*registry)
                              .Add({});
    lease_errors_ = &prometheus::BuildCounter()
                         .Name("tocsin_ha_lease_errors_total")
                         .Help("Lease acquisitions or renewals that failed (database errors).")
                         .Register(*registry)
                         .Add({});
  }
  SetRoleMetrics();
}

HaCoordinator::~HaCoordinator() {
  *alive_ = false;
  if (tick_timer_) scheduler_.Cancel(*tick_timer_);
  if (step_down_timer_) scheduler_.Cancel(*step_down_timer_);
}

void HaCoordinator::Start() {
  if (started_) return;
  started_ = true;
  last_seen_active_ = scheduler_.clock().BootMicros();
  Tick();
}

void HaCoordinator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (tick_timer_) scheduler_.Cancel(*tick_timer_);
  tick_timer_.reset();
  if (role_ == Role::kActive) {
    std::int64_t epoch = epoch_;
    StepDown("this instance is stopping");
    LeaseStore* store = &store_;
    std::string instance = config_.instance;
    executor_.Submit([store, instance, epoch] {
      if (auto r = store->Release(instance, epoch); !r) {
        spdlog::warn(
            "ha: could not give the lease back ({}); a standby takes over once it "
            "expires",
            r.error().message());
      }
    });
  }
}

bool HaCoordinator::HoldsLease() const {
  std::uint64_t until = held_until_.load();
  return until != 0 && scheduler_.clock().BootMicros() < until;
}

void HaCoordinator::Tick() {
  tick_timer_.reset();
  if (stopped_) return;
  tick_timer_ = scheduler_.ScheduleAfter(config_.lease / 3, [this] { Tick(); });
  // One request at a time: a renewal stuck in a dead connection must not pile up others. The
  // step-down timer does not wait for it; a standby reports it as the error it is, so that
  // intake answers 503 and NO ACTIVE INSTANCE is said (a cut network answers nothing, where a
  // stopped server refuses at once). A poll is two calls of up to lease/3 each: stuck is
  // longer than both.
  if (in_flight_) {
    const std::uint64_t now_mono = scheduler_.clock().BootMicros();
    if (role_ == Role::kStandby && now_mono - in_flight_since_ > Micros(2 * config_.lease / 3)) {
      const bool first = !stuck_;
      stuck_ = true;
      last_error_ = fmt::format(
          "the database has not answered the lease poll for {:.1f} s (the network to it may be "
          "cut, or the server hangs)",
          static_cast<double>(now_mono - in_flight_since_) / 1e6);
      if (first) {
        if (lease_errors_) lease_errors_->Increment();
        spdlog::warn("ha: {}", last_error_);
      }
      CheckNoActive(now_mono);
    }
    return;
  }
  in_flight_ = true;
  const std::uint64_t sent_at = scheduler_.clock().BootMicros();
  in_flight_since_ = sent_at;
  std::weak_ptr<bool> alive = alive_;
  Scheduler* scheduler = &scheduler_;
  LeaseStore* store = &store_;
  executor_.Submit([this, alive, scheduler, store, sent_at, instance = config_.instance,
                    role = role_, address = config_.advertise_address, lease = config_.lease] {
    auto view = store->AcquireOrRenew(instance, role, address, lease);
    auto peers = store->Peers();
    scheduler->Post([this, alive, sent_at, view = std::move(view), peers = std::move(peers)] {
      if (auto a = alive.lock(); !a || !*a) return;
      OnPoll(sent_at, std::move(view), std::move(peers));
    });
  });
}

void HaCoordinator::OnPoll(std::uint64_t sent_at, Result<LeaseView> view,
                           Result<std::vector<PeerInfo>> peers) {
  in_flight_ = false;
  stuck_ = false;
  const std::uint64_t now_mono = scheduler_.clock().BootMicros();
  if (peers) peers_ = std::move(*peers);
  if (!view) {
    if (lease_errors_) lease_errors_->Increment();
    if (last_error_ != view.error().message()) {
      spdlog::warn("ha: cannot reach the lease in the database: {}", view.error().message());
    }
    last_error_ = view.error().message();
    // An active instance goes on until its own deadline (the step-down timer), not longer.
    CheckNoActive(now_mono);
    return;
  }
  if (!last_error_.empty()) spdlog::info("ha: the lease is reachable again");
  last_error_.clear();
  last_view_ = *view;
  if (stopped_) return;
  if (view->held) {
    const std::uint64_t until =
        sent_at + Micros(config_.lease) - Micros(SafetyMargin(config_.lease));
    if (role_ == Role::kActive && view->epoch != epoch_) {
      // The lease ran out and was taken again, by this instance, under a new epoch: whatever
      // was decided under the old one may have been fenced. Start over from the database.
      StepDown(
          fmt::format("the lease was renewed under a new epoch ({} -> {})", epoch_, view->epoch));
      // Nothing more from this answer: the step-down stops the instance (it comes back as a
      // standby), so it must not go on to take the lease as active again below.
      CheckNoActive(now_mono);
      return;
    }
    if (until <= now_mono) {
      // The answer came back too late to be trusted (the process was paused, the database
      // slow): wait for the next renewal.
      if (role_ == Role::kActive) StepDown("the lease renewal answered too late");
      CheckNoActive(now_mono);
      return;
    }
    held_until_.store(until);
    last_seen_active_ = now_mono;
    if (role_ == Role::kStandby) BecomeActive(view->epoch, now_mono);
    ArmStepDown(now_mono);
  } else {
    if (role_ == Role::kActive) {
      StepDown(fmt::format("{} holds the lease now (epoch {})", view->holder, view->epoch));
    }
    const bool live = !view->holder.empty() && view->expires_at > view->db_now;
    if (live) last_seen_active_ = now_mono;
    if (live && view->holder == config_.instance && same_name_epoch_ != view->epoch) {
      same_name_epoch_ = view->epoch;
      spdlog::warn(
          "ha: the lease (epoch {}) is held by another process named {}: a previous run of this "
          "instance, taken over once its lease expires at {}, or a second process given the "
          "same instance name (give every instance its own)",
          view->epoch, config_.instance, FormatRfc3339(view->expires_at));
    }
  }
  if (epoch_gauge_ && role_ == Role::kStandby) epoch_gauge_->Set(static_cast<double>(view->epoch));
  CheckNoActive(now_mono);
}

void HaCoordinator::ArmStepDown(std::uint64_t now_mono) {
  if (step_down_timer_) scheduler_.Cancel(*step_down_timer_);
  const std::uint64_t until = held_until_.load();
  Duration in(until > now_mono ? static_cast<Duration::rep>((until - now_mono + 999) / 1000) : 0);
  step_down_timer_ = scheduler_.ScheduleAfter(in, [this] {
    step_down_timer_.reset();
    if (role_ != Role::kActive) return;
    if (HoldsLease()) {
      ArmStepDown(scheduler_.clock().BootMicros());  // renewed meanwhile (the timer fired on
                                                     // the wall clock, a little early)
      return;
    }
    StepDown(fmt::format("the lease could not be renewed within {} s",
                         std::chrono::duration_cast<std::chrono::seconds>(
                             config_.lease - SafetyMargin(config_.lease))
                             .count()));
  });
}

void HaCoordinator::BecomeActive(std::int64_t epoch, std::uint64_t now_mono) {
  role_ = Role::kActive;
  epoch_ = epoch;
  ++failovers_;
  last_seen_active_ = now_mono;
  if (failovers_counter_) failovers_counter_->Increment();
  SetRoleMetrics();
  spdlog::warn("ha: instance {} is now ACTIVE (epoch {}): it evaluates rules, escalates and pages",
               config_.instance, epoch);
  if (listener_) listener_(Role::kActive, epoch, "this instance acquired the lease");
}

void HaCoordinator::StepDown(const std::string& why) {
  held_until_.store(0);
  if (step_down_timer_) scheduler_.Cancel(*step_down_timer_);
  step_down_timer_.reset();
  if (role_ != Role::kActive) return;
  role_ = Role::kStandby;
  SetRoleMetrics();
  spdlog::error("ha: instance {} STEPS DOWN from active (epoch {}): {}; it sends nothing more",
                config_.instance, epoch_, why);
  if (listener_) listener_(Role::kStandby, epoch_, why);
}

void HaCoordinator::CheckNoActive(std::uint64_t now_mono) {
  bool none = role_ == Role::kStandby && now_mono > last_seen_active_ &&
              now_mono - last_seen_active_ > Micros(config_.lease);
  if (none && !no_active_since_) {
    no_active_since_ = scheduler_.clock().Now() - Duration((now_mono - last_seen_active_) / 1000);
    spdlog::error("ha: NO ACTIVE INSTANCE for more than {} s: nobody evaluates rules or pages ({})",
                  std::chrono::duration_cast<std::chrono::seconds>(config_.lease).count(),
                  last_error_.empty() ? "the lease is expired and this instance could not take it"
                                      : last_error_);
  } else if (!none && no_active_since_) {
    spdlog::info("ha: an active instance is visible again");
    no_active_since_.reset();
  }
  if (no_active_gauge_) no_active_gauge_->Set(no_active_since_ ? 1 : 0);
}

void HaCoordinator::SetRoleMetrics() {
  if (active_gauge_) active_gauge_->Set(role_ == Role::kActive ? 1 : 0);
  if (standby_gauge_) standby_gauge_->Set(role_ == Role::kStandby ? 1 : 0);
  if (epoch_gauge_ && role_ == Role::kActive) epoch_gauge_->Set(static_cast<double>(epoch_));
}

HaStatus HaCoordinator::Status() const {
  HaStatus s;
  s.instance = config_.instance;
  s.cluster_name = config_.cluster_name;
  s.backend = "postgresql";
  s.role = role_;
  s.lease = config_.lease;
  s.epoch = role_ == Role::kActive ? epoch_ : (last_view_ ? last_view_->epoch : 0);
  if (last_view_) {
    s.holder = last_view_->holder;
    s.lease_expires_at = last_view_->expires_at;
  }
  s.peers = peers_;
  s.no_active_since = no_active_since_;
  s.failovers = failovers_;
  s.last_error = last_error_;
  return s;
}

}  // namespace tocsin::ha
