// The lease on a real PostgreSQL server (CTest's fixture gives TOCSIN_TEST_PG_URL): who gets
// it, when the epoch moves, and that tocsin_check_epoch fences a stale holder.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "ha/pg_test_database.h"
#include "tocsin/ha/pg_lease_store.h"

namespace tocsin::ha {
namespace {

using std::chrono::seconds;

class PgLeaseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    a_ = MakePgLeaseStore(db_.url(), seconds(5));
    b_ = MakePgLeaseStore(db_.url(), seconds(5));
    ASSERT_TRUE(a_->Migrate().has_value());
    ASSERT_TRUE(b_->Migrate().has_value());  // twice: idempotent
  }
  // What a crashed holder leaves once the database's clock has passed its lease.
  void ExpireLease() { db_.Exec("UPDATE tocsin_ha_lease SET expires_at = clock_timestamp()"); }

  testing::PgTestDatabase db_;
  std::unique_ptr<LeaseStore> a_;
  std::unique_ptr<LeaseStore> b_;
};

TEST_F(PgLeaseStoreTest, FirstInstanceTakesTheLeaseAtEpochOneAndTheSecondSeesIt) {
  auto va = a_->AcquireOrRenew("a", Role::kStandby, "10.0.0.1:9095", seconds(10));
  ASSERT_TRUE(va.has_value()) << va.error().message();
  EXPECT_TRUE(va->held);
  EXPECT_EQ(va->epoch, 1);
  EXPECT_EQ(va->holder, "a");
  EXPECT_GT(va->expires_at, va->db_now + seconds(9));

  auto vb = b_->AcquireOrRenew("b", Role::kStandby, "10.0.0.2:9095", seconds(10));
  ASSERT_TRUE(vb.has_value()) << vb.error().message();
  EXPECT_FALSE(vb->held);
  EXPECT_EQ(vb->holder, "a");
  EXPECT_EQ(vb->epoch, 1);

  auto peers = b_->Peers();
  ASSERT_TRUE(peers.has_value());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].name, "a");
  EXPECT_EQ((*peers)[0].address, "10.0.0.1:9095");
  EXPECT_EQ((*peers)[1].name, "b");
  EXPECT_EQ((*peers)[1].role, "standby");
}

// The lease is held by a process, not by a name: a restarted process of the same instance (or
// a second process wrongly given its name) renewing the live lease under the same epoch would
// make two actives the fence cannot tell apart. It waits for the expiry and takes a new epoch.
TEST_F(PgLeaseStoreTest, AnotherProcessOfTheSameNameWaitsForTheLeaseAndTakesANewEpoch) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  auto again = MakePgLeaseStore(db_.url(), seconds(5));  // "a" restarted
  auto v = again->AcquireOrRenew("a", Role::kStandby, "", seconds(10));
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_FALSE(v->held);
  EXPECT_EQ(v->holder, "a");
  EXPECT_EQ(v->epoch, 1);
  ASSERT_TRUE(again->Release("a", 1).has_value());  // not its lease: nothing is released
  auto first = a_->AcquireOrRenew("a", Role::kActive, "", seconds(10));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->held);
  EXPECT_EQ(first->epoch, 1) << "a release by the other process would have ended epoch 1";
  ExpireLease();
  auto took = again->AcquireOrRenew("a", Role::kStandby, "", seconds(10));
  ASSERT_TRUE(took.has_value());
  EXPECT_TRUE(took->held);
  EXPECT_EQ(took->epoch, 2);
  auto old = a_->AcquireOrRenew("a", Role::kActive, "", seconds(10));
  ASSERT_TRUE(old.has_value());
  EXPECT_FALSE(old->held) << "the first process no longer holds it";
  EXPECT_EQ(old->epoch, 2);
}

