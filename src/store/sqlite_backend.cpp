// The SQLite connection behind Database: a file in WAL mode.

#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "database_backend.h"

namespace tocsin::store::detail {

namespace {

Error SqlError(sqlite3* db, std::string_view what) {
  int code = sqlite3_errcode(db);
  std::string msg = fmt::format("sqlite: {}: {}", what, sqlite3_errmsg(db));
  // Busy/locked is worth retrying; anything else is not going to fix itself.
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Error::Transient(msg);
  if (code == SQLITE_CONSTRAINT) return Error::Conflict(msg);
  return Error::Io(msg);
}

class SqliteStatement : public StatementBackend {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void Bind(int index, std::int64_t v) override { sqlite3_bind_int64(stmt_, index, v); }
  void Bind(int index, double v) override { sqlite3_bind_double(stmt_, index, v); }
  void Bind(int index, std::string_view v) override {
    sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }

  Result<bool> Step(FaultInjector* injector) override {
    // Only the first step of an execution runs the statement's write; later steps read rows.
    if (injector != nullptr && sqlite3_stmt_busy(stmt_) == 0) {
      if (auto fault = InjectedFault(*injector)) return Fail(*fault);
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(SqlError(db_, "step"));
  }

  std::int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const override {
    const auto* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t Changes() const override { return sqlite3_changes64(db_); }
  Statement::ColumnType Type(int col) const override {
    switch (sqlite3_column_type(stmt_, col)) {
      case SQLITE_NULL:
        return Statement::ColumnType::kNull;
      case SQLITE_INTEGER:
        return Statement::ColumnType::kInteger;
      case SQLITE_FLOAT:
        return Statement::ColumnType::kReal;
      default:
        return Statement::ColumnType::kText;
    }
  }
  int ColumnCount() const override { return sqlite3_column_count(stmt_); }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  // The injected error for this statement, about to start running, if the injector wants one.
  std::optional<Error> InjectedFault(FaultInjector& injector) {
    const char* text = sqlite3_sql(stmt_);
    std::string_view sql = TrimLeft(text != nullptr ? text : "");
    switch (ClassifySql(sql)) {
      case SqlKind::kCommit:
        return injector.Before(StoreOp::kCommit, sql);
      case SqlKind::kControl:
        return std::nullopt;
      case SqlKind::kRead:
      case SqlKind::kWrite:
        break;
    }
    // SQLite's own verdict rather than the keyword: it calls BEGIN IMMEDIATE a write (it takes
    // the write lock), which ClassifySql has already set apart as control.
    if (sqlite3_stmt_readonly(stmt_) != 0) return std::nullopt;
    if (auto fault = injector.Before(StoreOp::kWrite, sql)) return fault;
    // Outside BEGIN ... COMMIT the statement is its own transaction and commits as it ends.
    if (sqlite3_get_autocommit(db_) != 0) return injector.Before(StoreOp::kCommit, sql);
    return std::nullopt;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteBackend : public Backend {
 public:
  explicit SqliteBackend(sqlite3* db) : db_(db) {}
  ~SqliteBackend() override {
    exec_cache_.clear();  // finalized before the connection closes
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  Result<bool> CheckpointWal() override {
    int log = 0;
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK) {
      return Fail(Error::Io(std::string("WAL checkpoint: ") + sqlite3_errmsg(db_)));
    }
    return log == copied;
  }

  void SetWalHook(std::function<void(int)> hook) override {
    wal_hook_ = std::move(hook);
    // Installing a hook turns SQLite's own automatic checkpoint off on this connection.
    sqlite3_wal_hook(
        db_,
        [](void* self, sqlite3*, const char*, int frames) {
          static_cast<SqliteBackend*>(self)->wal_hook_(frames);
          return SQLITE_OK;
        },
        this);
  }

  Result<std::unique_ptr<StatementBackend>> Prepare(std::string_view sql,
                                                    bool persistent) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                           persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
                           nullptr) != SQLITE_OK) {
      return Fail(SqlError(db_, fmt::format("prepare \"{}\"", sql.substr(0, 80))));
    }
    return std::unique_ptr<StatementBackend>(new SqliteStatement(db_, stmt));
  }

  // Statement by statement (what sqlite3_exec does), so that each write of a script is one
  // operation for a FaultInjector.
  Result<void> Exec(std::string_view sql, FaultInjector* injector) override {
    if (sql.size() <= kCachedExecMax) {
      if (SqliteStatement* st = CachedExec(sql)) {
        Result<void> out;
        for (;;) {
          auto r = st->Step(injector);
          if (!r) {
            out = Fail(r.error());
            break;
          }
          if (!*r) break;
        }
        st->Reset();
        return out;
      }
    }
    const char* rest = sql.data();
    const char* end = sql.data() + sql.size();
    while (rest < end) {
      sqlite3_stmt* raw = nullptr;
      const char* next = nullptr;
      if (sqlite3_prepare_v2(db_, rest, static_cast<int>(end - rest), &raw, &next) != SQLITE_OK) {
        Error e = SqlError(db_, "exec");
        return Fail(Error(e.kind(), std::string("sqlite: ") + sqlite3_errmsg(db_)));
      }
      rest = next;
      if (raw == nullptr) continue;  // only whitespace or a comment was left
      SqliteStatement st(db_, raw);
      for (;;) {
        auto r = st.Step(injector);
        if (!r) return Fail(r.error());
        if (!*r) break;
      }
    }
    return {};
  }

  std::int64_t LastInsertId() override { return sqlite3_last_insert_rowid(db_); }

  // A short one-statement text run through Exec, prepared once: the store thread's BEGIN,
  // SAVEPOINT, RELEASE and COMMIT around every write were prepared anew each time, a tenth of
  // that thread's work. Null for a script (several statements) or text that does not prepare:
  // Exec's general path then runs or reports it.
  SqliteStatement* CachedExec(std::string_view sql) {
    if (auto it = exec_cache_.find(sql); it != exec_cache_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &raw, &tail) != SQLITE_OK ||
        raw == nullptr) {
      sqlite3_finalize(raw);
      return nullptr;
    }
    auto st = std::make_unique<SqliteStatement>(db_, raw);
    if (!TrimLeft(std::string_view(tail, sql.data() + sql.size() - tail)).empty()) return nullptr;
    return exec_cache_.emplace(std::string(sql), std::move(st)).first->second.get();
  }

