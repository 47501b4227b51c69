// The coordinator on the simulated clock over the real lease on PostgreSQL: one active, the
// standby taking over, stepping down by the local clock when renewals stop.
#include "tocsin/ha/ha_coordinator.h"

#include <deque>
#include <functional>
#include <optional>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "ha/pg_test_database.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/ha/pg_lease_store.h"

namespace tocsin::ha {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A real lease store whose calls can be made to fail, the way a database outage fails them.
class FailingLeaseStore final : public LeaseStore {
 public:
  explicit FailingLeaseStore(LeaseStore& inner) : inner_(inner) {}
  bool fail = false;
  Result<void> Migrate() override { return inner_.Migrate(); }
  Result<LeaseView> AcquireOrRenew(const std::string& i, Role r, const std::string& a,
                                   Duration l) override {
    if (fail) return Fail(Error::Transient("PostgreSQL connection: connection refused"));
    return inner_.AcquireOrRenew(i, r, a, l);
  }
  Result<void> Release(const std::string& i, std::int64_t e) override {
    if (fail) return Fail(Error::Transient("PostgreSQL connection: connection refused"));
    return inner_.Release(i, e);
  }
  Result<std::vector<PeerInfo>> Peers() override {
    if (fail) return Fail(Error::Transient("PostgreSQL connection: connection refused"));
    return inner_.Peers();
  }

 private:
  LeaseStore& inner_;
};

// Holds submitted work until the test runs it: a renewal that does not come back (a paused
// process, a stuck connection).
class HeldExecutor final : public Executor {
 public:
  void Submit(std::function<void()> work) override { work_.push_back(std::move(work)); }
  void RunAll() {
    while (!work_.empty()) {
      auto w = std::move(work_.front());
      work_.pop_front();
      w();
    }
  }

 private:
  std::deque<std::function<void()>> work_;
};

double Metric(prometheus::Registry& registry, const std::string& name,
              const std::string& label_value = "") {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      if (!label_value.empty() && (m.label.empty() || m.label.front().value != label_value)) {
        continue;
      }
      return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

struct Instance {
  Instance(SimulatedScheduler& s, Executor& e, const std::string& url, const std::string& name)
      : pg(MakePgLeaseStore(url, seconds(5))), store(*pg) {
    EXPECT_TRUE(pg->Migrate().has_value());
    HaConfig cfg;
    cfg.instance = name;
    cfg.advertise_address = name + ":9095";
    coordinator = std::make_unique<HaCoordinator>(s, e, store, cfg, &registry);
    coordinator->SetRoleListener([this](Role r, std::int64_t epoch, const std::string&) {
      changes.push_back({r, epoch});
    });
  }
  std::unique_ptr<LeaseStore> pg;
  FailingLeaseStore store;
  prometheus::Registry registry;
  std::unique_ptr<HaCoordinator> coordinator;
  std::vector<std::pair<Role, std::int64_t>> changes;
};

class HaCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.ok()); }
  void ExpireLease() { db_.Exec("UPDATE tocsin_ha_lease SET expires_at = clock_timestamp()"); }

  testing::PgTestDatabase db_;
  SimulatedScheduler sched_{FromUnixMillis(1'800'000'000'000)};
  InlineExecutor inline_;
};

TEST_F(HaCoordinatorTest, TwoInstancesExactlyOneActiveAndItKeepsTheLease) {
  Instance a(sched_, inline_, db_.url(), "a");
  Instance b(sched_, inline_, db_.url(), "b");
  a.coordinator->Start();
  sched_.RunPending();
  b.coordinator->Start();
  sched_.RunPending();
  ASSERT_EQ(a.changes, (std::vector<std::pair<Role, std::int64_t>>{{Role::kActive, 1}}));
  EXPECT_TRUE(b.changes.empty());
  EXPECT_TRUE(a.coordinator->HoldsLease());
  EXPECT_FALSE(b.coordinator->HoldsLease());
  // A minute of renewals: nothing changes.
  for (int i = 0; i < 60; ++i) {
    sched_.AdvanceBy(seconds(1));
    ASSERT_TRUE(a.coordinator->HoldsLease()) << "at +" << i + 1 << " s";
    ASSERT_FALSE(b.coordinator->HoldsLease());
  }
  EXPECT_EQ(a.changes.size(), 1u);
  EXPECT_TRUE(b.changes.empty());
  EXPECT_EQ(Metric(a.registry, "tocsin_ha_role", "active"), 1);
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_role", "standby"), 1);
  EXPECT_EQ(Metric(a.registry, "tocsin_ha_epoch"), 1);
  auto status = b.coordinator->Status();
  EXPECT_EQ(status.role, Role::kStandby);
  EXPECT_EQ(status.holder, "a");
  ASSERT_EQ(status.peers.size(), 2u);
  EXPECT_EQ(status.peers[0].role, "active");
  EXPECT_EQ(status.peers[1].name, "b");
  EXPECT_FALSE(status.no_active_since.has_value());
}

