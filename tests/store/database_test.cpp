#include "tocsin/store/database.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace tocsin::store {
namespace {

std::vector<Migration> Silences() {
  return {{"dispatch", 1, "CREATE TABLE silences (id TEXT PRIMARY KEY, comment TEXT)"},
          {"dispatch", 2, "ALTER TABLE silences ADD COLUMN author TEXT"}};
}

TEST(DatabaseTest, MigratesPerModuleOnceAndInOrder) {
  testing::TempDir dir;
  auto db = Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db) << db.error().message();
  ASSERT_TRUE((*db)->Migrate(Silences()));
  EXPECT_EQ((*db)->SchemaVersion("dispatch"), 2);
  EXPECT_EQ((*db)->SchemaVersion("incident"), 0);
  // Again: nothing to do, no error (ALTER would fail if re-applied).
  ASSERT_TRUE((*db)->Migrate(Silences()));
  ASSERT_TRUE((*db)->Exec("INSERT INTO silences(id, comment, author) VALUES ('s1', 'c', 'a')"));
}

TEST(DatabaseTest, RefusesADatabaseFromANewerTocsin) {
  testing::TempDir dir;
  auto db = Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(Silences()));
  auto r = (*db)->Migrate({{"dispatch", 1, "CREATE TABLE x(a)"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("newer than this tocsin knows"), std::string::npos);
}

TEST(DatabaseTest, FailedTransactionRollsBack) {
  testing::TempDir dir;
  auto db = Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(Silences()));
  auto r = (*db)->Transaction([](Database& d) -> Result<void> {
    if (auto e = d.Exec("INSERT INTO silences(id) VALUES ('a')"); !e) return e;
    return d.Exec("INSERT INTO silences(id) VALUES ('a')");  // duplicate key
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kConflict);
  auto st = (*db)->Prepare("SELECT COUNT(*) FROM silences");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), 0);
}

TEST(DatabaseTest, BackupIsAConsistentCopy) {
  testing::TempDir dir;
  auto db = Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(Silences()));
  ASSERT_TRUE((*db)->Exec("INSERT INTO silences(id, comment) VALUES ('s1', 'PSP-A window')"));
  ASSERT_TRUE((*db)->Backup(dir.path() + "/backup.db"));
  auto copy = Database::Open(dir.path() + "/backup.db");
  ASSERT_TRUE(copy);
  EXPECT_EQ((*copy)->SchemaVersion("dispatch"), 2);
  auto st = (*copy)->Prepare("SELECT comment FROM silences WHERE id = ?");
  ASSERT_TRUE(st);
  st->Bind(1, std::string_view("s1"));
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Text(0), "PSP-A window");
}

TEST(DatabaseTest, UnopenablePathIsAnIoError) {
  auto db = Database::Open("/nonexistent/dir/tocsin.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().kind(), Error::Kind::kIo);
}

TEST(DatabaseTest, CachedStatementIsReusedWithFreshBindingsAndANestedUseCompilesAfresh) {
  testing::TempDir dir;
  auto db = Database::Open(dir.path() + "/tocsin.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Migrate(Silences()));
  constexpr std::string_view kInsert = "INSERT INTO silences(id, comment) VALUES (?, ?)";
  for (std::string id : {"a", "b", "c"}) {
    auto st = (*db)->PrepareCached(kInsert);
    ASSERT_TRUE(st) << st.error().message();
    // Only the first binding is set: a binding left from the previous use must not leak in.
    ASSERT_TRUE(st->Bind(1, std::string_view(id)).Run());
  }
  constexpr std::string_view kSelect = "SELECT id, comment FROM silences ORDER BY id";
  auto outer = (*db)->PrepareCached(kSelect);
  ASSERT_TRUE(outer);
  std::vector<std::string> ids;
  while (*outer->Step()) {
    EXPECT_TRUE(outer->IsNull(1));
    ids.push_back(outer->Text(0));
    // The same text while the cached one is stepping: a statement of its own.
    auto inner = (*db)->PrepareCached(kSelect);
    ASSERT_TRUE(inner);
    ASSERT_TRUE(*inner->Step());
    EXPECT_EQ(inner->Text(0), "a");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace tocsin::store
