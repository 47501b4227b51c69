#pragma once

#include <map>
#include <set>
#include <vector>

#include "tocsin/notify/notifier.h"
#include "tocsin/notify/slack_thread_store.h"
#include "tocsin/store/database.h"

namespace tocsin::notify {

// The outbox's tables in the shared SQLite database (migrations of module "notify"):
// notify_outbox holds every delivery, pending until the provider said 2xx (then "sent"), or
// "failed" (permanent), or "superseded" (coalesced); notify_slack_messages maps incidents to
// their Slack message. Every state change is one short transaction. Thread-safety: as the
// Database (one mutex), so the loop and the Slack notifier's workers may share it.
class OutboxStore final : public SlackThreadStore {
 public:
  explicit OutboxStore(store::Database& db) : db_(db) {}
  static const std::vector<store::Migration>& Migrations();
  Result<void> Migrate();

  // Writes the items (filling in their ids) and marks `supersede` as superseded, in one
  // transaction. An item whose (idempotency key, original channel, target, person) was stored
  // before, of whatever kind, is skipped: the same request sent twice is delivered once.
  // `supersede` applies only when a new item with a coalesce key was written.
  Result<std::vector<OutboxItem>> Insert(std::vector<OutboxItem> items,
                                         const std::vector<std::int64_t>& supersede);
  Result<std::vector<OutboxItem>> LoadPending();
  Result<void> MarkSent(std::int64_t id, incident::Channel via, TimePoint at, int status,
                        const std::string& detail);
  Result<void> MarkFailed(std::int64_t id, incident::Channel via, TimePoint at, int status,
                          const std::string& detail);
  Result<void> MarkRetry(std::int64_t id, int attempts, TimePoint next_attempt_at, int status,
                         const std::string& detail);
  // For every incident, the provider each original channel was last delivered through
  // (differs after a fail-over), so acks and resolves follow the trigger.
  Result<std::map<std::string, std::map<incident::Channel, incident::Channel>>> Routes();
  // Deletes finished rows (sent, failed, superseded) finished before `before`; returns how many.
  Result<std::int64_t> Prune(TimePoint before);
  // Count of rows in `state` (tests and metrics).
  std::int64_t Count(std::string_view state);

  std::optional<SlackMessageRef> FindSlackMessage(const std::string& incident_id) override;
  Result<void> SaveSlackMessage(const std::string& incident_id,
                                const SlackMessageRef& ref) override;

 private:
  Result<void> Finish(std::int64_t id, std::string_view state, incident::Channel via, TimePoint at,
                      int status, const std::string& detail);
  store::Database& db_;
};

}  // namespace tocsin::notify
