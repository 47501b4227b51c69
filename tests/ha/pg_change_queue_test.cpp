// The forwarded-change queue on a real PostgreSQL server: a standby's request is claimed only
// by the lease holder at its epoch, answered once, withdrawn only while nobody took it, and
// taken over by the next epoch when its claimer lost the lease before answering.
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "ha/pg_test_database.h"
#include "tocsin/ha/change_queue.h"
#include "tocsin/ha/pg_lease_store.h"

namespace tocsin::ha {
namespace {

using std::chrono::seconds;

class PgChangeQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    lease_ = MakePgLeaseStore(db_.url(), seconds(5));
    ASSERT_TRUE(lease_->Migrate().has_value());
    queue_ = MakePgChangeQueue(db_.url(), seconds(5));
    auto v = lease_->AcquireOrRenew("a", Role::kStandby, "", seconds(30));
    ASSERT_TRUE(v && v->held);
    epoch_a_ = v->epoch;
  }
  // Instance b takes the lease over (a crashed or paused): a new epoch.
  std::int64_t TakeOverByB() {
    db_.Exec("UPDATE tocsin_ha_lease SET expires_at = clock_timestamp()");
    auto v = lease_->AcquireOrRenew("b", Role::kStandby, "", seconds(30));
    EXPECT_TRUE(v && v->held);
    return v ? v->epoch : 0;
  }

  testing::PgTestDatabase db_;
  std::unique_ptr<LeaseStore> lease_;
  std::unique_ptr<ChangeQueue> queue_;
  std::int64_t epoch_a_ = 0;
};

TEST_F(PgChangeQueueTest, OnlyTheHolderClaimsAndItsAnswerReachesTheStandby) {
  auto id = queue_->Submit("b", R"({"kind":"acknowledge"})");
  ASSERT_TRUE(id) << id.error().message();
  auto status = queue_->Status(*id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, RequestState::kPending);

  // Not the holder, or the holder under another epoch: nothing is claimed.
  EXPECT_TRUE(queue_->Claim("b", epoch_a_, 10)->empty());
  EXPECT_TRUE(queue_->Claim("a", epoch_a_ + 1, 10)->empty());
  auto claimed = queue_->Claim("a", epoch_a_, 10);
  ASSERT_TRUE(claimed) << claimed.error().message();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, *id);
  EXPECT_EQ((*claimed)[0].from_instance, "b");
  EXPECT_EQ((*claimed)[0].body, R"({"kind":"acknowledge"})");
  EXPECT_FALSE((*claimed)[0].reclaimed);
  EXPECT_TRUE(queue_->Claim("a", epoch_a_, 10)->empty()) << "claimed once";
  EXPECT_EQ(queue_->Status(*id)->claimed_by, "a");
  EXPECT_FALSE(queue_->Withdraw(*id).value()) << "taken: no longer withdrawn";

  ChangeAnswer refused{false, Error::Kind::kUnauthorized, "\"zz\" is not a person of the roster"};
  ASSERT_TRUE(queue_->Answer(*id, "a", epoch_a_, refused));
  status = queue_->Status(*id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, RequestState::kAnswered);
  ASSERT_TRUE(status->answer.has_value());
  EXPECT_EQ(*status->answer, refused);
  auto again = queue_->Answer(*id, "a", epoch_a_, {true, {}, {}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), Error::Kind::kConflict);
  EXPECT_EQ(queue_->Status(*id)->answer->ok, false) << "the first answer stays";
}

// A stored answer's kind is a fixed code, not the enum's position: the codes on disk read as
// the kinds they were written for, and a code no kind has reads as transient.
TEST_F(PgChangeQueueTest, StoredAnswerKindsAreFixedCodes) {
  const std::pair<int, Error::Kind> stored[] = {
      {0, Error::Kind::kInvalid},      {1, Error::Kind::kNotFound},  {2, Error::Kind::kTransient},
      {3, Error::Kind::kPermanent},    {4, Error::Kind::kIo},        {5, Error::Kind::kConflict},
      {6, Error::Kind::kUnauthorized}, {99, Error::Kind::kTransient}};
  for (const auto& [code, kind] : stored) {
    auto id = queue_->Submit("b", "{}");
    ASSERT_TRUE(id) << id.error().message();
    db_.Exec(fmt::format(
        "UPDATE tocsin_ha_requests SET state = 'answered', answer_ok = false, answer_kind = {}, "
        "answer = 'x' WHERE id = {}",
        code, *id));
    auto status = queue_->Status(*id);
    ASSERT_TRUE(status && status->answer) << code;
    EXPECT_EQ(status->answer->kind, kind) << "code " << code;
  }
  // And what Answer writes is that code.
  auto id = queue_->Submit("b", "{}");
  ASSERT_TRUE(id && queue_->Claim("a", epoch_a_, 10));
  ASSERT_TRUE(queue_->Answer(*id, "a", epoch_a_, {false, Error::Kind::kConflict, "taken"}));
  EXPECT_EQ(
      db_.QueryInt(fmt::format("SELECT answer_kind FROM tocsin_ha_requests WHERE id = {}", *id)),
      5);
}

TEST_F(PgChangeQueueTest, ARequestNobodyTookIsWithdrawnAndNeverClaimed) {
  auto id = queue_->Submit("b", "{}");
  ASSERT_TRUE(id);
  EXPECT_TRUE(queue_->Withdraw(*id).value());
  EXPECT_EQ(queue_->Status(*id)->state, RequestState::kWithdrawn);
  EXPECT_TRUE(queue_->Claim("a", epoch_a_, 10)->empty());
  EXPECT_EQ(queue_->Status(*id + 1000).error().kind(), Error::Kind::kNotFound);
}

TEST_F(PgChangeQueueTest, TheNextEpochTakesOverAClaimTheOldHolderNeverAnswered) {
  auto first = queue_->Submit("c", "1");
  auto second = queue_->Submit("c", "2");
  ASSERT_TRUE(first && second);
  ASSERT_EQ(queue_->Claim("a", epoch_a_, 1)->size(), 1u);  // a takes the first, then stops
  const auto epoch_b = TakeOverByB();
  auto claimed = queue_->Claim("b", epoch_b, 10);
  ASSERT_TRUE(claimed) << claimed.error().message();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].id, *first);
  EXPECT_TRUE((*claimed)[0].reclaimed);
  EXPECT_EQ((*claimed)[1].id, *second);
  EXPECT_FALSE((*claimed)[1].reclaimed);
  // The old holder's late answer is refused; the new one's is kept.
  EXPECT_EQ(queue_->Answer(*first, "a", epoch_a_, {true, {}, {}}).error().kind(),
            Error::Kind::kConflict);
  EXPECT_TRUE(queue_->Answer(*first, "b", epoch_b, {true, {}, {}}));
  EXPECT_TRUE(queue_->Status(*first)->answer->ok);
  // Answered long ago (here: now, pruned with age 0) goes; the open one stays.
  EXPECT_EQ(queue_->Prune(std::chrono::milliseconds(0)).value(), 1u);
  EXPECT_EQ(queue_->Status(*second)->state, RequestState::kClaimed);
}

}  // namespace
}  // namespace tocsin::ha
