#pragma once

// The lease tests' database: a schema of its own on the throwaway PostgreSQL server of the
// CTest fixture `pg` (support/test_store.h), so cases run side by side without seeing each
// other's lease. Without a server the test fails and says how to start one.

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

 private:
  std::unique_ptr<tocsin::testing::TestStore> store_;
};

}  // namespace tocsin::ha::testing
