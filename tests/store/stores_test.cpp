// The stores on both backends: what one writes, a fresh connection (a restart, another
// instance) reads back exactly; the timeline stays append-only and hash-chained; a stale change
// and a replayed delivery are refused; and on PostgreSQL a session the server drops costs only
// the transaction it cut.
#include <gtest/gtest.h>

#include <cmath>

#include "support/test_store.h"
#include "tocsin/dispatch/matcher.h"
#include "tocsin/incident/timeline.h"
#include "tocsin/store/sqlite_alert_state_store.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_override_store.h"
#include "tocsin/store/sqlite_silence_store.h"

namespace tocsin::store {
namespace {

using incident::Incident;
using incident::IncidentChange;
using incident::TimelineEvent;

TimePoint At(std::int64_t ms) { return FromUnixMillis(ms); }
constexpr std::int64_t kT0 = 1'800'000'000'000;  // 2027: milliseconds past 32 bits

class StoresTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    store_ = tocsin::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(store_);
    db_ = store_->Open();
    ASSERT_TRUE(db_);
  }
  // A change of `inc` with one new timeline event per kind, chained onto it.
  static IncidentChange Change(Incident& inc, const std::vector<std::string>& kinds,
                               std::int64_t at_ms) {
    IncidentChange c;
    for (const auto& kind : kinds) {
      TimelineEvent e;
      e.incident_id = inc.id;
      e.at = At(at_ms);
      e.kind = kind;
      e.actor = "tocsin";
      e.text = kind + " it's \"quoted\" ? and $1";
      e.data = R"({"step":1})";
      incident::ChainEvent(inc, e);
      c.events.push_back(e);
    }
    c.incident = inc;
    return c;
  }
  std::unique_ptr<tocsin::testing::TestStore> store_;
  std::unique_ptr<Database> db_;
};

TEST_P(StoresTest, IncidentsTimelinesAndPagesReadBackExactlyOnAFreshConnection) {
  SqliteIncidentStore writer(*db_);
  ASSERT_TRUE(writer.Migrate());
  Incident inc;
  inc.id = "INC-7";
  inc.number = 7;
  inc.key = "route/payments";
  inc.title = "Deposit success 97.2 % at PSP-A";
  inc.opened_at = At(kT0);
  auto first = Change(inc, {"opened", "page_decided"}, kT0);
  incident::PageRequest page;
  page.incident_id = inc.id;
  page.idempotency_key = "INC-7/step-0/trigger";
  first.pages = {page};
  first.delivery = incident::InboundDelivery{"pagerduty", "01EVENT", At(kT0)};
  ASSERT_TRUE(writer.Commit(first));
  // The same page key again keeps the first intent; the same delivery again is refused whole.
  Incident refused_copy = inc;  // a refused change leaves `inc` as stored
  auto again = Change(refused_copy, {"note"}, kT0 + 1);
  again.pages = {page};
  again.delivery = first.delivery;
  auto replay = writer.Commit(again);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().kind(), Error::Kind::kConflict);
  // A change computed from a stale copy (it starts at a seq already written) is refused.
  auto stale_change = first;
  stale_change.delivery.reset();
  auto refused = writer.Commit(stale_change);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), Error::Kind::kConflict);
  inc.state = incident::IncidentState::kAcknowledged;
  ASSERT_EQ(writer.PendingPages()->size(), 1u);
  // A change marks intents handed off in its own transaction (the "queued" record does).
  auto ack = Change(inc, {"acknowledged"}, kT0 + 2);
  ack.handed_off = {page.idempotency_key};
  ASSERT_TRUE(writer.Commit(ack));
  EXPECT_TRUE(writer.PendingPages()->empty());
  ASSERT_TRUE(writer.MarkHandedOff(page.idempotency_key));  // again, on its own: harmless

  auto db = store_->Open();
  SqliteIncidentStore reader(*db);
  auto got = reader.Get("INC-7");
  ASSERT_TRUE(got && *got) << (got ? "missing" : got.error().message());
  EXPECT_EQ(**got, inc);
  auto timeline = reader.Timeline("INC-7");
  ASSERT_TRUE(timeline);
  ASSERT_EQ(timeline->size(), 3u);
  EXPECT_EQ((*timeline)[0], first.events[0]);
  EXPECT_TRUE(incident::VerifyTimeline(**got, *timeline).ok);
  EXPECT_EQ(*reader.PageKeys("INC-7"), std::vector<std::string>{"INC-7/step-0/trigger"});
  EXPECT_TRUE(reader.PendingPages()->empty());
  EXPECT_TRUE(*reader.HasDelivery("pagerduty", "01EVENT"));
  EXPECT_EQ(*reader.PeekNextIncidentNumber(), 8);
  EXPECT_EQ(reader.List({})->size(), 1u);
  incident::IncidentFilter acked;
  acked.state = incident::IncidentState::kAcknowledged;
  acked.limit = 0;
  EXPECT_EQ(reader.List(acked)->size(), 1u);
  acked.opened_before = At(kT0);
  EXPECT_TRUE(reader.List(acked)->empty());
  // Append-only: the database itself refuses to change or remove a timeline row.
  EXPECT_FALSE(db->Exec("UPDATE incident_timeline SET text = 'edited'"));
  EXPECT_FALSE(db->Exec("DELETE FROM incident_timeline"));
  EXPECT_EQ(reader.Timeline("INC-7")->size(), 3u);
}

