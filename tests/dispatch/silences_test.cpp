#include "tocsin/dispatch/silences.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "fakes/memory_silence_store.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::dispatch {
// Its own namespace: this file shares a unity batch with files whose helpers have the same
// names (cmake/TocsinBuildSpeed.cmake).
namespace silences_test {
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
  auto id = fakes::UpsertNow(silences, Make("psp=\"A\"", T0() + 1h, T0() + 2h), T0());
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
  auto empty_match = fakes::UpsertNow(silences, Make("psp=~\".*\"", T0(), T0() + 1h), T0());
  ASSERT_FALSE(empty_match);
  EXPECT_NE(empty_match.error().message().find("empty string"), std::string::npos);
  auto past = fakes::UpsertNow(silences, Make("psp=\"A\"", T0() - 2h, T0() - 1h), T0());
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind(), Error::Kind::kInvalid);
  auto reversed = fakes::UpsertNow(silences, Make("psp=\"A\"", T0() + 2h, T0() + 1h), T0());
  EXPECT_FALSE(reversed);
  auto no_author = Make("psp=\"A\"", T0(), T0() + 1h);
  no_author.created_by.clear();
  EXPECT_FALSE(fakes::UpsertNow(silences, no_author, T0()));
  auto unknown = Make("psp=\"A\"", T0(), T0() + 1h);
  unknown.id = "no-such-id";
  auto r = fakes::UpsertNow(silences, unknown, T0());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kNotFound);
  EXPECT_TRUE(store.rows.empty());
}

TEST(SilencesTest, ExpireKeepsTheSilenceForAudit) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0(), T0() + 4h), T0());
  ASSERT_TRUE(fakes::ExpireNow(silences, id, T0() + 10min));
  EXPECT_TRUE(silences.MutedBy({{"service", "login"}}, T0() + 11min).empty());
  ASSERT_EQ(silences.List().size(), 1u);
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 10min);
  EXPECT_EQ(store.rows.at(id).ends_at, T0() + 10min);
  EXPECT_TRUE(fakes::ExpireNow(silences, id, T0() + 20min));  // already expired: nothing changes
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 10min);
  EXPECT_EQ(fakes::ExpireNow(silences, "nope", T0()).error().kind(), Error::Kind::kNotFound);
}

TEST(SilencesTest, ChangingMatchersOfAnActiveSilenceExpiresItAndCreatesANewOne) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0(), T0() + 4h), T0());
  auto changed = Make("service=\"bet\"", T0(), T0() + 4h);
  changed.id = id;
  auto new_id = fakes::UpsertNow(silences, changed, T0() + 1h);
  ASSERT_TRUE(new_id);
  EXPECT_NE(*new_id, id);
  EXPECT_EQ(silences.Get(id)->StateAt(T0() + 1h), SilenceState::kExpired);
  // Extending the end of the same silence keeps its id.
  auto longer = *silences.Get(*new_id);
  longer.ends_at = T0() + 8h;
  EXPECT_EQ(*fakes::UpsertNow(silences, longer, T0() + 2h), *new_id);
}

// Regression: a pending silence whose matchers changed was updated in place, so its id
// stood for two different sets of alerts; Alertmanager expires it and issues a new id.
TEST(SilencesTest, ChangingMatchersOfAPendingSilenceExpiresItAndIssuesANewId) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0() + 1h, T0() + 2h), T0());
  auto changed = Make("service=\"bet\"", T0() + 1h, T0() + 2h);
  changed.id = id;
  auto new_id = fakes::UpsertNow(silences, changed, T0() + 10min);
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
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0() + 1h, T0() + 2h), T0());
  auto later = Make("service=\"login\"", T0() + 90min, T0() + 3h);
  later.id = id;
  EXPECT_EQ(*fakes::UpsertNow(silences, later, T0() + 10min), id);
  EXPECT_EQ(silences.Get(id)->starts_at, T0() + 90min);
  auto now_start = Make("service=\"login\"", T0(), T0() + 3h);
  now_start.id = id;
  auto new_id = *fakes::UpsertNow(silences, now_start, T0() + 20min);
  EXPECT_NE(new_id, id);
  EXPECT_EQ(silences.Get(new_id)->starts_at, T0() + 20min);  // a new silence starts now
  EXPECT_EQ(silences.Get(id)->StateAt(T0() + 20min), SilenceState::kExpired);
}

TEST(SilencesTest, ActiveSilenceKeepsItsIdOnlyWithTheSameStartToTheSecond) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0(), T0() + 2h), T0());
  auto same_second = Make("service=\"login\"", T0() + 400ms, T0() + 3h);
  same_second.id = id;
  EXPECT_EQ(*fakes::UpsertNow(silences, same_second, T0() + 1h), id);
  auto moved = Make("service=\"login\"", T0() + 1s, T0() + 3h);
  moved.id = id;
  EXPECT_NE(*fakes::UpsertNow(silences, moved, T0() + 1h), id);
}

