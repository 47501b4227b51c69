// Database on both backends: migrations, transactions, cached statements, and what only one
// of them does (SQLite's online backup; PostgreSQL's fence and its refusal to back up).
#include "tocsin/store/database.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "support/temp_dir.h"
#include "support/test_store.h"

namespace tocsin::store {
namespace {

using tocsin::testing::TestStore;

std::vector<Migration> Silences() {
  return {{"dispatch", 1, "CREATE TABLE silences (id TEXT PRIMARY KEY, comment TEXT)"},
          {"dispatch", 2, "ALTER TABLE silences ADD COLUMN author TEXT"}};
}

class DatabaseTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    store_ = TestStore::Create(GetParam());
    ASSERT_TRUE(store_);
    db_ = store_->Open();
    ASSERT_TRUE(db_);
  }
  std::int64_t Count(Database& db, const std::string& sql) {
    auto st = db.Prepare(sql);
    EXPECT_TRUE(st) << st.error().message();
    if (!st) return -1;
    auto row = st->Step();
    EXPECT_TRUE(row && *row);
    return st->Int(0);
  }
  std::unique_ptr<TestStore> store_;
  std::unique_ptr<Database> db_;
};

TEST_P(DatabaseTest, MigratesPerModuleOnceAndInOrder) {
  EXPECT_EQ(db_->dialect(), GetParam());
  ASSERT_TRUE(db_->Migrate(Silences()));
  EXPECT_EQ(db_->SchemaVersion("dispatch"), 2);
  EXPECT_EQ(db_->SchemaVersion("incident"), 0);
  // Again: nothing to do, no error (ALTER would fail if re-applied).
  ASSERT_TRUE(db_->Migrate(Silences()));
  ASSERT_TRUE(db_->Exec("INSERT INTO silences(id, comment, author) VALUES ('s1', 'c', 'a')"));
  // Another connection (another instance) finds the same versions and applies nothing.
  auto other = store_->Open();
  ASSERT_TRUE(other->Migrate(Silences()));
  EXPECT_EQ(other->SchemaVersion("dispatch"), 2);
}

TEST_P(DatabaseTest, RefusesADatabaseFromANewerTocsin) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  auto r = db_->Migrate({{"dispatch", 1, "CREATE TABLE x(a TEXT)"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("newer than this tocsin knows"), std::string::npos);
}

TEST_P(DatabaseTest, FailedTransactionRollsBack) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  auto r = db_->Transaction([](Database& d) -> Result<void> {
    if (auto e = d.Exec("INSERT INTO silences(id) VALUES ('a')"); !e) return e;
    return d.Exec("INSERT INTO silences(id) VALUES ('a')");  // duplicate key
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kConflict);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 0);
}

// A transaction whose statement failed must not report a commit: PostgreSQL would answer
// COMMIT to it and quietly roll back.
TEST_P(DatabaseTest, CommitAfterAFailedStatementFailsAndWritesNothing) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  auto r = db_->Transaction([](Database& d) -> Result<void> {
    if (auto e = d.Exec("INSERT INTO silences(id) VALUES ('a')"); !e) return e;
    (void)d.Exec("INSERT INTO silences(id) VALUES ('a')");  // fails; the caller ignores it
    return d.Exec("INSERT INTO silences(id) VALUES ('b')");
  });
  if (GetParam() == Dialect::kSqlite) {
    // SQLite keeps the transaction alive past a failed statement: a and b are written.
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 2);
  } else {
    ASSERT_FALSE(r);
    EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 0);
  }
  // The connection is usable again.
  ASSERT_TRUE(db_->Transaction([](Database& d) { return d.Exec("DELETE FROM silences"); }));
}

TEST_P(DatabaseTest, PlaceholdersNumberedAndBareBindTheSameValues) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  auto ins = db_->Prepare("INSERT INTO silences(id, comment, author) VALUES (?1, ?2, ?1)");
  ASSERT_TRUE(ins) << ins.error().message();
  ASSERT_TRUE(ins->Bind(1, std::string_view("it's")).Bind(2, std::string_view("a ? mark")).Run());
  auto st = db_->Prepare("SELECT comment, author FROM silences WHERE id = ? AND comment <> '?'");
  ASSERT_TRUE(st);
  st->Bind(1, std::string_view("it's"));
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Text(0), "a ? mark");
  EXPECT_EQ(st->Text(1), "it's");
  EXPECT_FALSE(*st->Step());
}

