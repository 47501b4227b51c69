#include "tocsin/store/database.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

namespace tocsin::store {

namespace {
Error SqlError(sqlite3* db, std::string_view what) {
  int code = sqlite3_errcode(db);
  std::string msg = fmt::format("sqlite: {}: {}", what, sqlite3_errmsg(db));
  // Busy/locked is worth retrying; anything else is not going to fix itself.
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Error::Transient(msg);
  if (code == SQLITE_CONSTRAINT) return Error::Conflict(msg);
  return Error::Io(msg);
}
}  // namespace

Statement::~Statement() {
  // Finalized (or reset) before lock_ (declared last) is released.
  if (stmt_ == nullptr) return;
  if (cached_in_use_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *cached_in_use_ = false;
    return;
  }
  sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(other.stmt_),
      owner_(other.owner_),
      cached_in_use_(other.cached_in_use_),
      lock_(std::move(other.lock_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::Bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}

Statement& Statement::Bind(int index, double v) {
  sqlite3_bind_double(stmt_, index, v);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  // Only the first step of an execution runs the statement's write; later steps read rows.
  if (owner_ != nullptr && sqlite3_stmt_busy(stmt_) == 0) {
    if (FaultInjector* injector = owner_->injector_.load(std::memory_order_acquire)) {
      if (auto fault = owner_->InjectedFault(*injector, stmt_)) return Fail(*fault);
    }
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Fail(SqlError(db_, "step"));
}

Result<void> Statement::Run() {
  for (;;) {
    auto r = Step();
    if (!r) return Fail(r.error());
    if (!*r) return {};
  }
}

std::int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, DatabaseOptions options) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Fail(Error::Io(fmt::format("cannot open database {}: {}", path, msg)));
  }
  std::unique_ptr<Database> out(new Database(db, path));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  for (std::string pragma :
       {std::string("PRAGMA journal_mode=WAL"),
        std::string("PRAGMA synchronous=") + (options.synchronous_full ? "FULL" : "NORMAL"),
        std::string("PRAGMA foreign_keys=ON")}) {
    if (auto r = out->Exec(pragma); !r) return Fail(r.error());
  }
  auto schema = out->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
      "   DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
      " PRIMARY KEY (module, version))");
  if (!schema) return Fail(schema.error());
  return out;
}

Database::~Database() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

// Statement by statement (what sqlite3_exec does), so that each write of a script is one
// operation for a FaultInjector.
Result<void> Database::Exec(std::string_view sql) {
  std::lock_guard lock(mu_);
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
    Statement st(db_, raw, this, std::unique_lock(mu_));
    if (auto r = st.Run(); !r) return r;
  }
  return {};
}

namespace {
std::string_view TrimLeft(std::string_view sql) {
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front()))) {
    sql.remove_prefix(1);
  }
  return sql;
}

// Whether `sql` starts with the keyword `word` (upper case), in any case.
bool StartsWithKeyword(std::string_view sql, std::string_view word) {
  if (sql.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(sql[i])) != word[i]) return false;
  }
  return sql.size() == word.size() || !std::isalpha(static_cast<unsigned char>(sql[word.size()]));
}
}  // namespace

std::optional<Error> Database::InjectedFault(FaultInjector& injector, sqlite3_stmt* stmt) {
  const char* text = sqlite3_sql(stmt);
  std::string_view sql = TrimLeft(text != nullptr ? text : "");
  // Transaction control by keyword: SQLite calls BEGIN IMMEDIATE a write (it takes the write
  // lock) and COMMIT read-only (it only decides when earlier writes land).
  if (StartsWithKeyword(sql, "COMMIT") || StartsWithKeyword(sql, "END")) {
    return injector.Before(StoreOp::kCommit, sql);
  }
  for (std::string_view control : {"BEGIN", "ROLLBACK", "SAVEPOINT", "RELEASE"}) {
    if (StartsWithKeyword(sql, control)) return std::nullopt;
  }
  if (sqlite3_stmt_readonly(stmt) != 0) return std::nullopt;
  if (auto fault = injector.Before(StoreOp::kWrite, sql)) return fault;
  // Outside BEGIN ... COMMIT the statement is its own transaction and commits as it ends.
  if (sqlite3_get_autocommit(db_) != 0) return injector.Before(StoreOp::kCommit, sql);
  return std::nullopt;
}

