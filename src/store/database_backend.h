#pragma once

// The two connections behind Database: SQLite (sqlite_backend.cpp) and PostgreSQL
// (postgres_backend.cpp). Database holds the lock; a backend is only ever used under it,
// SetFence excepted.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tocsin/common/result.h"
#include "tocsin/store/database.h"

namespace tocsin::store::detail {

class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void Bind(int index, std::int64_t v) = 0;
  virtual void Bind(int index, double v) = 0;
  virtual void Bind(int index, std::string_view v) = 0;
  virtual void BindNull(int index) = 0;
  // As Statement::Step; asks `injector` (may be null) before an execution that writes.
  virtual Result<bool> Step(FaultInjector* injector) = 0;
  virtual std::int64_t Int(int col) const = 0;
  virtual double Double(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual std::int64_t Changes() const = 0;
  virtual Statement::ColumnType Type(int col) const = 0;
  virtual int ColumnCount() const = 0;
  // Ready for the next execution, bindings cleared (a cached statement handed back).
  virtual void Reset() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Dialect dialect() const = 0;
  // `persistent`: kept for many executions (PrepareCached).
  virtual Result<std::unique_ptr<StatementBackend>> Prepare(std::string_view sql,
                                                            bool persistent) = 0;
  // A script of one or more statements; `BEGIN [IMMEDIATE]` starts a write transaction (and
  // runs the fence check on PostgreSQL).
  virtual Result<void> Exec(std::string_view sql, FaultInjector* injector) = 0;
  virtual std::int64_t LastInsertId() = 0;
  virtual Result<void> Backup(const std::string& path) = 0;
  // Called without the lock (from any thread): an implementation keeps it atomic.
  virtual void SetFence(std::optional<std::int64_t> epoch) = 0;
  // Around Migrate: instances of one PostgreSQL database migrate one after the other.
  // SQLite: called after each commit of this connection with the frames in the WAL, in place
  // of SQLite's automatic checkpoint. PostgreSQL: never called.
  virtual void SetWalHook(std::function<void(int frames)> /*hook*/) {}
  // SQLite: a PASSIVE checkpoint; whether it copied the whole WAL. PostgreSQL: nothing, true.
  virtual Result<bool> CheckpointWal() { return true; }
  virtual Result<void> LockMigrations() { return {}; }
  virtual void UnlockMigrations() {}
};

Result<std::unique_ptr<Backend>> OpenSqlite(const std::string& path,
                                            const DatabaseOptions& options);
Result<std::unique_ptr<Backend>> OpenPostgres(const StoreUrl& url);

// What a statement's text is to a FaultInjector, by its first keyword.
enum class SqlKind { kRead, kWrite, kCommit, kControl };
SqlKind ClassifySql(std::string_view sql);
bool StartsWithKeyword(std::string_view sql, std::string_view word);
std::string_view TrimLeft(std::string_view sql);

}  // namespace tocsin::store::detail