TEST_P(DatabaseTest, SixtyFourBitIntegersDoublesAndNullsRoundTrip) {
  ASSERT_TRUE(db_->Migrate({{"t", 1, "CREATE TABLE n (i INTEGER, d REAL, s TEXT)"}}));
  auto ins = db_->Prepare("INSERT INTO n (i, d, s) VALUES (?, ?, ?)");
  ASSERT_TRUE(ins);
  const std::int64_t big = 1'800'000'000'000'123;  // unix ms far past 2038, past 32 bits
  ASSERT_TRUE(ins->Bind(1, big).Bind(2, 0.1 + 0.2).BindNull(3).Run());
  EXPECT_EQ(ins->Changes(), 1);
  auto st = db_->Prepare("SELECT i, d, s FROM n");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), big);
  EXPECT_EQ(st->Double(1), 0.1 + 0.2);
  EXPECT_TRUE(st->IsNull(2));
  EXPECT_FALSE(st->IsNull(0));
}

TEST_P(DatabaseTest, CachedStatementIsReusedWithFreshBindingsAndANestedUseCompilesAfresh) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  constexpr std::string_view kInsert = "INSERT INTO silences(id, comment) VALUES (?, ?)";
  for (std::string id : {"a", "b", "c"}) {
    auto st = db_->PrepareCached(kInsert);
    ASSERT_TRUE(st) << st.error().message();
    // Only the first binding is set: a binding left from the previous use must not leak in.
    ASSERT_TRUE(st->Bind(1, std::string_view(id)).BindNull(2).Run());
  }
  constexpr std::string_view kSelect = "SELECT id, comment FROM silences ORDER BY id";
  auto outer = db_->PrepareCached(kSelect);
  ASSERT_TRUE(outer);
  std::vector<std::string> ids;
  while (*outer->Step()) {
    EXPECT_TRUE(outer->IsNull(1));
    ids.push_back(outer->Text(0));
    // The same text while the cached one is stepping: a statement of its own.
    auto inner = db_->PrepareCached(kSelect);
    ASSERT_TRUE(inner);
    ASSERT_TRUE(*inner->Step());
    EXPECT_EQ(inner->Text(0), "a");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(DatabaseTest, BackupIsAConsistentCopyOnSqliteAndRefusedWithTheWayOnPostgres) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  ASSERT_TRUE(db_->Exec("INSERT INTO silences(id, comment) VALUES ('s1', 'PSP-A window')"));
  auto r = db_->Backup(store_->dir() + "/backup.db");
  if (GetParam() == Dialect::kPostgres) {
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("pg_dump"), std::string::npos) << r.error().message();
    return;
  }
  ASSERT_TRUE(r);
  auto copy = Database::Open(store_->dir() + "/backup.db");
  ASSERT_TRUE(copy);
  EXPECT_EQ((*copy)->SchemaVersion("dispatch"), 2);
  auto st = (*copy)->Prepare("SELECT comment FROM silences WHERE id = ?");
  ASSERT_TRUE(st);
  st->Bind(1, std::string_view("s1"));
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Text(0), "PSP-A window");
}

