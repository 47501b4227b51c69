#pragma once

#include "tocsin/rules/alert_state_store.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::rules {

// AlertStateStore in tocsin's SQLite database, table rules_alert_state (module "rules"
// migrations). With a StoreThread (the daemon) Apply joins the store thread's group commit and
// returns once durable, so it must not be called on the loop (the evaluator calls it on a
// worker of its own); without one it commits on the shared connection. Thread-safety: as
// Database (one connection behind a mutex), Apply from any thread but the loop's.
class SqliteAlertStateStore final : public AlertStateStore {
 public:
  // Applies the "rules" migrations.
  static Result<std::unique_ptr<SqliteAlertStateStore>> Open(store::Database& db,
                                                             store::StoreThread* writer = nullptr);

  Result<std::vector<PersistedAlertState>> Load() override;
  Result<void> Apply(const std::vector<PersistedAlertState>& changed,
                     const std::vector<std::pair<std::string, Fingerprint>>& removed) override;

  static const std::vector<store::Migration>& Migrations();

 private:
  SqliteAlertStateStore(store::Database& db, store::StoreThread* writer)
      : db_(db), writer_(writer) {}
  store::Database& db_;
  store::StoreThread* writer_;
};

}  // namespace tocsin::rules