TEST_F(HaCoordinatorTest, StandbyTakesOverOnceTheDeadActiveLeaseExpires) {
  auto a = std::make_unique<Instance>(sched_, inline_, db_.url(), "a");
  Instance b(sched_, inline_, db_.url(), "b");
  a->coordinator->Start();
  b.coordinator->Start();
  sched_.RunPending();
  ASSERT_EQ(a->coordinator->role(), Role::kActive);
  a.reset();  // kill -9: no release
  sched_.AdvanceBy(seconds(4));
  EXPECT_EQ(b.coordinator->role(), Role::kStandby) << "took a lease that had not expired";
  ExpireLease();  // the database's clock passes the dead holder's lease
  sched_.AdvanceBy(seconds(4));
  ASSERT_EQ(b.changes, (std::vector<std::pair<Role, std::int64_t>>{{Role::kActive, 2}}));
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_failovers_total"), 1);
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_epoch"), 2);
}

TEST_F(HaCoordinatorTest, ActiveStepsDownByItsOwnClockWhenRenewalsFail) {
  Instance a(sched_, inline_, db_.url(), "a");
  a.coordinator->Start();
  sched_.RunPending();  // renewed at t=0: trusted until 10 s - 2 s of margin
  ASSERT_EQ(a.coordinator->role(), Role::kActive);
  a.store.fail = true;
  sched_.AdvanceBy(milliseconds(7999));
  EXPECT_EQ(a.coordinator->role(), Role::kActive);
  EXPECT_TRUE(a.coordinator->HoldsLease());
  sched_.AdvanceBy(milliseconds(1));
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  EXPECT_FALSE(a.coordinator->HoldsLease());
  ASSERT_EQ(a.changes.size(), 2u);
  EXPECT_EQ(a.changes[1].first, Role::kStandby);
  EXPECT_EQ(Metric(a.registry, "tocsin_ha_role", "active"), 0);
  EXPECT_GT(Metric(a.registry, "tocsin_ha_lease_errors_total"), 0);
}

// Regression: a renewal that came back under a new epoch stepped the instance down and then, in
// the same answer, made it active again: the role said active, an untrue "is now ACTIVE" was
// logged, and the stopping instance never gave the lease back.
TEST_F(HaCoordinatorTest, ARenewalUnderANewEpochStepsDownAndStaysDown) {
  Instance a(sched_, inline_, db_.url(), "a");
  a.coordinator->Start();
  sched_.RunPending();
  ASSERT_EQ(a.changes, (std::vector<std::pair<Role, std::int64_t>>{{Role::kActive, 1}}));
  ExpireLease();  // the next renewal takes the expired lease again: epoch 2
  sched_.AdvanceBy(seconds(4));
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  EXPECT_FALSE(a.coordinator->HoldsLease());
  EXPECT_EQ(a.changes,
            (std::vector<std::pair<Role, std::int64_t>>{{Role::kActive, 1}, {Role::kStandby, 1}}));
}

// SIGSTOP past the lease: the renewal sent before the pause answers after it. The instance has
// stepped down by its own clock, and that late "renewed" does not make it active again.
TEST_F(HaCoordinatorTest, PausedActiveStepsDownAndALateRenewalDoesNotRevive) {
  HeldExecutor held;
  Instance a(sched_, held, db_.url(), "a");
  a.coordinator->Start();
  held.RunAll();
  sched_.RunPending();
  ASSERT_EQ(a.coordinator->role(), Role::kActive);
  sched_.AdvanceBy(seconds(15));  // paused: the renewal sent at 3.3 s has not come back
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  EXPECT_FALSE(a.coordinator->HoldsLease());
  held.RunAll();  // resumed: the renewal reaches the database and answers
  sched_.RunPending();
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  EXPECT_FALSE(a.coordinator->HoldsLease());
  ASSERT_EQ(a.changes.size(), 2u);
}

