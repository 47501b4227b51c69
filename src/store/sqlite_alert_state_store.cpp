#include "tocsin/store/sqlite_alert_state_store.h"

#include <nlohmann/json.hpp>

#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::rules {

namespace {

// Labels as a JSON object: readable with the sqlite3 shell when debugging a restart.
std::string LabelsJson(const Labels& labels) { return DumpJson(LabelsToJson(labels)); }

Labels LabelsFromJsonText(const std::string& text) {
  return LabelsFromJson(nlohmann::json::parse(text, nullptr, false));
}

AlertState StateFromInt(std::int64_t v) {
  switch (v) {
    case 1:
      return AlertState::kPending;
    case 2:
      return AlertState::kFiring;
    case 3:
      return AlertState::kResolved;
    default:
      return AlertState::kInactive;
  }
}

std::int64_t StateToInt(AlertState s) {
  switch (s) {
    case AlertState::kPending:
      return 1;
    case AlertState::kFiring:
      return 2;
    case AlertState::kResolved:
      return 3;
    case AlertState::kInactive:
      break;
  }
  return 0;
}

}  // namespace

const std::vector<store::Migration>& SqliteAlertStateStore::Migrations() {
  static const std::vector<store::Migration> migrations = {
      {"rules", 1,
       "CREATE TABLE rules_alert_state ("
       "  rule_key TEXT NOT NULL,"
       "  fingerprint TEXT NOT NULL,"
       "  definition_hash TEXT NOT NULL,"
       "  labels TEXT NOT NULL,"
       "  state INTEGER NOT NULL,"
       "  bad INTEGER NOT NULL,"
       "  good INTEGER NOT NULL,"
       "  active_since_ms INTEGER NOT NULL,"
       "  fired_at_ms INTEGER NOT NULL,"
       "  updated_at_ms INTEGER NOT NULL,"
       "  value REAL,"
       "  PRIMARY KEY (rule_key, fingerprint))"},
  };
  return migrations;
}

Result<std::unique_ptr<SqliteAlertStateStore>> SqliteAlertStateStore::Open(
    store::Database& db, store::StoreThread* writer) {
  if (auto m = db.Migrate(Migrations()); !m) return Fail(m.error());
  return std::unique_ptr<SqliteAlertStateStore>(new SqliteAlertStateStore(db, writer));
}

Result<std::vector<PersistedAlertState>> SqliteAlertStateStore::Load() {
  auto stmt = db_.Prepare(
      "SELECT rule_key, definition_hash, labels, state, bad, good, active_since_ms, fired_at_ms, "
      "updated_at_ms, value FROM rules_alert_state");
  if (!stmt) return Fail(stmt.error());
  std::vector<PersistedAlertState> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    PersistedAlertState s;
    s.rule_key = stmt->Text(0);
    s.definition_hash = std::strtoull(stmt->Text(1).c_str(), nullptr, 16);
    s.labels = LabelsFromJsonText(stmt->Text(2));
    s.state = StateFromInt(stmt->Int(3));
    s.bad = stmt->Int(4);
    s.good = stmt->Int(5);
    s.active_since = FromUnixMillis(stmt->Int(6));
    s.fired_at = FromUnixMillis(stmt->Int(7));
    s.updated_at = FromUnixMillis(stmt->Int(8));
    s.value = stmt->IsNull(9) ? 0 : stmt->Double(9);
    out.push_back(std::move(s));
  }
  return out;
}

Result<void> SqliteAlertStateStore::Apply(
    const std::vector<PersistedAlertState>& changed,
    const std::vector<std::pair<std::string, Fingerprint>>& removed) {
  if (changed.empty() && removed.empty()) return {};
  store::StoreThread::Write write = [&](store::Database& db) -> Result<void> {
    for (const auto& s : changed) {
      auto stmt = db.PrepareCached(
          "INSERT INTO rules_alert_state (rule_key, fingerprint, definition_hash, labels, state, "
          "bad, good, active_since_ms, fired_at_ms, updated_at_ms, value) VALUES "
          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (rule_key, fingerprint) "
          "DO UPDATE SET definition_hash = ?3, labels = ?4, state = ?5, bad = ?6, good = ?7, "
          "active_since_ms = ?8, fired_at_ms = ?9, updated_at_ms = ?10, value = ?11");
      if (!stmt) return Fail(stmt.error());
      // Hex text: SQLite integers are signed and a 64-bit hash would not round-trip.
      char hash[17];
      std::snprintf(hash, sizeof hash, "%016llx",
                    static_cast<unsigned long long>(s.definition_hash));
      stmt->Bind(1, std::string_view(s.rule_key))
          .Bind(2, std::string_view(s.labels.fingerprint().ToString()))
          .Bind(3, std::string_view(hash))
          .Bind(4, std::string_view(LabelsJson(s.labels)))
          .Bind(5, StateToInt(s.state))
          .Bind(6, static_cast<std::int64_t>(s.bad))
          .Bind(7, static_cast<std::int64_t>(s.good))
          .Bind(8, ToUnixMillis(s.active_since))
          .Bind(9, ToUnixMillis(s.fired_at))
          .Bind(10, ToUnixMillis(s.updated_at));
      if (std::isfinite(s.value)) {
        stmt->Bind(11, s.value);
      } else {
        stmt->BindNull(11);
      }
      if (auto r = stmt->Run(); !r) return Fail(r.error());
    }
    for (const auto& [key, fp] : removed) {
      auto stmt = db.PrepareCached(
          "DELETE FROM rules_alert_state WHERE rule_key = ?1 AND fingerprint = ?2");
      if (!stmt) return Fail(stmt.error());
      stmt->Bind(1, std::string_view(key)).Bind(2, std::string_view(fp.ToString()));
      if (auto r = stmt->Run(); !r) return Fail(r.error());
    }
    return {};
  };
  // Called off the loop (the evaluator's state-write worker): waiting for the group commit
  // blocks only that worker, and the write shares the store thread's fsync with the others.
  if (writer_ != nullptr) return writer_->RunSync(write);
  return db_.Transaction(write);
}

}  // namespace tocsin::rules