// The fence: with an epoch set, every write transaction first asks tocsin_check_epoch (the ha
// module's function; a stand-in here that accepts epoch 7 only) in that same transaction.
TEST_P(DatabaseTest, FencedWritesCarryTheEpochAndAStaleOneWritesNothing) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  if (GetParam() == Dialect::kPostgres) {
    ASSERT_TRUE(db_->Exec(R"sql(
CREATE FUNCTION tocsin_check_epoch(e BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN IF e <> 7 THEN RAISE EXCEPTION 'epoch % is stale', e USING ERRCODE = 'TF001'; END IF;
END $$)sql"));
  }
  db_->SetFence(7);
  ASSERT_TRUE(db_->Exec("INSERT INTO silences(id) VALUES ('current')"));
  ASSERT_TRUE(db_->Transaction(
      [](Database& d) { return d.Exec("INSERT INTO silences(id) VALUES ('current-txn')"); }));
  db_->SetFence(6);
  auto autocommitted = db_->Exec("INSERT INTO silences(id) VALUES ('stale')");
  auto txn = db_->Transaction(
      [](Database& d) { return d.Exec("INSERT INTO silences(id) VALUES ('stale-txn')"); });
  Result<void> statement;
  {
    auto prepared = db_->Prepare("INSERT INTO silences(id) VALUES (?)");
    ASSERT_TRUE(prepared);
    statement = prepared->Bind(1, std::string_view("stale-stmt")).Run();
  }
  if (GetParam() == Dialect::kSqlite) {
    // One instance, nothing to fence.
    EXPECT_TRUE(autocommitted && txn && statement);
    EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 5);
    return;
  }
  for (const auto* r : {&autocommitted, &txn, &statement}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ((*r).error().kind(), Error::Kind::kConflict);
    EXPECT_NE((*r).error().message().find("epoch 6"), std::string::npos) << (*r).error().message();
  }
  db_->SetFence(std::nullopt);
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 2);
}

// Regression: SetFence took the lock a StoreThread holds for a whole group commit, so the
// loop changing the role waited for a network commit. With a transaction held open on
// another thread, SetFence returns at once (and takes effect from the next transaction).
TEST_P(DatabaseTest, SetFenceDoesNotWaitForATransactionInProgress) {
  ASSERT_TRUE(db_->Migrate(Silences()));
  std::promise<void> inside;
  std::promise<void> finish;
  std::thread writer([&] {
    auto r = db_->Transaction([&](Database& d) -> Result<void> {
      inside.set_value();
      finish.get_future().wait();
      return d.Exec("INSERT INTO silences(id) VALUES ('in-progress')");
    });
    EXPECT_TRUE(r) << r.error().message();
  });
  inside.get_future().wait();
  auto set = std::async(std::launch::async, [&] { db_->SetFence(std::nullopt); });
  // A generous bound that only a deadlock-like wait reaches: the call takes microseconds.
  const bool returned = set.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  finish.set_value();
  writer.join();
  set.wait();
  EXPECT_TRUE(returned) << "SetFence waited for the transaction in progress";
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM silences"), 1);
}

TOCSIN_ON_BOTH_STORES(DatabaseTest);

// Regression: every failure of the fence check was "epoch X is not the current one"
// (Conflict), a lost connection included, and after a connection lost during the check every
// later statement, reads too, failed as "lost in the middle of this transaction".
TEST(PostgresFenceTest, OnlyTheFencedSqlstateIsAConflictAndALostCheckLeavesNothingBehind) {
  auto store = tocsin::testing::TestStore::Create(Dialect::kPostgres);
  ASSERT_TRUE(store);
  auto db = store->Open();
  ASSERT_TRUE(db);
  // Epoch 7 is current; 5 ends the session during the check (a server restart, a network cut);
  // 4 fails the check with an error of its own; others are stale.
  ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE t (id TEXT PRIMARY KEY);
CREATE FUNCTION tocsin_check_epoch(e BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e = 5 THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;
  IF e = 4 THEN PERFORM 1 / 0; END IF;
  IF e <> 7 THEN RAISE EXCEPTION 'epoch % is stale', e USING ERRCODE = 'TF001'; END IF;
END $$)sql"));
  db->SetFence(6);
  auto stale = db->Exec("INSERT INTO t (id) VALUES ('stale')");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind(), Error::Kind::kConflict) << stale.error().message();

  db->SetFence(4);
  auto broken = db->Exec("INSERT INTO t (id) VALUES ('broken-check')");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().kind(), Error::Kind::kConflict) << broken.error().message();
  EXPECT_EQ(broken.error().message().find("not the current one"), std::string::npos)
      << broken.error().message();

  db->SetFence(5);
  auto lost = db->Transaction(
      [](Database& d) { return d.Exec("INSERT INTO t (id) VALUES ('lost-check')"); });
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind(), Error::Kind::kTransient) << lost.error().message();
  EXPECT_EQ(lost.error().message().find("not the current one"), std::string::npos)
      << lost.error().message();

  // The next statements run on a new session: a read, then a fenced write.
  db->SetFence(7);
  {
    auto st = db->Prepare("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(st) << st.error().message();
    auto row = st->Step();
    ASSERT_TRUE(row) << row.error().message();
    EXPECT_EQ(st->Int(0), 0);
  }
  ASSERT_TRUE(db->Exec("INSERT INTO t (id) VALUES ('current')"));
}

