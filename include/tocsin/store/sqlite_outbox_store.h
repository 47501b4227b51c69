#pragma once

#include <vector>

#include "tocsin/notify/outbox_store.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store {

// The outbox's tables in the shared SQLite database (migrations of module "notify"):
// notify_outbox holds every delivery with its state; notify_slack_messages maps incidents to
// their Slack message.
//
// With a StoreThread (the daemon), every write goes to the store thread and joins its next
// group commit: the outbox's writes never block the loop, and their completions come back
// through the thread's post in order; SaveSlackMessage, called by the Slack notifier on a
// worker, waits for its group there. Without one (tests, tools), each write is its own
// transaction on `db` and completes before it returns. Reads always use `db`, which in WAL mode
// sees every committed group without waiting for the one being written.
// Thread-safety: as notify::OutboxStore; `db` is shared under its own mutex.
class SqliteOutboxStore final : public notify::OutboxStore {
 public:
  explicit SqliteOutboxStore(Database& db, StoreThread* writer = nullptr)
      : db_(db), writer_(writer) {}
  static const std::vector<Migration>& Migrations();

  Result<void> Migrate() override;
  Result<std::vector<notify::OutboxItem>> LoadPending() override;
  Result<RouteMap> LoadRoutes(DeliveredMap& delivered) override;
  // From the incident store's page intents (incident_pages, same database).
  Result<std::vector<Closing>> LoadClosings() override;
  void Insert(std::vector<notify::OutboxItem> items, std::vector<std::int64_t> supersede,
              Done<std::vector<notify::OutboxItem>> done) override;
  // The intent is looked up in the incident store's incident_pages (same database).
  void InsertIfDecided(std::string intent_key, std::vector<notify::OutboxItem> items,
                       std::vector<std::int64_t> supersede,
                       Done<std::vector<notify::OutboxItem>> done) override;
  void MarkSent(std::int64_t id, incident::Channel via, TimePoint at, int status,
                std::string detail, Done<void> done) override;
  void MarkFailed(std::int64_t id, incident::Channel via, TimePoint at, int status,
                  std::string detail, Done<void> done) override;
  void MarkRetry(std::int64_t id, int attempts, TimePoint next_attempt_at, int status,
                 std::string detail, Done<void> done) override;
  void MarkWithdrawn(std::int64_t id, incident::Channel via, TimePoint at, int status,
                     std::string detail, bool attempted, Done<void> done) override;
  void Prune(TimePoint before, Done<std::int64_t> done) override;
  std::int64_t Count(std::string_view state) override;

  std::optional<notify::SlackMessageRef> FindSlackMessage(const std::string& incident_id) override;
  Result<void> SaveSlackMessage(const std::string& incident_id,
                                const notify::SlackMessageRef& ref) override;

 private:
  // `attempts_added`: 1 for a finished attempt, 0 for a row withdrawn before any.
  void Finish(std::int64_t id, std::string_view state, incident::Channel via, TimePoint at,
              int status, std::string detail, Done<void> done, int attempts_added = 1);
  // Runs `write` in a transaction: queued on the store thread when there is one (`done` later,
  // through its post), else now on `db_`.
  void WriteAsync(StoreThread::Write write, Done<void> done);
  // Insert and InsertIfDecided (no condition when `intent_key` is empty).
  void InsertItems(std::string intent_key, std::vector<notify::OutboxItem> items,
                   std::vector<std::int64_t> supersede, Done<std::vector<notify::OutboxItem>> done);

  Database& db_;
  StoreThread* writer_;
};

}  // namespace tocsin::store