TEST(SilencesTest, AnExpiredSilenceIsNeverChangedAnUpdateMakesANewOne) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  auto id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0(), T0() + 1h), T0());
  auto again = Make("service=\"login\"", T0() + 2h, T0() + 3h);
  again.id = id;
  auto new_id = *fakes::UpsertNow(silences, again, T0() + 90min);
  EXPECT_NE(new_id, id);
  EXPECT_EQ(silences.Get(id)->ends_at, T0() + 1h);  // the record of what was muted stays
}

TEST(SilencesTest, StoreFailureLeavesNothingHalfDone) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  store.fail_puts = true;
  EXPECT_FALSE(fakes::UpsertNow(silences, Make("psp=\"A\"", T0(), T0() + 1h), T0()));
  EXPECT_TRUE(silences.List().empty());
}

// Durable before acknowledged: a silence neither mutes nor is answered before its write
// committed, and a failed write leaves nothing behind.
TEST(SilencesTest, SilenceTakesEffectAndIsAnsweredOnlyOnceDurable) {
  fakes::MemorySilenceStore store;
  store.hold = true;
  Silences silences(store);
  std::optional<Result<std::string>> created;
  silences.Upsert(Make("psp=\"A\"", T0(), T0() + 1h), T0(),
                  [&created](Result<std::string> r) { created = std::move(r); });
  EXPECT_FALSE(created);
  EXPECT_EQ(store.in_flight(), 1u);
  EXPECT_TRUE(silences.List().empty());
  EXPECT_TRUE(silences.MutedBy({{"psp", "A"}}, T0() + 1min).empty());
  store.Release();
  ASSERT_TRUE(created && *created);
  EXPECT_EQ(silences.MutedBy({{"psp", "A"}}, T0() + 1min), std::vector<std::string>{**created});

  std::optional<Result<void>> expired;
  silences.Expire(**created, T0() + 10min, [&expired](Result<void> r) { expired = r; });
  EXPECT_FALSE(expired);
  EXPECT_EQ(silences.MutedBy({{"psp", "A"}}, T0() + 11min).size(), 1u) << "not expired yet";
  store.Release();
  ASSERT_TRUE(expired && *expired);
  EXPECT_TRUE(silences.MutedBy({{"psp", "A"}}, T0() + 11min).empty());
}

// The daemon's path: the write runs on the store thread and its completion comes back through
// the loop's post, after the commit; another connection then reads the row.
TEST(SilencesTest, SqliteStoreWritesOnTheStoreThreadAndAnswersAfterTheCommit) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/tocsin.db";
  auto db = store::Database::Open(path);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(SqliteSilenceStore::Migrations()));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::function<void()>> posted;
  auto writer = store::StoreThread::Open(path, {}, [&](std::function<void()> cb) {
    std::lock_guard<std::mutex> lock(mu);
    posted.push_back(std::move(cb));
    cv.notify_all();
  });
  ASSERT_TRUE(writer);
  SqliteSilenceStore store(**db, writer->get());
  Silences silences(store);
  std::optional<Result<std::string>> created;
  silences.Upsert(Make("psp=\"A\"", T0(), T0() + 1h), T0(),
                  [&created](Result<std::string> r) { created = std::move(r); });
  EXPECT_FALSE(created) << "answered on the loop before the store thread wrote it";
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return !posted.empty(); }));
  }
  EXPECT_TRUE(silences.List().empty()) << "visible before its completion ran on the loop";
  for (auto& cb : posted) cb();
  ASSERT_TRUE(created && *created);
  EXPECT_EQ(silences.List().size(), 1u);
  (*writer)->Stop();
  auto other = store::Database::Open(path);
  ASSERT_TRUE(other);
  SqliteSilenceStore reread(**other);
  auto rows = reread.LoadAll();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, **created);
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
    id = *fakes::UpsertNow(silences, Make("psp=\"A\", market=~\"DE|AT\"", T0(), T0() + 2h), T0());
    expired_id = *fakes::UpsertNow(silences, Make("service=\"login\"", T0(), T0() + 2h), T0());
    ASSERT_TRUE(fakes::ExpireNow(silences, expired_id, T0() + 5min));
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

