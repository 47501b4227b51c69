// The store's fault hook: the n-th write or commit fails as an I/O error would, nothing of it
// reaches the file, and reads, BEGIN and ROLLBACK are not counted.
#include <gtest/gtest.h>

#include "fakes/store/counting_fault_injector.h"
#include "support/test_store.h"
#include "tocsin/store/database.h"

namespace tocsin::store {
namespace {

using testkit::CountingFaultInjector;

class FaultInjectorTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    store_ = tocsin::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(store_);
    db_ = store_->Open();
    ASSERT_TRUE(db_);
    ASSERT_TRUE(db_->Migrate({{"test", 1, "CREATE TABLE t (id TEXT PRIMARY KEY)"}}));
  }
  void TearDown() override {
    if (db_) db_->SetFaultInjector(nullptr);
  }
  Result<void> Insert(Database& db, const std::string& id) {
    auto st = db.Prepare("INSERT INTO t(id) VALUES (?)");
    if (!st) return Fail(st.error());
    return st->Bind(1, std::string_view(id)).Run();
  }
  // What a fresh connection sees: only what was durably written.
  std::vector<std::string> RowsOnDisk() {
    auto db = store_->Open();
    std::vector<std::string> out;
    if (!db) return out;
    auto st = db->Prepare("SELECT id FROM t ORDER BY id");
    EXPECT_TRUE(st);
    while (*st->Step()) out.push_back(st->Text(0));
    return out;
  }

  std::unique_ptr<tocsin::testing::TestStore> store_;
  std::unique_ptr<Database> db_;
};

TEST_P(FaultInjectorTest, NthWriteFailsAsAnIoErrorAndIsNotWritten) {
  CountingFaultInjector faults(StoreOp::kWrite, 2);
  db_->SetFaultInjector(&faults);
  EXPECT_TRUE(Insert(*db_, "a"));
  auto r = Insert(*db_, "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kIo);
  EXPECT_NE(r.error().message().find("injected fault: write #2"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(Insert(*db_, "c"));  // only the n-th fails
  EXPECT_TRUE(faults.fired());
  EXPECT_EQ(faults.failed_sql(), "INSERT INTO t(id) VALUES (?)");
  EXPECT_EQ(faults.writes(), 3);
  EXPECT_EQ(RowsOnDisk(), (std::vector<std::string>{"a", "c"}));
}

TEST_P(FaultInjectorTest, FailedCommitRollsBackTheWholeTransaction) {
  CountingFaultInjector faults(StoreOp::kCommit, 1);
  db_->SetFaultInjector(&faults);
  auto r = db_->Transaction([&](Database& db) -> Result<void> {
    if (auto e = Insert(db, "a"); !e) return e;
    return Insert(db, "b");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kIo);
  EXPECT_EQ(faults.failed_sql(), "COMMIT");
  EXPECT_EQ(faults.lost_writes().size(), 2u);
  EXPECT_TRUE(RowsOnDisk().empty());
  // The connection is usable again: the next transaction commits.
  ASSERT_TRUE(db_->Transaction([&](Database& db) { return Insert(db, "c"); }));
  EXPECT_EQ(RowsOnDisk(), (std::vector<std::string>{"c"}));
  EXPECT_EQ(faults.commits(), 2);
}

TEST_P(FaultInjectorTest, WriteOutsideATransactionIsAlsoItsOwnCommit) {
  CountingFaultInjector faults(StoreOp::kCommit, 1);
  db_->SetFaultInjector(&faults);
  ASSERT_FALSE(Insert(*db_, "a"));
  EXPECT_EQ(faults.writes(), 1);
  EXPECT_EQ(faults.commits(), 1);
  EXPECT_TRUE(RowsOnDisk().empty());
}

TEST_P(FaultInjectorTest, ReadsBeginAndRollbackAreNotCounted) {
  CountingFaultInjector faults;  // counts only
  db_->SetFaultInjector(&faults);
  ASSERT_TRUE(Insert(*db_, "a"));
  auto st = db_->Prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), 1);
  auto rolled_back = db_->Transaction([&](Database& db) -> Result<void> {
    if (auto e = Insert(db, "b"); !e) return e;
    return Fail(Error::Invalid("changed my mind"));
  });
  ASSERT_FALSE(rolled_back);
  EXPECT_EQ(faults.writes(), 2);   // a, b
  EXPECT_EQ(faults.commits(), 1);  // a's autocommit; BEGIN and ROLLBACK are not commits
}

TEST_P(FaultInjectorTest, EachStatementOfAnExecScriptIsOneWrite) {
  CountingFaultInjector faults(StoreOp::kWrite, 2);
  db_->SetFaultInjector(&faults);
  auto r = db_->Exec("INSERT INTO t(id) VALUES ('a'); INSERT INTO t(id) VALUES ('b');");
  ASSERT_FALSE(r);
  EXPECT_EQ(faults.failed_sql(), "INSERT INTO t(id) VALUES ('b');");
  EXPECT_EQ(RowsOnDisk(), (std::vector<std::string>{"a"}));
}

TEST_P(FaultInjectorTest, UnsetInjectorIsNeverAskedAgain) {
  CountingFaultInjector faults(StoreOp::kWrite, 1);
  db_->SetFaultInjector(&faults);
  db_->SetFaultInjector(nullptr);
  EXPECT_TRUE(Insert(*db_, "a"));
  EXPECT_EQ(faults.writes(), 0);
  EXPECT_FALSE(faults.fired());
}

TEST_P(FaultInjectorTest, ExecStillReportsTheDatabasesOwnErrors) {
  auto r = db_->Exec("INSERT INTO t(id) VALUES ('a'); INSERT INTO t(id) VALUES ('a');");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kConflict);
  EXPECT_NE(r.error().message().find(GetParam() == Dialect::kSqlite
                                         ? "UNIQUE constraint failed"
                                         : "duplicate key value violates unique constraint"),
            std::string::npos)
      << r.error().message();
  auto bad = db_->Exec("SELEC 1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("syntax error"), std::string::npos);
}

TOCSIN_ON_BOTH_STORES(FaultInjectorTest);

}  // namespace
}  // namespace tocsin::store
