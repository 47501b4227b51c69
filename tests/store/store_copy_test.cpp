// CopyStore (`tocsin store migrate`) into either backend. Regression: the target was migrated
// outside the copy's transaction, so a failed copy left it migrated (and a retry was refused
// as "already holds a tocsin store"); and the source was migrated, i.e. written to.
#include "tocsin/store/store_copy.h"

#include <gtest/gtest.h>

#include "support/test_store.h"

namespace tocsin::store {
namespace {

std::vector<Migration> V1() {
  return {{"m", 1, "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)"}};
}
std::vector<Migration> V2() {
  auto m = V1();
  m.push_back({"m", 2, "ALTER TABLE a ADD COLUMN w TEXT"});
  return m;
}

// Fails the first copied row of table a: after the target's migrations ran.
class FailCopy : public FaultInjector {
 public:
  std::optional<Error> Before(StoreOp op, std::string_view sql) override {
    if (op == StoreOp::kWrite && sql.find("INSERT INTO a ") != std::string_view::npos) {
      return Error::Io("injected: the disk is full");
    }
    return std::nullopt;
  }
};

class StoreCopyTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    source_ = tocsin::testing::TestStore::Create(Dialect::kSqlite);
    target_ = tocsin::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(source_ && target_);
    from_ = source_->Open();
    to_ = target_->Open();
    ASSERT_TRUE(from_ && to_);
  }
  std::unique_ptr<tocsin::testing::TestStore> source_, target_;
  std::unique_ptr<Database> from_, to_;
};

TEST_P(StoreCopyTest, AFailedCopyLeavesTheTargetUnmigratedAndARetrySucceeds) {
  ASSERT_TRUE(from_->Migrate(V2()));
  ASSERT_TRUE(from_->Exec("INSERT INTO a (v, w) VALUES ('one', 'x'), ('two', NULL)"));
  FailCopy fail;
  to_->SetFaultInjector(&fail);
  auto failed = CopyStore(*from_, *to_, V2());
  to_->SetFaultInjector(nullptr);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("injected"), std::string::npos)
      << failed.error().message();
  EXPECT_EQ(to_->SchemaVersion("m"), 0);
  auto copied = CopyStore(*from_, *to_, V2());
  ASSERT_TRUE(copied) << copied.error().message();
  EXPECT_EQ(to_->SchemaVersion("m"), 2);
  auto st = to_->Prepare("SELECT COUNT(*), MAX(id) FROM a");
  ASSERT_TRUE(st && *st->Step());
  EXPECT_EQ(st->Int(0), 2);
  EXPECT_EQ(st->Int(1), 2);
}

TEST_P(StoreCopyTest, AnOlderSourceIsRefusedAndLeftUnwritten) {
  ASSERT_TRUE(from_->Migrate(V1()));
  auto refused = CopyStore(*from_, *to_, V2());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), Error::Kind::kInvalid);
  EXPECT_NE(refused.error().message().find("older than this tocsin's (2)"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(from_->SchemaVersion("m"), 1);  // not migrated
  EXPECT_EQ(to_->SchemaVersion("m"), 0);
}

TOCSIN_ON_BOTH_STORES(StoreCopyTest);

}  // namespace
}  // namespace tocsin::store