// A machine suspended past the lease (a laptop lid, a VM frozen by its host): CLOCK_MONOTONIC
// stood still, so by it the lease was still good and the outbox would have sent. The lease is
// measured on the clock that counts the sleep (CLOCK_BOOTTIME).
TEST_F(HaCoordinatorTest, AnActiveWokenFromSuspendNoLongerTrustsItsLease) {
  Instance a(sched_, inline_, db_.url(), "a");
  a.coordinator->Start();
  sched_.RunPending();  // renewed at t=0: trusted until 8 s
  ASSERT_TRUE(a.coordinator->HoldsLease());
  sched_.AdvanceBy(milliseconds(500));
  sched_.Suspend(seconds(30));  // no timer fires, no renewal is sent
  EXPECT_FALSE(a.coordinator->HoldsLease()) << "30 s asleep is past the lease";
  ExpireLease();                 // meanwhile the database's clock passed the lease
  sched_.AdvanceBy(seconds(4));  // awake: the next renewal comes back under a new epoch
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  EXPECT_FALSE(a.coordinator->HoldsLease());
}

TEST_F(HaCoordinatorTest, StandbyWithoutDatabaseSaysNoActiveAfterTheLease) {
  Instance b(sched_, inline_, db_.url(), "b");
  b.store.fail = true;
  b.coordinator->Start();
  sched_.AdvanceBy(seconds(9));
  EXPECT_FALSE(b.coordinator->Status().no_active_since.has_value());
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_no_active"), 0);
  sched_.AdvanceBy(seconds(5));
  auto status = b.coordinator->Status();
  ASSERT_TRUE(status.no_active_since.has_value());
  EXPECT_EQ(*status.no_active_since, FromUnixMillis(1'800'000'000'000));
  EXPECT_NE(status.last_error.find("connection refused"), std::string::npos);
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_no_active"), 1);
  b.store.fail = false;
  sched_.AdvanceBy(seconds(4));
  EXPECT_EQ(b.coordinator->role(), Role::kActive);
  EXPECT_FALSE(b.coordinator->Status().no_active_since.has_value());
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_no_active"), 0);
}

// A cut network answers nothing: the standby's first poll never comes back. Before, nothing
// was reported until it did (a refused connection was reported at once, a silent one never):
// no lastError, so intake kept answering 2xx, and no NO ACTIVE INSTANCE.
TEST_F(HaCoordinatorTest, AStandbyWhosePollNeverAnswersReportsItAndSaysNoActive) {
  HeldExecutor held;
  Instance b(sched_, held, db_.url(), "b");
  b.coordinator->Start();  // the poll is sent and held: no answer
  sched_.AdvanceBy(seconds(7));
  EXPECT_EQ(b.coordinator->Status().last_error, "") << "a poll is two calls of up to lease/3 each";
  sched_.AdvanceBy(seconds(3));  // the tick at 10 s finds it still in flight
  EXPECT_EQ(b.coordinator->Status().last_error,
            "the database has not answered the lease poll for 10.0 s (the network to it may be "
            "cut, or the server hangs)");
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_lease_errors_total"), 1);
  EXPECT_FALSE(b.coordinator->Status().no_active_since.has_value());
  sched_.AdvanceBy(seconds(4));  // past the lease (checked at the 13.3 s tick)
  ASSERT_TRUE(b.coordinator->Status().no_active_since.has_value());
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_no_active"), 1);
  EXPECT_EQ(Metric(b.registry, "tocsin_ha_lease_errors_total"), 1) << "one error per stuck poll";
  held.RunAll();  // the network heals: the poll answers, too late to be trusted
  sched_.RunPending();
  EXPECT_EQ(b.coordinator->Status().last_error, "");
  EXPECT_EQ(b.coordinator->role(), Role::kStandby);
  sched_.AdvanceBy(seconds(4));  // the next poll takes the lease
  held.RunAll();
  sched_.RunPending();
  EXPECT_EQ(b.coordinator->role(), Role::kActive);
}

TEST_F(HaCoordinatorTest, StopGivesTheLeaseBackSoTheStandbyTakesOverAtItsNextPoll) {
  Instance a(sched_, inline_, db_.url(), "a");
  Instance b(sched_, inline_, db_.url(), "b");
  a.coordinator->Start();
  b.coordinator->Start();
  sched_.RunPending();
  a.coordinator->Stop();
  EXPECT_EQ(a.coordinator->role(), Role::kStandby);
  sched_.AdvanceBy(seconds(4));
  ASSERT_EQ(b.changes, (std::vector<std::pair<Role, std::int64_t>>{{Role::kActive, 2}}));
}

}  // namespace
}  // namespace tocsin::ha
