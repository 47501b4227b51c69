#include "tocsin/dispatch/silences.h"

#include <gtest/gtest.h>

#include "fakes/memory_silence_store.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/store/sqlite_silence_store.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;

TimePoint T0() { return *ParseTime("2026-11-22T03:00:00Z"); }

Silence Make(std::string matchers, TimePoint start, TimePoint end) {
  Silence s;
  s.matchers = *ParseMatchers(matchers);
  s.starts_at = start;
  s.ends_at = end;
  s.created_by = "alice";
  s.comment = "PSP-A maintenance";
  return s;
}

TEST(SilencesTest, StatesFollowTheClock) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = silences.Upsert(Make("psp=\"A\"", T0() + 1h, T0() + 2h), T0());
  ASSERT_TRUE(id);
  Labels a{{"psp", "A"}};
  EXPECT_TRUE(silences.MutedBy(a, T0()).empty());  // pending
  EXPECT_EQ(silences.MutedBy(a, T0() + 1h), std::vector<std::string>{*id});
  EXPECT_TRUE(silences.MutedBy({{"psp", "B"}}, T0() + 1h).empty());
  EXPECT_EQ(silences.Get(*id)->StateAt(T0() + 2h), SilenceState::kExpired);
}

TEST(SilencesTest, RejectsWhatAlertmanagerRejects) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto empty_match = silences.Upsert(Make("psp=~\".*\"", T0(), T0() + 1h), T0());
  ASSERT_FALSE(empty_match);
  EXPECT_NE(empty_match.error().message().find("empty string"), std::string::npos);
  auto past = silences.Upsert(Make("psp=\"A\"", T0() - 2h, T0() - 1h), T0());
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind(), Error::Kind::kInvalid);
  auto reversed = silences.Upsert(Make("psp=\"A\"", T0() + 2h, T0() + 1h), T0());
  EXPECT_FALSE(reversed);
  auto no_author = Make("psp=\"A\"", T0(), T0() + 1h);
  no_author.created_by.clear();
  EXPECT_FALSE(silences.Upsert(no_author, T0()));
  auto unknown = Make("psp=\"A\"", T0(), T0() + 1h);
  unknown.id = "no-such-id";
  auto r = silences.Upsert(unknown, T0());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kNotFound);
  EXPECT_TRUE(store.rows.empty());
}

TEST(SilencesTest, ExpireKeepsTheSilenceForAudit) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0(), T0() + 4h), T0());
  ASSERT_TRUE(silences.Expire(id, T0() + 10min));
  EXPECT_TRUE(silences.MutedBy({{"service", "login"}}, T0() + 11min).empty());
  ASSERT_EQ(silences.List().size(), 1u);
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 10min);
  EXPECT_EQ(store.rows.at(id).ends_at, T0() + 10min);
  EXPECT_TRUE(silences.Expire(id, T0() + 20min));  // already expired: nothing changes
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 10min);
  EXPECT_EQ(silences.Expire("nope", T0()).error().kind(), Error::Kind::kNotFound);
}

TEST(SilencesTest, ChangingMatchersOfAnActiveSilenceExpiresItAndCreatesANewOne) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0(), T0() + 4h), T0());
  auto changed = Make("service=\"bet\"", T0(), T0() + 4h);
  changed.id = id;
  auto new_id = silences.Upsert(changed, T0() + 1h);
  ASSERT_TRUE(new_id);
  EXPECT_NE(*new_id, id);
  EXPECT_EQ(silences.Get(id)->StateAt(T0() + 1h), SilenceState::kExpired);
  // Extending the end of the same silence keeps its id.
  auto longer = *silences.Get(*new_id);
  longer.ends_at = T0() + 8h;
  EXPECT_EQ(*silences.Upsert(longer, T0() + 2h), *new_id);
}

