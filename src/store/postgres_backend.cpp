// The PostgreSQL connection behind Database (libpqxx). Stores write SQL once; this file turns
// SQLite's placeholders into PostgreSQL's and keeps what SQLite promises and PostgreSQL does
// not by itself: a COMMIT after a failed statement fails (PostgreSQL would quietly roll back
// and answer COMMIT), and every write transaction carries the fence check when one is set.

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "database_backend.h"
#include "sql_scanner.h"
#include "tocsin/common/text.h"
#include "tocsin/store/store_url.h"

namespace tocsin::store::detail {

namespace {

// The advisory lock instances hold while migrating ("tocs").
constexpr std::int64_t kMigrationLock = 0x746f6373;
// What tocsin_check_epoch (the ha module's migration) raises for a stale epoch: only this is a
// fence verdict; any other failure of the check is passed on as what it is.
constexpr std::string_view kFencedState = "TF001";

Error PgError(std::string_view what) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    return Error::Transient(
        fmt::format("postgresql: {}: connection lost: {}", what, TrimSpace(e.what())));
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    std::string msg = fmt::format("postgresql: {}: {}", what, TrimSpace(e.what()));
    if (state.rfind("23", 0) == 0) return Error::Conflict(msg);
    // Serialization failure, deadlock, lock timeout, shutdown, connection trouble: retry.
    if (state == "40001" || state == "40P01" || state == "55P03" || state.rfind("57P", 0) == 0 ||
        state.rfind("08", 0) == 0) {
      return Error::Transient(msg);
    }
    return Error::Io(msg);
  } catch (const std::exception& e) {
    return Error::Io(fmt::format("postgresql: {}: {}", what, TrimSpace(e.what())));
  }
}

class PgBackend;

class PgStatement : public StatementBackend {
 public:
  PgStatement(PgBackend& backend, std::string_view original, std::string sql, std::string name)
      : backend_(backend),
        original_(original),
        sql_(std::move(sql)),
        name_(std::move(name)),
        kind_(ClassifySql(sql_)) {}

  void Bind(int index, std::int64_t v) override { Set(index, std::to_string(v)); }
  void Bind(int index, double v) override { Set(index, fmt::format("{}", v)); }
  void Bind(int index, std::string_view v) override { Set(index, std::string(v)); }
  void BindNull(int index) override { Set(index, std::nullopt); }
  Result<bool> Step(FaultInjector* injector) override;

  std::int64_t Int(int col) const override {
    const auto f = Field(col);
    if (f.is_null()) return 0;
    try {
      return f.as<std::int64_t>();
    } catch (const std::exception&) {
      return static_cast<std::int64_t>(f.as<double>());
    }
  }
  double Double(int col) const override {
    const auto f = Field(col);
    return f.is_null() ? 0.0 : f.as<double>();
  }
  std::string Text(int col) const override {
    const auto f = Field(col);
    return f.is_null() ? std::string() : std::string(f.c_str(), f.size());
  }
  bool IsNull(int col) const override { return Field(col).is_null(); }
  std::int64_t Changes() const override { return changes_; }
  Statement::ColumnType Type(int col) const override {
    if (Field(col).is_null()) return Statement::ColumnType::kNull;
    // Type oids of pg_type: int2, int4, int8; float4, float8.
    switch (result_.column_type(static_cast<pqxx::row::size_type>(col))) {
      case 20:
      case 21:
      case 23:
        return Statement::ColumnType::kInteger;
      case 700:
      case 701:
        return Statement::ColumnType::kReal;
      default:
        return Statement::ColumnType::kText;
    }
  }
  int ColumnCount() const override { return static_cast<int>(result_.columns()); }
  void Reset() override {
    executed_ = false;
    result_ = pqxx::result();
    row_ = 0;
    params_.clear();
  }

 private:
  void Set(int index, std::optional<std::string> v) {
    if (index < 1) return;
    if (params_.size() < static_cast<std::size_t>(index)) params_.resize(index);
    params_[index - 1] = std::move(v);
  }
  pqxx::field Field(int col) const { return result_[static_cast<pqxx::row::size_type>(row_)][col]; }

  PgBackend& backend_;
  std::string original_;  // as the store wrote it: what a FaultInjector is shown
  std::string sql_;
  std::string name_;  // a server-side prepared statement, or empty
  SqlKind kind_;
  std::vector<std::optional<std::string>> params_;
  pqxx::result result_;
  bool executed_ = false;
  std::size_t row_ = 0;
  std::int64_t changes_ = 0;
};

