#pragma once

// The lease tests' database: a schema of its own on the throwaway PostgreSQL server of the
// CTest fixture `pg` (support/test_store.h), so cases run side by side without seeing each
// other's lease. Without a server the test fails and says how to start one.

#include <cstdint>
#include <memory>
#include <string>

#include "support/test_store.h"

namespace tocsin::ha::testing {

class PgTestDatabase {
 public:
  PgTestDatabase() : store_(tocsin::testing::TestStore::Create(store::Dialect::kPostgres)) {}
  bool ok() const { return store_ != nullptr; }
  // The libpq connection string (password and search_path included).
  std::string url() const { return store_->url().ConnectionString(); }
  // Runs one statement on a connection of its own.
  void Exec(const std::string& sql) const {
    auto db = store_->Open();
    ASSERT_TRUE(db != nullptr);
    auto r = db->Exec(sql);
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }
  // The first column of the first row of a query as an integer; -1 when there is no row.
  std::int64_t QueryInt(const std::string& sql) const {
    auto db = store_->Open();
    if (db == nullptr) return -1;
    auto st = db->Prepare(sql);
    if (!st) return -1;
    auto row = st->Step();
    return row && *row ? st->Int(0) : -1;
  }

 private:
  std::unique_ptr<tocsin::testing::TestStore> store_;
};

}  // namespace tocsin::ha::testing