// A restart lists every open incident, parsed on several threads (more than a few hundred
// rows): each one comes back, in the order asked for, and a row that does not parse is an
// error, not a gap in the list.
TEST_P(StoresTest, ManyIncidentsListInOrderAndARowThatDoesNotParseIsAnError) {
  SqliteIncidentStore store(*db_);
  ASSERT_TRUE(store.Migrate());
  constexpr int kIncidents = 1500;
  for (int n = 1; n <= kIncidents; ++n) {
    Incident inc;
    inc.number = n;
    inc.id = "INC-" + std::to_string(n);
    inc.key = "group/" + std::to_string(n);
    inc.title = "incident " + std::to_string(n);
    inc.opened_at = At(kT0 + n);
    ASSERT_TRUE(store.Commit(Change(inc, {"opened"}, kT0 + n)));
  }
  incident::IncidentFilter open;  // what a restart reads
  open.open_only = true;
  open.limit = 0;
  auto listed = store.List(open);
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), static_cast<std::size_t>(kIncidents));
  for (int i = 0; i < kIncidents; ++i) {
    const Incident& inc = (*listed)[static_cast<std::size_t>(i)];
    ASSERT_EQ(inc.number, kIncidents - i);  // newest first
    ASSERT_EQ(inc.title, "incident " + std::to_string(kIncidents - i));
  }
  ASSERT_TRUE(db_->Exec("UPDATE incidents SET body = '{not json' WHERE number = 700"));
  auto broken = store.List(open);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("malformed"), std::string::npos)
      << broken.error().message();
}

TEST_P(StoresTest, SilencesAndAlertStateRoundTrip) {
  ASSERT_TRUE(db_->Migrate(dispatch::SqliteSilenceStore::Migrations()));
  dispatch::SqliteSilenceStore silences(*db_);
  dispatch::Silence s;
  s.id = "s1";
  s.matchers = *dispatch::ParseMatchers(R"({psp="psp-a"})");
  s.starts_at = At(kT0);
  s.ends_at = At(kT0 + 3'600'000);
  s.updated_at = At(kT0);
  s.created_by = "l1a";
  s.comment = "PSP-A maintenance";
  std::optional<Result<void>> done;
  silences.Write({s}, [&](Result<void> r) { done = r; });
  ASSERT_TRUE(done && *done);
  s.comment = "extended";  // the same id again replaces it
  silences.Write({s}, [&](Result<void> r) { done = r; });
  ASSERT_TRUE(done && *done);

  auto st = rules::SqliteAlertStateStore::Open(*db_, nullptr);
  ASSERT_TRUE(st) << st.error().message();
  rules::PersistedAlertState a;
  a.rule_key = "slo/deposit/page";
  a.definition_hash = 0xfedcba9876543210ULL;
  a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"psp", "psp-a"}};
  a.state = AlertState::kFiring;
  a.bad = 3;
  a.active_since = At(kT0);
  a.fired_at = At(kT0 + 60'000);
  a.updated_at = At(kT0 + 120'000);
  a.value = 0.1 + 0.2;
  auto b = a;
  b.rule_key = "rule/nan";
  b.value = std::nan("");
  ASSERT_TRUE((*st)->Apply({a, b}, {}));

  auto db = store_->Open();
  dispatch::SqliteSilenceStore silences2(*db);
  auto loaded = silences2.LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].comment, "extended");
  EXPECT_EQ((*loaded)[0].ends_at, s.ends_at);
  auto states = rules::SqliteAlertStateStore::Open(*db, nullptr);
  ASSERT_TRUE(states);
  auto back = (*states)->Load();
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  const auto& got = (*back)[0].rule_key == a.rule_key ? (*back)[0] : (*back)[1];
  EXPECT_EQ(got, a);  // the double exactly, the 64-bit hash and times too
  ASSERT_TRUE((*states)->Apply({}, {{b.rule_key, b.labels.fingerprint()}}));
  EXPECT_EQ((*states)->Load()->size(), 1u);
}