class PgBackend : public Backend {
 public:
  PgBackend(std::unique_ptr<pqxx::connection> conn, std::string conninfo, std::string url)
      : conn_(std::move(conn)),
        tx_(std::make_unique<pqxx::nontransaction>(*conn_)),
        conninfo_(std::move(conninfo)),
        url_(std::move(url)) {}
  ~PgBackend() override {
    if (in_txn_) {
      try {
        if (tx_) tx_->exec("ROLLBACK");
      } catch (const std::exception&) {  // the connection goes anyway
      }
    }
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

  Result<std::unique_ptr<StatementBackend>> Prepare(std::string_view sql,
                                                    bool persistent) override {
    std::string text = TranslatePlaceholders(sql);
    std::string name;
    if (persistent) {
      name = fmt::format("tocsin_{}", ++prepared_);
      try {
        conn_->prepare(name, text);
        prepared_text_.emplace_back(name, text);
      } catch (...) {
        return Fail(PgError(fmt::format("prepare \"{}\"", sql.substr(0, 80))));
      }
    }
    return std::unique_ptr<StatementBackend>(new PgStatement(*this, sql, std::move(text), name));
  }

  Result<void> Exec(std::string_view script, FaultInjector* injector) override {
    for (std::string_view sql : SplitStatements(script)) {
      if (auto r = ExecOne(sql, injector); !r) return r;
    }
    return {};
  }

 private:
  Result<void> ExecOne(std::string_view sql, FaultInjector* injector) {
    if (lost_txn_) {
      // The session (and its transaction) went while a transaction was open: everything up to
      // its end fails, so that no write of it lands on the new session on its own.
      const bool rollback =
          StartsWithKeyword(sql, "ROLLBACK") && !StartsWithKeyword(TrimLeft(sql.substr(8)), "TO");
      if (rollback || ClassifySql(sql) == SqlKind::kCommit) lost_txn_ = false;
      if (rollback) return {};
      if (!StartsWithKeyword(sql, "BEGIN")) return Fail(LostTransaction());
      lost_txn_ = false;
    }
    const SqlKind kind = ClassifySql(sql);
    if (auto fault = AskInjector(injector, kind, sql)) return Fail(*fault);
    if (StartsWithKeyword(sql, "BEGIN")) return Begin();
    const bool ends =
        kind == SqlKind::kCommit ||
        (StartsWithKeyword(sql, "ROLLBACK") && !StartsWithKeyword(TrimLeft(sql.substr(8)), "TO"));
    if (kind == SqlKind::kCommit && in_txn_ && aborted_) {
      // PostgreSQL would answer COMMIT and roll back: say it.
      (void)RunText("ROLLBACK");
      in_txn_ = aborted_ = false;
      return Fail(Error::Io(
          "postgresql: commit: the transaction was aborted by an earlier error; nothing of it "
          "was written"));
    }
    if (StartsWithKeyword(sql, "ROLLBACK") && !ends) aborted_ = false;  // ROLLBACK TO savepoint
    const bool wrap = kind == SqlKind::kWrite && !in_txn_ && Fence().has_value();
    if (wrap) {
      if (auto b = Begin(); !b) return b;
    }
    auto r = Run([&] { return tx_->exec(std::string(sql)); }, kind, "exec");
    if (ends) in_txn_ = aborted_ = false;
    if (wrap) return EndAutocommit(r);
    if (!r) return Fail(r.error());
    return {};
  }

 public:
  // Outbox ids come from INSERT ... RETURNING id on both dialects.
  std::int64_t LastInsertId() override { return -1; }

  Result<void> Backup(const std::string&) override {
    return Fail(Error::Invalid(fmt::format(
        "{} is a PostgreSQL store: back it up with pg_dump (see docs/operations.md), not "
        "tocsin backup",
        url_)));
  }

  // Lock-free: called from the loop when the role changes, while the store thread may hold
  // the database's lock for a whole group commit (a network round trip).
  void SetFence(std::optional<std::int64_t> epoch) override {
    fence_.store(epoch.value_or(kNoFence), std::memory_order_release);
  }

  Result<void> LockMigrations() override {
    auto r = RunText(fmt::format("SELECT pg_advisory_lock({})", kMigrationLock));
    if (!r) return Fail(r.error());
    return {};
  }
  void UnlockMigrations() override {
    (void)RunText(fmt::format("SELECT pg_advisory_unlock({})", kMigrationLock));
  }

  // Runs one statement (a PgStatement's execution). An autocommitted write with a fence set
  // becomes BEGIN, the check, the write, COMMIT.
  Result<pqxx::result> Execute(const std::string& sql, const std::string& name,
                               const std::vector<std::optional<std::string>>& params,
                               SqlKind kind) {
    if (lost_txn_) return Fail(LostTransaction());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const bool wrap = kind == SqlKind::kWrite && !in_txn_ && Fence().has_value();
    if (wrap) {
      if (auto b = Begin(); !b) return Fail(b.error());
    }
    auto r = Run(
        [&] {
          auto args = pqxx::prepare::make_dynamic_params(values);
          return name.empty() ? tx_->exec_params(sql, args) : tx_->exec_prepared(name, args);
        },
        kind, "step");
    if (wrap) {
      if (auto c = EndAutocommit(r); !c) return Fail(c.error());
    }
    return r;
  }

  bool in_txn() const { return in_txn_; }

 private:
  Result<void> Begin() {
    auto r = Run([&] { return tx_->exec("BEGIN"); }, SqlKind::kControl, "begin");
    if (!r) return Fail(r.error());
    in_txn_ = true;
    aborted_ = false;
    // Read once: the epoch checked is the one the errors name.
    const std::optional<std::int64_t> fence = Fence();
    if (!fence) return {};
    auto check = Run([&] { return tx_->exec_params("SELECT tocsin_check_epoch($1)", *fence); },
                     SqlKind::kRead, "fence");
    if (check) return {};
    const bool fenced = last_sqlstate_ == kFencedState;
    // A session lost during the check took its transaction along; nothing to roll back.
    if (!broken_) (void)RunText("ROLLBACK");
    in_txn_ = aborted_ = false;
    // The caller is told here that its transaction never began: the statements after this one
    // belong to no lost transaction (else every later read would fail until a BEGIN).
    lost_txn_ = false;
    if (!fenced) {
      // A lost connection, a lock timeout, ...: not a verdict on the epoch; its own kind.
      return Fail(Error(check.error().kind(),
                        fmt::format("the fence check for epoch {} failed ({}); nothing was written",
                                    *fence, check.error().message())));
    }
    return Fail(Error::Conflict(fmt::format(
        "write refused by the fence: this instance's epoch {} is not the current one ({}); "
        "nothing was written",
        *fence, check.error().message())));
  }

  // Ends the transaction an autocommitted write was wrapped in for the fence: COMMIT when the
  // write succeeded, else ROLLBACK.
  Result<void> EndAutocommit(const Result<pqxx::result>& write) {
    auto end = RunText(write ? "COMMIT" : "ROLLBACK");
    in_txn_ = aborted_ = false;
    if (!write) return Fail(write.error());
    if (!end) return Fail(end.error());
    return {};
  }

  Result<pqxx::result> RunText(const std::string& sql) {
    return Run([&] { return tx_->exec(sql); }, SqlKind::kControl, "exec");
  }

  // A session the server ended while it sat idle (PostgreSQL restarted, an idle timeout, a
  // network cut) is noticed only by its next statement, which fails without having reached the
  // server. A read outside a transaction, or a BEGIN, changes nothing: it runs once more, on a
  // new session, so that the first caller after a restart (a standby that just took the lease
  // and loads the incidents) does not fail for a session that was already gone. A write or a
  // COMMIT is never run twice: whether it landed is not known.
  template <typename F>
  Result<pqxx::result> Run(F&& f, SqlKind kind, std::string_view what) {
    // Once only, and only for a session that broke under this statement: not when connecting
    // again failed (the server is still down), nor on the session just opened.
    const bool again = !broken_ && !in_txn_ && (kind == SqlKind::kRead || what == "begin");
    auto r = RunOnce(f, what);
    if (!r && again && broken_ && !lost_txn_) r = RunOnce(f, what);
    return r;
  }

  template <typename F>
  Result<pqxx::result> RunOnce(F& f, std::string_view what) {
    last_sqlstate_.clear();
    if (auto c = Reconnect(); !c) return Fail(c.error());
    try {
      return f();
    } catch (const pqxx::broken_connection&) {
      Error e = PgError(what);
      LoseSession();
      return Fail(e);
    } catch (const pqxx::sql_error& se) {
      Error e = PgError(what);
      // Shutdown or crash of the server (57P..), connection exceptions (08...): the session
      // is gone even when the socket has not said so yet.
      const std::string state = se.sqlstate();
      last_sqlstate_ = state;
      if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0 || !conn_->is_open()) {
        LoseSession();
      } else if (in_txn_) {
        aborted_ = true;
      }
      return Fail(e);
    } catch (...) {
      Error e = PgError(what);
      if (in_txn_) aborted_ = true;
      if (!conn_->is_open()) LoseSession();
      return Fail(e);
    }
  }