// Issue 14: a standby's Silences writes nothing; it hands each change, as the JSON the
// database carries, to the active's, which applies it on the shared store. Applying the same
// request twice (its first applier lost the lease before answering) creates nothing twice.
TEST(SilencesTest, AStandbyForwardsEachChangeAndTheActiveAppliesItOnce) {
  fakes::MemorySilenceStore shared;  // the database both instances use
  Silences active(shared);
  Silences standby(shared);
  std::vector<std::string> carried;  // request bodies, as the change queue holds them
  TimePoint now = T0();
  standby.SetForwarder([&](SilenceChange change, Silences::Done<std::string> done) {
    carried.push_back(SilenceChangeToJson(change).dump());
    auto parsed = SilenceChangeFromJson(nlohmann::json::parse(carried.back()));
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, change);  // nothing lost on the way
    active.ApplyForwarded(std::move(*parsed), now, [&](Result<std::string> made) {
      if (made) {
        ASSERT_TRUE(standby.Load());  // as the relay does before answering
      }
      done(std::move(made));
    });
  });
  ASSERT_TRUE(standby.forwarding());

  // A new silence: created by the active under the id the standby chose.
  auto id = fakes::UpsertNow(standby, Make("psp=\"A\"", T0(), T0() + 2h), now);
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_EQ(carried.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(carried[0])["new_id"], *id);
  EXPECT_EQ(active.MutedBy({{"psp", "A"}}, now + 1min), std::vector<std::string>{*id});
  EXPECT_EQ(standby.Get(*id)->created_by, "alice");
  EXPECT_EQ(shared.rows.size(), 1u);

  // The same request applied again: answered with the same id, nothing written twice.
  auto again = SilenceChangeFromJson(nlohmann::json::parse(carried[0]));
  ASSERT_TRUE(again);
  std::optional<Result<std::string>> twice;
  active.ApplyForwarded(*again, now + 1s, [&](Result<std::string> r) { twice = std::move(r); });
  ASSERT_TRUE(twice && *twice);
  EXPECT_EQ(**twice, *id);
  EXPECT_EQ(shared.rows.size(), 1u);
  EXPECT_EQ(shared.rows.at(*id).updated_at, now);

  // What only the standby can tell is answered there, without a request.
  auto invalid = fakes::UpsertNow(standby, Make("psp=\"A\"", T0() - 2h, T0() - 1h), now);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind(), Error::Kind::kInvalid);
  EXPECT_EQ(carried.size(), 1u);

  // What only the active knows is its answer: an id it has never seen.
  auto unknown = Make("psp=\"B\"", T0(), T0() + 1h);
  unknown.id = "no-such-id";
  auto refused = fakes::UpsertNow(standby, unknown, now);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), Error::Kind::kNotFound);

  // Expired through the standby: the active's list, the store and the standby's list agree.
  now = T0() + 10min;
  ASSERT_TRUE(fakes::ExpireNow(standby, *id, now));
  EXPECT_TRUE(active.MutedBy({{"psp", "A"}}, now + 1min).empty());
  EXPECT_EQ(shared.rows.at(*id).ends_at, now);
  EXPECT_EQ(standby.Get(*id)->StateAt(now), SilenceState::kExpired);

  // A standby that applies nothing itself.
  std::optional<Result<std::string>> on_standby;
  standby.ApplyForwarded(*again, now, [&](Result<std::string> r) { on_standby = std::move(r); });
  ASSERT_TRUE(on_standby && !*on_standby);
  EXPECT_EQ(on_standby->error().kind(), Error::Kind::kTransient);
}

TEST(SilenceChangeTest, JsonThatIsNotAChangeIsRefusedNamingTheField) {
  auto no_kind = SilenceChangeFromJson(nlohmann::json::object());
  ASSERT_FALSE(no_kind);
  EXPECT_NE(no_kind.error().message().find("`kind`"), std::string::npos);
  auto odd = SilenceChangeFromJson({{"kind", "mute"}});
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message().find("mute"), std::string::npos);
  auto no_silence = SilenceChangeFromJson({{"kind", "upsert"}, {"new_id", "x"}});
  ASSERT_FALSE(no_silence);
  EXPECT_NE(no_silence.error().message().find("`silence`"), std::string::npos);
  auto bad_matchers = SilenceChangeFromJson(
      {{"kind", "upsert"},
       {"new_id", "x"},
       {"silence", {{"matchers", "psp=~\"(\""}, {"starts_at_ms", 1}, {"ends_at_ms", 2}}}});
  ASSERT_FALSE(bad_matchers);
  EXPECT_NE(bad_matchers.error().message().find("`matchers`"), std::string::npos);
  auto bad_time = SilenceChangeFromJson(
      {{"kind", "upsert"},
       {"new_id", "x"},
       {"silence", {{"matchers", "psp=\"A\""}, {"starts_at_ms", "soon"}, {"ends_at_ms", 2}}}});
  ASSERT_FALSE(bad_time);
  EXPECT_NE(bad_time.error().message().find("`starts_at_ms`"), std::string::npos);
  auto expire = SilenceChangeFromJson({{"kind", "expire"}, {"id", "abc"}});
  ASSERT_TRUE(expire);
  EXPECT_EQ(expire->kind, SilenceChange::Kind::kExpire);
  EXPECT_EQ(expire->id, "abc");
}

}  // namespace
}  // namespace silences_test
}  // namespace tocsin::dispatch
