#include "tocsin/store/sqlite_responder_request_store.h"

namespace tocsin::store {

const std::vector<Migration>& SqliteResponderRequestStore::Migrations() {
  static const std::vector<Migration> m = {{"pagerduty", 1, R"sql(
CREATE TABLE pagerduty_responder_requests (
  dedup_key TEXT NOT NULL,     -- the Events v2 dedup_key of the tocsin incident
  user_id TEXT NOT NULL,       -- pagerduty_user_id of the person requested
  incident TEXT NOT NULL,      -- PagerDuty's incident id
  requested_at INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY (dedup_key, user_id)
);
CREATE INDEX pagerduty_responder_requests_at ON pagerduty_responder_requests(requested_at);
)sql"},
                                           // Keyed by the step page, not the incident: one key per
                                           // incident never paged its people again on a repeat,
                                           // an ack timeout or a reopen. Rows of v1 cannot tell
                                           // their step, so they go: a step retried across the
                                           // upgrade could request a person once more.
                                           {"pagerduty", 2, R"sql(
DROP TABLE pagerduty_responder_requests;
CREATE TABLE pagerduty_responder_requests (
  request_key TEXT NOT NULL,   -- idempotency key of the step's page (INC-7/e1/step-1/trigger)
  user_id TEXT NOT NULL,       -- pagerduty_user_id of the person requested
  dedup_key TEXT NOT NULL,     -- the Events v2 dedup_key of the tocsin incident
  incident TEXT NOT NULL,      -- PagerDuty's incident id
  requested_at INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY (request_key, user_id)
);
CREATE INDEX pagerduty_responder_requests_at ON pagerduty_responder_requests(requested_at);
)sql"}};
  return m;
}

Result<std::set<std::string>> SqliteResponderRequestStore::Requested(
    const std::string& request_key) {
  auto st = db_.Prepare("SELECT user_id FROM pagerduty_responder_requests WHERE request_key = ?");
  if (!st) return Fail(st.error());
  st->Bind(1, request_key);
  std::set<std::string> out;
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    out.insert(st->Text(0));
  }
  return out;
}

Result<void> SqliteResponderRequestStore::SaveRequested(const std::string& request_key,
                                                        const std::string& dedup_key,
                                                        const std::string& user_id,
                                                        const std::string& incident, TimePoint at) {
  auto at_ms = static_cast<std::int64_t>(ToUnixMillis(at));
  auto before_ms = static_cast<std::int64_t>(ToUnixMillis(at - retention_));
  StoreThread::Write write = [=](Database& db) -> Result<void> {
    auto st = db.Prepare(
        "INSERT INTO pagerduty_responder_requests "
        "(request_key, user_id, dedup_key, incident, requested_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(request_key, user_id) DO NOTHING");
    if (!st) return Fail(st.error());
    if (auto r = st->Bind(1, request_key)
                     .Bind(2, user_id)
                     .Bind(3, dedup_key)
                     .Bind(4, incident)
                     .Bind(5, at_ms)
                     .Run();
        !r) {
      return r;
    }
    auto prune = db.Prepare("DELETE FROM pagerduty_responder_requests WHERE requested_at < ?");
    if (!prune) return Fail(prune.error());
    return prune->Bind(1, before_ms).Run();
  };
  // Called on a notify worker: it waits for the group commit, the loop does not.
  if (writer_ != nullptr) return writer_->RunSync(write);
  return db_.Transaction(write);
}

}  // namespace tocsin::store