  Result<void> Backup(const std::string& path) override {
    sqlite3* dest = nullptr;
    if (sqlite3_open(path.c_str(), &dest) != SQLITE_OK) {
      std::string msg = dest != nullptr ? sqlite3_errmsg(dest) : "out of memory";
      sqlite3_close(dest);
      return Fail(Error::Io(fmt::format("cannot create backup {}: {}", path, msg)));
    }
    sqlite3_backup* b = sqlite3_backup_init(dest, "main", db_, "main");
    if (b == nullptr) {
      std::string msg = sqlite3_errmsg(dest);
      sqlite3_close(dest);
      return Fail(Error::Io(fmt::format("backup to {} failed: {}", path, msg)));
    }
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    if (rc != SQLITE_DONE) {
      return Fail(Error::Io(fmt::format("backup to {} failed: {}", path, msg)));
    }
    return {};
  }

  // One process owns the file: nothing to fence.
  void SetFence(std::optional<std::int64_t>) override {}

 private:
  static constexpr std::size_t kCachedExecMax = 64;
  sqlite3* db_;
  std::function<void(int)> wal_hook_;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> exec_cache_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqlite(const std::string& path,
                                            const DatabaseOptions& options) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Fail(Error::Io(fmt::format("cannot open database {}: {}", path, msg)));
  }
  auto out = std::make_unique<SqliteBackend>(db);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  for (std::string pragma :
       {std::string("PRAGMA journal_mode=WAL"),
        std::string("PRAGMA synchronous=") + (options.synchronous_full ? "FULL" : "NORMAL"),
        std::string("PRAGMA foreign_keys=ON"),
        std::string("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
                    "   DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
                    " PRIMARY KEY (module, version))")}) {
    if (auto r = out->Exec(pragma, nullptr); !r) return Fail(r.error());
  }
  return std::unique_ptr<Backend>(std::move(out));
}

}  // namespace tocsin::store::detail
