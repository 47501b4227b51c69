#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/result.h"

namespace tocsin::store {

class Database;

// What a FaultInjector is asked about. kWrite: a statement that changes the database (INSERT,
// UPDATE, DELETE, DDL), asked once per execution, before it runs. kCommit: the end of a
// transaction, asked before COMMIT runs; a write outside any transaction (SQLite's autocommit)
// is its own transaction, so it is asked about as a write and then as a commit.
enum class StoreOp { kWrite, kCommit };

// The seam for fault-injection tests, like LevelDB's ErrorEnv / FaultInjectionTestEnv around
// Env: Database asks it before each write statement and each commit, and an Error it returns
// fails that operation exactly as SQLite's own I/O error would (the statement does not run; a
// failed COMMIT is rolled back, so nothing of that transaction is written). Production never
// sets one; when none is set, the check is a null pointer test. Called with the database's
// lock held for transactions, but writes outside a transaction may come from any thread: an
// implementation must be thread-safe.
class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // `sql` is the statement's text (for a commit: "COMMIT", or the autocommitted statement).
  virtual std::optional<Error> Before(StoreOp op, std::string_view sql) = 0;
};

// The SQL dialect a Database speaks. Stores write portable SQL (`?` or `?N` placeholders,
// ON CONFLICT, RETURNING); the PostgreSQL backend rewrites placeholders to `$N` and
// `BEGIN IMMEDIATE` to `BEGIN`. What cannot be portable (column types, triggers) is a
// migration's per-dialect text.
enum class Dialect { kSqlite, kPostgres };

// One schema change of one module. Versions are per module and start at 1; a module's
// migrations apply in order, each in its own transaction, and are recorded in
// schema_migrations(module, version). Modules own their tables: dispatch (silences), incident
// (incidents, timeline), notify (outbox), rules (alert state) each add their own list.
struct Migration {
  Migration(std::string module_name, int version_number, std::string sqlite_sql,
            std::string postgres = {})
      : module(std::move(module_name)),
        version(version_number),
        sql(std::move(sqlite_sql)),
        postgres_sql(std::move(postgres)) {}
  std::string module;
  int version;
  std::string sql;
  // The PostgreSQL text when it must differ from `sql` (a plpgsql trigger for a SQLite one);
  // empty: `sql` on both. Either way, on PostgreSQL SQLite's column types become theirs
  // (INTEGER, 64-bit in SQLite, is BIGINT; REAL is DOUBLE PRECISION; INTEGER PRIMARY KEY
  // AUTOINCREMENT is an identity column), so most migrations are one text.
  std::string postgres_sql;
  std::string SqlFor(Dialect d) const;
};

namespace detail {
class Backend;
class StatementBackend;
}  // namespace detail

// A bound statement. Columns are read by index after Step() returns true. It holds its
// database's lock from Prepare() until it is destroyed, so that binding, stepping and reading
// columns of one statement never interleave with another thread's use of the connection.
class Statement {
 public:
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  Statement& Bind(int index, std::int64_t v);
  Statement& Bind(int index, double v);
  Statement& Bind(int index, std::string_view v);
  Statement& BindNull(int index);
  // Next row: true when a row is available, false when done; errors are returned.
  Result<bool> Step();
  // Runs to completion.
  Result<void> Run();

  std::int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;
  // Rows the last execution inserted, updated or deleted.
  std::int64_t Changes() const;
  // What column `col` of the current row holds (tools that copy rows whatever their table).
  enum class ColumnType { kNull, kInteger, kReal, kText };
  ColumnType Type(int col) const;
  int ColumnCount() const;

 private:
  friend class Database;
  Statement(detail::StatementBackend* impl, bool owned, Database* owner,
            std::unique_lock<std::recursive_mutex> lock, bool* cached_in_use = nullptr)
      : impl_(impl),
        owned_(owned),
        owner_(owner),
        cached_in_use_(cached_in_use),
        lock_(std::move(lock)) {}
  detail::StatementBackend* impl_;
  bool owned_;       // deleted with the statement; else a cached one, reset and handed back
  Database* owner_;  // asked for its FaultInjector on each execution of a write
  bool* cached_in_use_;
  std::unique_lock<std::recursive_mutex> lock_;
};