Result<Statement> Database::Prepare(std::string_view sql) {
  std::unique_lock lock(mu_);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return Fail(SqlError(db_, fmt::format("prepare \"{}\"", sql.substr(0, 80))));
  }
  return Statement(db_, stmt, this, std::move(lock));
}

Result<Statement> Database::PrepareCached(std::string_view sql) {
  std::unique_lock lock(mu_);
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      return Fail(SqlError(db_, fmt::format("prepare \"{}\"", sql.substr(0, 80))));
    }
    it = cache_.emplace(std::string(sql), Cached{stmt, false}).first;
  }
  if (it->second.in_use) return Prepare(sql);
  it->second.in_use = true;
  return Statement(db_, it->second.stmt, this, std::move(lock), &it->second.in_use);
}

Result<void> Database::Transaction(const std::function<Result<void>(Database&)>& fn) {
  std::lock_guard lock(mu_);
  if (auto r = Exec("BEGIN IMMEDIATE"); !r) return r;
  Result<void> result;
  try {
    result = fn(*this);
  } catch (...) {
    (void)Exec("ROLLBACK");
    throw;
  }
  if (!result) {
    (void)Exec("ROLLBACK");
    return result;
  }
  if (auto r = Exec("COMMIT"); !r) {
    (void)Exec("ROLLBACK");
    return r;
  }
  return {};
}

void Database::SetFence(std::optional<std::int64_t> epoch) {
  std::lock_guard lock(mu_);
  fence_ = epoch;  // SQLite: one instance, nothing to fence
}

std::int64_t Database::LastInsertId() {
  std::lock_guard lock(mu_);
  return sqlite3_last_insert_rowid(db_);
}

int Database::SchemaVersion(std::string_view module) {
  auto st = Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE module = ?");
  if (!st) return 0;
  st->Bind(1, module);
  auto row = st->Step();
  return row && *row ? static_cast<int>(st->Int(0)) : 0;
}

Result<void> Database::Migrate(const std::vector<Migration>& migrations) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<const Migration*>> by_module;
  for (const auto& m : migrations) by_module[m.module].push_back(&m);
  for (auto& entry : by_module) {
    // Named, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const std::string& module = entry.first;
    auto& list = entry.second;
    std::sort(list.begin(), list.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });
    int current = SchemaVersion(module);
    int known = list.back()->version;
    if (current > known) {
      return Fail(Error::Invalid(fmt::format(
          "database {} has schema version {} for {}, newer than this tocsin knows ({}): "
          "upgrade tocsin or restore a backup",
          path_, current, module, known)));
    }
    for (const Migration* m : list) {
      if (m->version <= current) continue;
      auto r = Transaction([&](Database& db) -> Result<void> {
        if (auto e = db.Exec(m->sql); !e) return e;
        auto st = db.Prepare("INSERT INTO schema_migrations(module, version) VALUES (?, ?)");
        if (!st) return Fail(st.error());
        st->Bind(1, module).Bind(2, static_cast<std::int64_t>(m->version));
        return st->Run();
      });
      if (!r) {
        return Fail(Error(r.error().kind(), fmt::format("migration {} v{} failed: {}", module,
                                                        m->version, r.error().message())));
      }
    }
  }
  return {};
}

Result<void> Database::Backup(const std::string& path) {
  std::lock_guard lock(mu_);
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
  if (rc != SQLITE_DONE) return Fail(Error::Io(fmt::format("backup to {} failed: {}", path, msg)));
  return {};
}

}  // namespace tocsin::store