// Regression: on PostgreSQL every override came back with id -1 (LastInsertId has no
// PostgreSQL counterpart), so two overrides had the same id.
TEST_P(StoresTest, OverridesGetTheirOwnIdsAndReadBackExactly) {
  ASSERT_TRUE(db_->Migrate(SqliteOverrideStore::Migrations()));
  SqliteOverrideStore overrides(*db_);
  std::vector<oncall::RecordedOverride> added;
  for (const char* person : {"ana", "bo"}) {
    oncall::RecordedOverride e;
    e.override.kind = oncall::Override::Kind::kSwap;
    e.override.rotation = "primary";
    e.override.from = At(kT0);
    e.override.to = At(kT0 + 3'600'000);
    e.override.person = person;
    e.override.with = "cy";
    e.override.reason = "it's \"dentist\" ?";
    e.created_by = "lead";
    e.created_at = At(kT0 - 1);
    overrides.Add(e, [&](Result<oncall::RecordedOverride> r) {
      ASSERT_TRUE(r) << r.error().message();
      added.push_back(*r);
    });
  }
  ASSERT_EQ(added.size(), 2u);
  EXPECT_GT(added[0].id, 0);
  EXPECT_GT(added[1].id, added[0].id);
  auto fresh = store_->Open();
  ASSERT_TRUE(fresh);
  auto loaded = SqliteOverrideStore(*fresh).LoadAll();
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, added);
}

// PostgreSQL restarted, or a network cut: the transaction in flight fails whole (none of its
// writes lands on the next session), and the next one reconnects and commits.
TEST_P(StoresTest, ASessionTheServerDropsFailsItsTransactionAndTheNextReconnects) {
  ASSERT_TRUE(db_->Migrate({{"t", 1, "CREATE TABLE t (id TEXT PRIMARY KEY)"}}));
  auto insert = [](Database& db, const char* id) {
    auto st = db.Prepare("INSERT INTO t (id) VALUES (?)");
    if (!st) return Result<void>(Fail(st.error()));
    return st->Bind(1, std::string_view(id)).Run();
  };
  auto admin = store_->Open();
  auto r = db_->Transaction([&](Database& db) -> Result<void> {
    if (auto e = insert(db, "before-the-cut"); !e) return e;
    if (GetParam() == Dialect::kPostgres) {
      // Another session ends ours (and only ours: other tests share the server), as a server
      // restart would.
      auto pid = db.Prepare("SELECT pg_backend_pid()");
      if (!pid) return Fail(pid.error());
      if (auto row = pid->Step(); !row || !*row) return Fail(Error::Io("no backend pid"));
      auto kill = admin->Prepare("SELECT pg_terminate_backend(?)");
      if (!kill) return Fail(kill.error());
      if (auto e = kill->Bind(1, pid->Int(0)).Run(); !e) return e;
    }
    (void)insert(db, "after-the-cut");
    return {};
  });
  auto count = [&] {
    auto st = admin->Prepare("SELECT COUNT(*) FROM t");
    return st && *st->Step() ? st->Int(0) : -1;
  };
  if (GetParam() == Dialect::kSqlite) {
    ASSERT_TRUE(r);  // nothing to cut: both rows are written
    EXPECT_EQ(count(), 2);
    return;
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kTransient) << r.error().message();
  EXPECT_EQ(count(), 0);
  ASSERT_TRUE(db_->Transaction([&](Database& db) { return insert(db, "next"); }));
  EXPECT_EQ(count(), 1);
}

TOCSIN_ON_BOTH_STORES(StoresTest);

}  // namespace
}  // namespace tocsin::store
