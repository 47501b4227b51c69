#pragma once

// A fresh, empty store on either backend, so that one test runs on both: a SQLite file in a
// temporary directory, or a schema of its own on the throwaway PostgreSQL server that the
// CTest fixture `pg` starts (scripts/pg-cluster). Each PostgreSQL test creates a schema with
// a unique name (its connections' search_path) and drops it afterwards, so tests run in
// parallel; a schema takes milliseconds where CREATE DATABASE takes a second.
//
// The server is found through $TOCSIN_TEST_PG_URL (with $TOCSIN_STORE_PASSWORD for its
// password) when set, else in the fixture's directory (url and password files). Without a
// server a PostgreSQL test fails, saying how to start one: it is never skipped quietly.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_url.h"

namespace tocsin::testing {

class TestStore {
 public:
  // Fails the current test (and returns null) when the PostgreSQL server cannot be reached.
  static std::unique_ptr<TestStore> Create(store::Dialect dialect);
  ~TestStore();
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  const store::StoreUrl& url() const { return url_; }
  store::Dialect dialect() const { return url_.dialect; }
  // A new connection (what another process, or a restart, would see).
  std::unique_ptr<store::Database> Open() const;
  // A directory for files the test needs besides the store.
  const std::string& dir() const { return dir_.path(); }

 private:
  TestStore() = default;
  TempDir dir_;
  store::StoreUrl url_;
  store::StoreUrl admin_;  // without our schema, to drop it
  std::string schema_;
};

// The test server's URL (with its password), or an error that says how to start it.
Result<store::StoreUrl> TestPgServer();

inline std::string DialectName(const ::testing::TestParamInfo<store::Dialect>& info) {
  return info.param == store::Dialect::kSqlite ? "Sqlite" : "Postgres";
}

}  // namespace tocsin::testing

namespace tocsin::store {
// Test names and messages say "sqlite" / "postgres", not the enum's bytes.
inline void PrintTo(Dialect d, std::ostream* os) {
  *os << (d == Dialect::kSqlite ? "sqlite" : "postgres");
}
}  // namespace tocsin::store

// Runs the value-parameterized suite `suite` (TEST_P(suite, ...), GetParam() a Dialect) on both.
#define TOCSIN_ON_BOTH_STORES(suite)                                                             \
  INSTANTIATE_TEST_SUITE_P(                                                                      \
      Stores, suite,                                                                             \
      ::testing::Values(::tocsin::store::Dialect::kSqlite, ::tocsin::store::Dialect::kPostgres), \
      ::tocsin::testing::DialectName)