TEST_F(PgLeaseStoreTest, RenewalInTimeKeepsTheEpochAndExpiryMovesIt) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  auto renewed = a_->AcquireOrRenew("a", Role::kActive, "", seconds(10));
  ASSERT_TRUE(renewed.has_value());
  EXPECT_TRUE(renewed->held);
  EXPECT_EQ(renewed->epoch, 1);

  ExpireLease();
  auto taken = b_->AcquireOrRenew("b", Role::kStandby, "", seconds(10));
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->held);
  EXPECT_EQ(taken->epoch, 2);
  EXPECT_EQ(taken->holder, "b");

  // The old holder comes back: it does not get the lease, and learns who has it.
  auto late = a_->AcquireOrRenew("a", Role::kActive, "", seconds(10));
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->held);
  EXPECT_EQ(late->holder, "b");
  EXPECT_EQ(late->epoch, 2);
}

TEST_F(PgLeaseStoreTest, TheHolderOwnExpiredLeaseComesBackUnderANewEpoch) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  ExpireLease();
  auto again = a_->AcquireOrRenew("a", Role::kActive, "", seconds(10));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->held);
  EXPECT_EQ(again->epoch, 2);
}

TEST_F(PgLeaseStoreTest, ReleaseLetsTheStandbyTakeOverAtOnce) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  ASSERT_TRUE(b_->Release("a", 7).has_value());  // wrong epoch: nothing happens
  EXPECT_FALSE(b_->AcquireOrRenew("b", Role::kStandby, "", seconds(10))->held);
  ASSERT_TRUE(a_->Release("a", 1).has_value());
  auto vb = b_->AcquireOrRenew("b", Role::kStandby, "", seconds(10));
  EXPECT_TRUE(vb->held);
  EXPECT_EQ(vb->epoch, 2);
}

TEST_F(PgLeaseStoreTest, CheckEpochRefusesAStaleOrExpiredEpoch) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  pqxx::connection c(db_.url());
  {
    pqxx::work w(c);
    EXPECT_NO_THROW(w.exec("SELECT tocsin_check_epoch(1)"));
    w.commit();
  }
  ExpireLease();
  {
    pqxx::work w(c);
    try {
      w.exec("SELECT tocsin_check_epoch(1)");
      ADD_FAILURE() << "an expired lease let a write through";
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), "TF001");
      EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos) << e.what();
    }
  }
  ASSERT_TRUE(b_->AcquireOrRenew("b", Role::kStandby, "", seconds(10))->held);
  {
    pqxx::work w(c);
    try {
      w.exec("SELECT tocsin_check_epoch(1)");
      ADD_FAILURE() << "a stale epoch let a write through";
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), "TF001");
      EXPECT_NE(std::string(e.what()).find("epoch 2"), std::string::npos) << e.what();
    }
  }
}

// The old active's write that passed the check before the takeover commits before the new
// epoch exists: the takeover waits for it instead of overlapping it.
TEST_F(PgLeaseStoreTest, TakeoverWaitsForAWriteOfTheOldEpochInFlight) {
  ASSERT_EQ(a_->AcquireOrRenew("a", Role::kStandby, "", seconds(10))->epoch, 1);
  pqxx::connection writer(db_.url());
  pqxx::work w(writer);
  w.exec("SELECT tocsin_check_epoch(1)");
  // A standby's acquire-or-renew (which reads the lease FOR UPDATE) meanwhile:
  auto takeover = std::async(
      std::launch::async, [&] { return b_->AcquireOrRenew("b", Role::kStandby, "", seconds(10)); });
  pqxx::connection observer(db_.url());
  bool waiting = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction n(observer);
    waiting = n.exec1(
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                   "'tocsin-ha' AND wait_event_type = 'Lock'")[0]
                  .as<int>() > 0;
  }
  EXPECT_TRUE(waiting) << "the takeover did not wait for the write in flight";
  EXPECT_EQ(takeover.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  w.commit();
  auto vb = takeover.get();
  ASSERT_TRUE(vb.has_value()) << vb.error().message();
  EXPECT_FALSE(vb->held);  // the lease was still a's
}

TEST(PgLeaseStoreErrors, AnUnreachableServerIsATransientErrorWithoutThePassword) {
  auto store = MakePgLeaseStore("postgresql://tocsin:s3cr3t-pw@127.0.0.1:1/tocsin", seconds(1));
  auto r = store->AcquireOrRenew("a", Role::kStandby, "", seconds(10));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind(), Error::Kind::kTransient);
  EXPECT_EQ(r.error().message().find("s3cr3t-pw"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace tocsin::ha