struct DatabaseOptions {
  // FULL survives power loss; NORMAL (in WAL mode) survives a process crash or kill -9 but
  // may lose the last transactions on power loss. SQLite only (PostgreSQL's durability is its
  // server's synchronous_commit).
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
};

struct StoreUrl;

// tocsin's durable state, on SQLite (a file in WAL mode, the default) or PostgreSQL (libpqxx),
// one connection each. Thread-safety: the connection is guarded by a private mutex that every
// use takes: Exec, Transaction (for its whole length), Migrate, Backup, and each Statement from
// Prepare() to its destruction. So threads may share one Database, but each waits for the
// others' statements and transactions, commits (and their fsync) included: the daemon's event
// loop therefore reads through its own Database and leaves incident writes to a StoreThread,
// which has a connection of its own.
class Database {
 public:
  // A SQLite file.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                DatabaseOptions options = {});
  // SQLite or PostgreSQL, as the URL says (store.url).
  static Result<std::unique_ptr<Database>> Open(const StoreUrl& url, DatabaseOptions options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Applies the migrations not yet recorded. Fails (and applies nothing further) when a
  // recorded version is higher than any known one: the database is from a newer tocsin. On
  // PostgreSQL, instances migrating at once take turns (an advisory lock).
  Result<void> Migrate(const std::vector<Migration>& migrations);
  int SchemaVersion(std::string_view module);

  Result<void> Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  // As Prepare, but the compiled statement is kept and reused by the next call with the same
  // text (for the few statements a hot path runs over and over; compiling costs more than
  // running them). A text already in use is compiled afresh.
  Result<Statement> PrepareCached(std::string_view sql);
  // Runs fn inside BEGIN IMMEDIATE / COMMIT (ROLLBACK when fn fails), holding the lock.
  Result<void> Transaction(const std::function<Result<void>(Database&)>& fn);
  std::int64_t LastInsertId();
  // Online copy to `path` (SQLite backup API), consistent while the daemon writes. SQLite only:
  // a PostgreSQL store is backed up with pg_dump.
  Result<void> Backup(const std::string& path);

  Dialect dialect() const;
  // SQLite: the file. PostgreSQL: the URL, never with a password.
  const std::string& path() const { return path_; }

  // Tests only: every later write and commit asks `injector` first (nullptr: none). The
  // injector must outlive the database or be unset before it goes.
  void SetFaultInjector(FaultInjector* injector) { injector_.store(injector); }

  // Fencing for high availability. With an epoch set on a PostgreSQL database, every write
  // transaction (Transaction(), each StoreThread group, and each autocommitted write) first
  // runs `SELECT tocsin_check_epoch($1)` with that epoch inside the same transaction; the
  // function (created by the ha module's migration) raises when the epoch is stale, so the
  // transaction fails and nothing of it is written. nullopt: no check. On SQLite (one
  // instance, nothing to fence) it does nothing. Thread-safe; takes effect from the next
  // transaction.
  void SetFence(std::optional<std::int64_t> epoch);

  // SQLite only (PostgreSQL never calls it): `hook` runs on the committing thread after each
  // commit on this connection, with the frames now in the WAL, and SQLite's automatic
  // checkpoint is off on this connection: whoever sets the hook checkpoints (StoreThread does,
  // with CheckpointWal after its groups). Set before the connection is used.
  void OnWalCommit(std::function<void(int frames)> hook);
  // SQLite: a PASSIVE checkpoint (copies what no reader still needs, waits for nobody), called
  // directly, not as a statement (a FaultInjector does not see it); whether all of the WAL was
  // copied. PostgreSQL: does nothing and answers true.
  Result<bool> CheckpointWal();

 private:
  friend class Statement;
  Database(std::unique_ptr<detail::Backend> backend, std::string path);
  std::atomic<FaultInjector*> injector_{nullptr};
  struct Cached {
    std::unique_ptr<detail::StatementBackend> stmt;
    bool in_use = false;
  };
  std::map<std::string, Cached, std::less<>> cache_;  // guarded by mu_
  std::unique_ptr<detail::Backend> backend_;
  std::string path_;
  std::recursive_mutex mu_;
};

}  // namespace tocsin::store
