#pragma once

#include <vector>

#include "tocsin/notify/responder_request_store.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store {

// notify::ResponderRequestStore in the shared SQLite database (migrations of module
// "pagerduty"): one row per (dedup key, PagerDuty user) PagerDuty accepted a responder request
// for. Rows older than the outbox's retention are pruned on the next save, since no step of an
// incident that old is retried. With a StoreThread (the daemon) a save waits for the thread's
// group commit, as the Slack message id does; without one it is its own transaction.
// Thread-safety: any thread; `db` is shared under its own mutex.
class SqliteResponderRequestStore final : public notify::ResponderRequestStore {
 public:
  explicit SqliteResponderRequestStore(Database& db, StoreThread* writer = nullptr,
                                       Duration retention = std::chrono::hours(24 * 30))
      : db_(db), writer_(writer), retention_(retention) {}
  static const std::vector<Migration>& Migrations();
  Result<void> Migrate() { return db_.Migrate(Migrations()); }

  Result<std::set<std::string>> Requested(const std::string& request_key) override;
  Result<void> SaveRequested(const std::string& request_key, const std::string& dedup_key,
                             const std::string& user_id, const std::string& incident,
                             TimePoint at) override;

 private:
  Database& db_;
  StoreThread* writer_;
  Duration retention_;
};

}  // namespace tocsin::store
