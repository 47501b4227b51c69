#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/ha/ha_config.h"
#include "tocsin/ha/ha_status.h"
#include "tocsin/ha/lease_store.h"

namespace prometheus {
class Registry;
class Gauge;
class Counter;
}  // namespace prometheus

namespace tocsin::ha {

// Decides whether this instance is the active one: every lease/3 it asks the LeaseStore (on the
// Executor, never on the loop) to acquire or renew the lease and posts the answer back to the
// loop. The lease's expiry is the database's clock; this instance trusts its lease only until
// (moment the renewal was sent) + lease - SafetyMargin by its own monotonic clock (one that
// counts time suspended, Clock::BootMicros), which is before the database could hand the lease
// to anyone else. When that moment passes without a
// renewal (database unreachable, process paused by SIGSTOP, a renewal stuck), it steps down at
// once, whatever the database says later.
//
// Role changes go to the listener (on the loop) with the fencing epoch: kActive with the epoch
// that every write of this instance must carry from now on, kStandby when it must stop
// evaluating, escalating and sending. HoldsLease() answers the same question from any thread
// (the outbox asks it on its worker right before each provider request).
//
// A standby that has seen no active instance (and could not take the lease itself) for longer
// than the lease logs it at error, sets tocsin_ha_no_active and says so in Status().
//
// Thread-safety: loop thread, except HoldsLease().
class HaCoordinator final : public HaStatusSource {
 public:
  using RoleListener = std::function<void(Role role, std::int64_t epoch, const std::string& why)>;

  HaCoordinator(Scheduler& scheduler, Executor& executor, LeaseStore& store, HaConfig config,
                prometheus::Registry* registry = nullptr);
  ~HaCoordinator() override;
  HaCoordinator(const HaCoordinator&) = delete;
  HaCoordinator& operator=(const HaCoordinator&) = delete;

  void SetRoleListener(RoleListener listener) { listener_ = std::move(listener); }
  // Starts polling: the first attempt at once.
  void Start();
  // Graceful stop: no more polls; an active instance steps down (listener) and gives the lease
  // back so that a standby takes over at its next poll rather than after the lease.
  void Stop();

  // Any thread: this instance holds the lease now by its own monotonic clock (BootMicros).
  bool HoldsLease() const;
  Role role() const { return role_; }
  std::int64_t epoch() const { return epoch_; }
  HaStatus Status() const override;
  // Why the last lease poll failed; empty when it succeeded. Read on every alert intake, so it
  // copies nothing (Status() copies the peers).
  const std::string& last_error() const { return last_error_; }

 private:
  void Tick();
  void OnPoll(std::uint64_t sent_at, Result<LeaseView> lease, Result<std::vector<PeerInfo>> peers);
  void ArmStepDown(std::uint64_t now_mono);
  void BecomeActive(std::int64_t epoch, std::uint64_t now_mono);
  void StepDown(const std::string& why);
  void CheckNoActive(std::uint64_t now_mono);
  void SetRoleMetrics();

  Scheduler& scheduler_;
  Executor& executor_;
  LeaseStore& store_;
  HaConfig config_;
  RoleListener listener_;
  Role role_ = Role::kStandby;
  std::int64_t epoch_ = 0;
  std::atomic<std::uint64_t> held_until_{0};  // BootMicros; 0: not held
  std::optional<LeaseView> last_view_;
  std::vector<PeerInfo> peers_;
  std::string last_error_;
  std::int64_t same_name_epoch_ = 0;    // the lease's epoch when another process of our name was
                                        // last reported holding it
  std::uint64_t last_seen_active_ = 0;  // BootMicros
  std::optional<TimePoint> no_active_since_;
  std::uint64_t failovers_ = 0;
  bool in_flight_ = false;
  std::uint64_t in_flight_since_ = 0;  // boot micros when the poll in flight was sent
  bool stuck_ = false;                 // that poll has gone unanswered past lease/3
  bool started_ = false;
  bool stopped_ = false;
  std::optional<TimerId> tick_timer_;
  std::optional<TimerId> step_down_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  prometheus::Gauge* active_gauge_ = nullptr;
  prometheus::Gauge* standby_gauge_ = nullptr;
  prometheus::Gauge* epoch_gauge_ = nullptr;
  prometheus::Gauge* no_active_gauge_ = nullptr;
  prometheus::Counter* failovers_counter_ = nullptr;
  prometheus::Counter* lease_errors_ = nullptr;
};

}  // namespace tocsin::ha
