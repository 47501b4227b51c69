#pragma once

#include "tocsin/rules/alert_state_store.h"
#include "tocsin/store/database.h"

namespace tocsin::rules {

// AlertStateStore in tocsin's SQLite database, table rules_alert_state (module "rules"
// migrations). Thread-safety: as Database (one connection behind a mutex).
class SqliteAlertStateStore final : public AlertStateStore {
 public:
  // Applies the "rules" migrations.
  static Result<std::unique_ptr<SqliteAlertStateStore>> Open(store::Database& db);

  Result<std::vector<PersistedAlertState>> Load() override;
  Result<void> Apply(const std::vector<PersistedAlertState>& changed,
                     const std::vector<std::pair<std::string, Fingerprint>>& removed) override;

  static const std::vector<store::Migration>& Migrations();

 private:
  explicit SqliteAlertStateStore(store::Database& db) : db_(db) {}
  store::Database& db_;
};

}  // namespace tocsin::rules
