#include "tocsin/store/sqlite_responder_request_store.h"

#include <gtest/gtest.h>

#include "support/test_store.h"

namespace tocsin::store {
namespace {

using namespace std::chrono_literals;

TimePoint AtMs(std::int64_t ms) { return FromUnixMillis(ms); }

// What PagerDuty accepted is still known after the database is closed and opened again (a
// restart), per step page.
class ResponderRequestStoreTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    store_ = tocsin::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(store_);
  }
  std::unique_ptr<tocsin::testing::TestStore> store_;
};

TEST_P(ResponderRequestStoreTest, AcceptedRequestsOutliveTheProcess) {
  {
    auto db = store_->Open();
    ASSERT_TRUE(db);
    SqliteResponderRequestStore store(*db);
    ASSERT_TRUE(store.Migrate());
    ASSERT_TRUE(store.SaveRequested("INC-1/step-1/trigger", "tocsin/INC-1", "PPAY001", "Q1INC",
                                    AtMs(1'800'000'000'000)));
    ASSERT_TRUE(store.SaveRequested("INC-1/step-1/trigger", "tocsin/INC-1", "PCOM001", "Q1INC",
                                    AtMs(1'800'000'000'100)));
    // Saved twice (a retry that raced): one row, no error.
    ASSERT_TRUE(store.SaveRequested("INC-1/step-1/trigger", "tocsin/INC-1", "PPAY001", "Q1INC",
                                    AtMs(1'800'000'000'200)));
    ASSERT_TRUE(store.SaveRequested("INC-2/step-2/trigger", "tocsin/INC-2", "PDMG001", "Q2INC",
                                    AtMs(1'800'000'000'300)));
  }
  auto db = store_->Open();
  ASSERT_TRUE(db);
  SqliteResponderRequestStore store(*db);
  ASSERT_TRUE(store.Migrate());
  auto one = store.Requested("INC-1/step-1/trigger");
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(*one, (std::set<std::string>{"PCOM001", "PPAY001"}));
  auto other = store.Requested("INC-2/step-2/trigger");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, (std::set<std::string>{"PDMG001"}));
  // The same incident's later page of the same people (a repeat, a reopen) is a new request.
  auto later = store.Requested("INC-1/e1/step-1/trigger");
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->empty());
  auto none = store.Requested("INC-3/step-1/trigger");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(ResponderRequestStoreTest, RowsOlderThanTheRetentionArePrunedOnTheNextSave) {
  auto db = store_->Open();
  ASSERT_TRUE(db);
  SqliteResponderRequestStore store(*db, nullptr, std::chrono::hours(24));
  ASSERT_TRUE(store.Migrate());
  const TimePoint t0 = AtMs(1'800'000'000'000);
  ASSERT_TRUE(store.SaveRequested("INC-1/step-1/trigger", "tocsin/INC-1", "PPAY001", "Q1INC", t0));
  ASSERT_TRUE(
      store.SaveRequested("INC-9/step-1/trigger", "tocsin/INC-9", "PCOM001", "Q9INC", t0 + 25h));
  EXPECT_TRUE(store.Requested("INC-1/step-1/trigger")->empty());
  EXPECT_EQ(store.Requested("INC-9/step-1/trigger")->size(), 1u);
}

TOCSIN_ON_BOTH_STORES(ResponderRequestStoreTest);

}  // namespace
}  // namespace tocsin::store