// Regression: a pending silence whose matchers changed was updated in place, so its id
// stood for two different sets of alerts; Alertmanager expires it and issues a new id.
TEST(SilencesTest, ChangingMatchersOfAPendingSilenceExpiresItAndIssuesANewId) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0() + 1h, T0() + 2h), T0());
  auto changed = Make("service=\"bet\"", T0() + 1h, T0() + 2h);
  changed.id = id;
  auto new_id = silences.Upsert(changed, T0() + 10min);
  ASSERT_TRUE(new_id);
  EXPECT_NE(*new_id, id);
  EXPECT_EQ(silences.Get(id)->StateAt(T0() + 10min), SilenceState::kExpired);
  EXPECT_EQ(silences.Get(id)->matchers, *ParseMatchers("service=\"login\""));
  EXPECT_EQ(silences.Get(*new_id)->StateAt(T0() + 10min), SilenceState::kPending);
  EXPECT_EQ(silences.Get(*new_id)->starts_at, T0() + 1h);
}

TEST(SilencesTest, PendingSilenceKeepsItsIdUnlessItsStartMovesIntoThePast) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0() + 1h, T0() + 2h), T0());
  auto later = Make("service=\"login\"", T0() + 90min, T0() + 3h);
  later.id = id;
  EXPECT_EQ(*silences.Upsert(later, T0() + 10min), id);
  EXPECT_EQ(silences.Get(id)->starts_at, T0() + 90min);
  auto now_start = Make("service=\"login\"", T0(), T0() + 3h);
  now_start.id = id;
  auto new_id = *silences.Upsert(now_start, T0() + 20min);
  EXPECT_NE(new_id, id);
  EXPECT_EQ(silences.Get(new_id)->starts_at, T0() + 20min);  // a new silence starts now
  EXPECT_EQ(silences.Get(id)->StateAt(T0() + 20min), SilenceState::kExpired);
}

TEST(SilencesTest, ActiveSilenceKeepsItsIdOnlyWithTheSameStartToTheSecond) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0(), T0() + 2h), T0());
  auto same_second = Make("service=\"login\"", T0() + 400ms, T0() + 3h);
  same_second.id = id;
  EXPECT_EQ(*silences.Upsert(same_second, T0() + 1h), id);
  auto moved = Make("service=\"login\"", T0() + 1s, T0() + 3h);
  moved.id = id;
  EXPECT_NE(*silences.Upsert(moved, T0() + 1h), id);
}

TEST(SilencesTest, AnExpiredSilenceIsNeverChangedAnUpdateMakesANewOne) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *silences.Upsert(Make("service=\"login\"", T0(), T0() + 1h), T0());
  auto again = Make("service=\"login\"", T0() + 2h, T0() + 3h);
  again.id = id;
  auto new_id = *silences.Upsert(again, T0() + 90min);
  EXPECT_NE(new_id, id);
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 1h);  // the record of what was muted stays
}

TEST(SilencesTest, StoreFailureLeavesNothingHalfDone) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  store.fail_puts = true;
  EXPECT_FALSE(silences.Upsert(Make("psp=\"A\"", T0(), T0() + 1h), T0()));
  EXPECT_TRUE(silences.List().empty());
}

TEST(SilencesTest, SqliteStoreKeepsSilencesAcrossRestarts) {
  testing::TempDir dir;
  std::string id, expired_id;
  {
    auto db = store::Database::Open(dir.path() + "/tocsin.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Migrate(SqliteSilenceStore::Migrations()));
    SqliteSilenceStore store(**db);
    Silences silences(store);
    id = *silences.Upsert(Make("psp=\"A\", market=~\"DE|AT\"", T0(), T0() + 2h), T0());
    expired_id = *silences.Upsert(Make("service=\"login\"", T0(), T0() + 2h), T0());
    ASSERT_TRUE(silences.Expire(expired_id, T0() + 5min));
  }
  auto db = store::Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(SqliteSilenceStore::Migrations()));
  SqliteSilenceStore store(**db);
  Silences silences(store);
  ASSERT_TRUE(silences.Load());
  ASSERT_EQ(silences.List().size(), 2u);
  EXPECT_EQ(silences.MutedBy({{"psp", "A"}, {"market", "AT"}}, T0() + 1h),
            std::vector<std::string>{id});
  auto expired = silences.Get(expired_id);
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->created_by, "alice");
  EXPECT_EQ(expired->comment, "PSP-A maintenance");
  EXPECT_EQ(expired->StateAt(T0() + 1h), SilenceState::kExpired);
}

}  // namespace
}  // namespace tocsin::dispatch