  // The server ended the session, and any transaction with it; the next statement outside a
  // transaction connects again.
  void LoseSession() {
    lost_txn_ = lost_txn_ || in_txn_;
    in_txn_ = aborted_ = false;
    broken_ = true;
  }
  static Error LostTransaction() {
    return Error::Transient(
        "postgresql: the connection was lost in the middle of this transaction; nothing of it "
        "was written");
  }

  // After the connection broke (PostgreSQL restarted, a network cut): a new session, with the
  // prepared statements of the old one. Outside any transaction only: the one in progress is
  // lost with its session, and its caller is told (it failed).
  Result<void> Reconnect() {
    if (!broken_) return {};
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      for (const auto& [name, text] : prepared_text_) conn->prepare(name, text);
      tx_.reset();
      conn_ = std::move(conn);
      tx_ = std::make_unique<pqxx::nontransaction>(*conn_);
      broken_ = false;
      return {};
    } catch (const std::exception& e) {
      return Fail(Error::Transient(fmt::format("cannot reconnect to the PostgreSQL store {}: {}",
                                               url_, TrimSpace(e.what()))));
    }
  }

  std::optional<Error> AskInjector(FaultInjector* injector, SqlKind kind, std::string_view sql) {
    if (injector == nullptr) return std::nullopt;
    if (kind == SqlKind::kCommit) return injector->Before(StoreOp::kCommit, sql);
    if (kind != SqlKind::kWrite) return std::nullopt;
    if (auto fault = injector->Before(StoreOp::kWrite, sql)) return fault;
    if (!in_txn_) return injector->Before(StoreOp::kCommit, sql);
    return std::nullopt;
  }
  friend class PgStatement;

  std::unique_ptr<pqxx::connection> conn_;
  // Statements go through one nontransaction: transactions are this class's BEGIN / COMMIT,
  // so that StoreThread's savepoints and Database::Transaction work as on SQLite.
  std::unique_ptr<pqxx::nontransaction> tx_;
  std::string conninfo_;  // password included: for reconnecting only, never printed
  std::string url_;
  std::vector<std::pair<std::string, std::string>> prepared_text_;
  bool broken_ = false;
  bool lost_txn_ = false;  // the session broke inside a transaction not yet ended
  bool in_txn_ = false;
  bool aborted_ = false;  // a statement failed since BEGIN (or the last ROLLBACK TO)
  static constexpr std::int64_t kNoFence = std::numeric_limits<std::int64_t>::min();
  std::optional<std::int64_t> Fence() const {
    const std::int64_t f = fence_.load(std::memory_order_acquire);
    return f == kNoFence ? std::nullopt : std::optional<std::int64_t>(f);
  }
  std::atomic<std::int64_t> fence_{kNoFence};  // kNoFence: no check
  std::string last_sqlstate_;  // of the last Run's failure, empty when none (or no SQLSTATE)
  int prepared_ = 0;
};

Result<bool> PgStatement::Step(FaultInjector* injector) {
  if (executed_) return ++row_ < result_.size();
  executed_ = true;
  if (auto fault = backend_.AskInjector(injector, kind_, original_)) return Fail(*fault);
  auto r = backend_.Execute(sql_, name_, params_, kind_);
  if (!r) return Fail(r.error());
  result_ = std::move(*r);
  row_ = 0;
  changes_ = static_cast<std::int64_t>(result_.affected_rows());
  return !result_.empty();
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenPostgres(const StoreUrl& url) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(url.ConnectionString());
  } catch (const std::exception& e) {
    return Fail(Error::Transient(fmt::format("cannot connect to the PostgreSQL store {}: {}",
                                             url.ToString(), TrimSpace(e.what()))));
  }
  auto backend =
      std::make_unique<PgBackend>(std::move(conn), url.ConnectionString(), url.ToString());
  if (auto l = backend->LockMigrations(); !l) return Fail(l.error());
  auto schema = backend->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
      "   DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')),"
      " PRIMARY KEY (module, version))",
      nullptr);
  backend->UnlockMigrations();
  if (!schema) return Fail(schema.error());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace tocsin::store::detail