// The server itself ends a session left idle in a transaction (a paused tocsin): what the
// connection options ask for is what the server applies.
TEST(PostgresSessionTest, TheServerEndsASessionIdleInATransactionAfterFiveSeconds) {
  auto store = tocsin::testing::TestStore::Create(Dialect::kPostgres);
  ASSERT_TRUE(store);
  auto db = store->Open();
  ASSERT_TRUE(db);
  auto st = db->Prepare("SHOW idle_in_transaction_session_timeout");
  ASSERT_TRUE(st) << st.error().message();
  auto row = st->Step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(st->Text(0), "5s");
}

// Regression: a session the server ended while it was idle (PostgreSQL restarted) failed the
// next statement, whatever it was: a standby that took the lease right after the restart could
// not load the incidents and exited. A read, or a transaction's BEGIN, now runs on a new
// session; an autocommitted write is still never sent twice.
TEST(PostgresSessionTest, AReadOrATransactionAfterTheServerEndedTheIdleSessionRunsOnANewOne) {
  auto store = tocsin::testing::TestStore::Create(Dialect::kPostgres);
  ASSERT_TRUE(store);
  auto db = store->Open();
  auto admin = store->Open();
  ASSERT_TRUE(db && admin);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (id TEXT PRIMARY KEY)"));
  // Ends db's session from another one, as a restart of the server would, while db is idle.
  auto end_session = [&] {
    auto pid = db->Prepare("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid && *pid->Step());
    auto kill = admin->Prepare("SELECT pg_terminate_backend(?)");
    ASSERT_TRUE(kill);
    ASSERT_TRUE(kill->Bind(1, pid->Int(0)).Run());
  };
  auto count = [&] {
    auto st = admin->Prepare("SELECT COUNT(*) FROM t");
    return st && *st->Step() ? st->Int(0) : -1;
  };
  end_session();
  {
    auto st = db->Prepare("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(st) << st.error().message();
    auto row = st->Step();
    ASSERT_TRUE(row) << row.error().message();
    EXPECT_EQ(st->Int(0), 0);
  }
  end_session();
  auto tx = db->Transaction([](Database& d) { return d.Exec("INSERT INTO t (id) VALUES ('a')"); });
  EXPECT_TRUE(tx) << tx.error().message();
  EXPECT_EQ(count(), 1);
  // Whether an autocommitted write reached the server before its session broke is unknown:
  // it fails, and is not sent again behind the caller's back.
  end_session();
  auto write = db->Exec("INSERT INTO t (id) VALUES ('b')");
  EXPECT_FALSE(write);
  EXPECT_EQ(count(), 1);
  EXPECT_TRUE(db->Exec("INSERT INTO t (id) VALUES ('b')"));
  EXPECT_EQ(count(), 2);
}

TEST(DatabaseOpenTest, UnopenablePathIsAnIoError) {
  auto db = Database::Open("/nonexistent/dir/tocsin.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().kind(), Error::Kind::kIo);
}

TEST(DatabaseOpenTest, AWrongPostgresPasswordIsRefusedWithoutRepeatingIt) {
  auto server = tocsin::testing::TestPgServer();
  ASSERT_TRUE(server) << server.error().message();
  StoreUrl url = *server;
  url.password = "wrong-Secret-4711";
  auto db = Database::Open(url);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().kind(), Error::Kind::kTransient);
  EXPECT_NE(db.error().message().find("password authentication failed"), std::string::npos)
      << db.error().message();
  EXPECT_EQ(db.error().message().find("wrong-Secret-4711"), std::string::npos);
  EXPECT_NE(db.error().message().find(url.ToString()), std::string::npos);
}

}  // namespace
}  // namespace tocsin::store
