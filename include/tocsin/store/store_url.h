#pragma once

#include <map>
#include <string>
#include <string_view>

#include "tocsin/common/result.h"
#include "tocsin/store/database.h"

namespace tocsin::store {

// Where the store lives (store.url): `sqlite:///absolute/path` (or `sqlite://relative/path`),
// or `postgresql://user@host:port/dbname?sslmode=require` (`postgres://` too; every query
// parameter is a libpq connection parameter). A password is never part of it: a URL that
// carries one is refused, so that no log, error or API answer can print it; it comes from
// store.password_file, $TOCSIN_STORE_PASSWORD or libpq's own PGPASSWORD / ~/.pgpass.
struct StoreUrl {
  Dialect dialect = Dialect::kSqlite;
  std::string sqlite_path;  // SQLite only
  // PostgreSQL only; empty: libpq's default (PGUSER, PGHOST, ... or its built-in one).
  std::string user;
  std::string host;
  std::string port;
  std::string dbname;
  std::map<std::string, std::string> params;
  // Set from store.password_file or the environment, never parsed from the URL.
  std::string password;

  static StoreUrl Sqlite(std::string path);
  // The URL as it may be printed: never the password.
  std::string ToString() const;
  // The libpq connection string, password included: for the connection only.
  std::string ConnectionString() const;
  // Another database on the same server (tests, `store migrate`): same user and password.
  StoreUrl WithDatabase(std::string name) const;
  friend bool operator==(const StoreUrl&, const StoreUrl&) = default;
};

// Errors say what is wrong and how to fix it, and never repeat a password.
Result<StoreUrl> ParseStoreUrl(std::string_view text);

// $TOCSIN_STORE_PASSWORD, or empty (libpq then reads PGPASSWORD or ~/.pgpass itself).
std::string StorePasswordFromEnvironment();

}  // namespace tocsin::store
