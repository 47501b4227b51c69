#include "tocsin/store/sqlite_outbox_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "parallel_rows.h"
#include "tocsin/incident/page_json.h"

namespace tocsin::store {

using incident::Channel;
using notify::OutboxItem;

namespace {

std::int64_t I(long long v) { return static_cast<std::int64_t>(v); }

// The body of Insert, inside the caller's transaction.
Result<void> InsertIn(Database& db, std::vector<OutboxItem>& items,
                      const std::vector<std::int64_t>& supersede,
                      std::vector<OutboxItem>& inserted) {
  // A request handed over again (a page intent re-sent after a restart) is planned anew, and
  // the plan may differ (a Slack "post" becomes "update" + "thread" once the message exists):
  // a delivery is the same when key, provider, target and person are, whatever its kind (but
  // a "closing" is one beside its provider's line). All are checked before any is inserted,
  // since one request may plan two kinds.
  std::vector<bool> stored(items.size(), false);
  bool supersedes = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    auto seen = db.PrepareCached(
        "SELECT 1 FROM notify_outbox WHERE idempotency_key = ? AND original_channel = ? AND "
        "target = ? AND person_id = ? AND (kind = 'closing') = (? = 'closing')");
    if (!seen) return Fail(seen.error());
    seen->Bind(1, item.request.idempotency_key)
        .Bind(2, incident::ChannelName(item.original_channel))
        .Bind(3, item.target)
        .Bind(4, item.person_id)
        .Bind(5, item.kind);
    auto found = seen->Step();
    if (!found) return Fail(found.error());
    stored[i] = *found;
    supersedes = supersedes || (!stored[i] && notify::SupersedesPending(item));
  }
  // Only a new update, acknowledge or resolve supersedes pending ones; a duplicate must not.
  for (auto id : supersedes ? supersede : std::vector<std::int64_t>{}) {
    auto st = db.PrepareCached(
        "UPDATE notify_outbox SET state = 'superseded', done_at = created_at WHERE id = ? AND "
        "state = 'pending'");
    if (!st) return Fail(st.error());
    if (auto ok = st->Bind(1, id).Run(); !ok) return ok;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (stored[i]) continue;
    auto& item = items[i];
    auto st = db.PrepareCached(
        "INSERT INTO notify_outbox (channel, original_channel, kind, target, person_id, "
        "incident_id, idempotency_key, coalesce_key, request, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (!st) return Fail(st.error());
    st->Bind(1, incident::ChannelName(item.channel))
        .Bind(2, incident::ChannelName(item.original_channel))
        .Bind(3, item.kind)
        .Bind(4, item.target)
        .Bind(5, item.person_id)
        .Bind(6, item.request.incident_id)
        .Bind(7, item.request.idempotency_key)
        .Bind(8, item.coalesce_key)
        .Bind(9, incident::PageRequestToText(item.request))
        .Bind(10, I(ToUnixMillis(item.created_at)))
        .Bind(11, I(ToUnixMillis(item.next_attempt_at)));
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) return Fail(Error::Io("outbox insert returned no id"));
    item.id = st->Int(0);
    if (auto ok = st->Run(); !ok) return ok;
    inserted.push_back(item);
  }
  return {};
}

// Whether the incident store recorded the page intent `key` (its table, same database): in the
// same group commit, the savepoint of the change that decided it came first.
Result<void> IntentRecorded(Database& db, const std::string& key) {
  auto st = db.PrepareCached("SELECT 1 FROM incident_pages WHERE idempotency_key = ?");
  if (!st) return Fail(st.error());
  st->Bind(1, key);
  auto found = st->Step();
  if (!found) return Fail(found.error());
  if (!*found) {
    return Fail(Error::NotFound("page " + key +
                                ": the change that decided it was not recorded; nothing written"));
  }
  return {};
}

}  // namespace

const std::vector<Migration>& SqliteOutboxStore::Migrations() {
  static const std::vector<Migration> m = {{"notify", 1, R"sql(
CREATE TABLE notify_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,           -- provider it goes to now (changes on fail-over)
  original_channel TEXT NOT NULL,  -- provider the route named
  kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  person_id TEXT NOT NULL DEFAULT '',
  incident_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  coalesce_key TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL,           -- the PageRequest as JSON, rendered at delivery
  state TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed | superseded
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,     -- unix ms
  next_attempt_at INTEGER NOT NULL,
  done_at INTEGER,
  last_status INTEGER,
  last_detail TEXT NOT NULL DEFAULT '',
  UNIQUE (idempotency_key, original_channel, kind, target, person_id)
);
CREATE INDEX notify_outbox_state ON notify_outbox(state, id);
CREATE INDEX notify_outbox_incident ON notify_outbox(incident_id);
CREATE TABLE notify_slack_messages (
  incident_id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  ts TEXT NOT NULL
);
)sql"}};
  return m;
}

Result<void> SqliteOutboxStore::Migrate() { return db_.Migrate(Migrations()); }

void SqliteOutboxStore::WriteAsync(StoreThread::Write write, Done<void> done) {
  if (writer_ != nullptr) return writer_->Submit(std::move(write), std::move(done));
  done(db_.Transaction(write));
}

void SqliteOutboxStore::Insert(std::vector<OutboxItem> items, std::vector<std::int64_t> supersede,
                               Done<std::vector<OutboxItem>> done) {
  InsertItems({}, std::move(items), std::move(supersede), std::move(done));
}

void SqliteOutboxStore::InsertIfDecided(std::string intent_key, std::vector<OutboxItem> items,
                                        std::vector<std::int64_t> supersede,
                                        Done<std::vector<OutboxItem>> done) {
  InsertItems(std::move(intent_key), std::move(items), std::move(supersede), std::move(done));
}

void SqliteOutboxStore::InsertItems(std::string intent_key, std::vector<OutboxItem> items,
                                    std::vector<std::int64_t> supersede,
                                    Done<std::vector<OutboxItem>> done) {
  // Filled on the store thread; read by the completion, which that thread posts afterwards.
  auto inserted = std::make_shared<std::vector<OutboxItem>>();
  WriteAsync(
      [intent_key = std::move(intent_key), items = std::move(items),
       supersede = std::move(supersede), inserted](Database& db) mutable -> Result<void> {
        inserted->clear();  // a write is run once, but a failed one leaves nothing behind
        if (!intent_key.empty()) {
          if (auto decided = IntentRecorded(db, intent_key); !decided) return Fail(decided.error());
        }
        auto r = InsertIn(db, items, supersede, *inserted);
        if (!r) inserted->clear();
        return r;
      },
      [inserted, done = std::move(done)](Result<void> r) {
        if (!r) return done(Fail(r.error()));
        done(std::move(*inserted));
      });
}

Result<std::vector<OutboxItem>> SqliteOutboxStore::LoadPending() {
  // Sized first: after a storm this is tens of thousands of items, and growing the vector
  // step by step moved them and touched fresh memory several times over.
  std::int64_t pending = 0;
  {
    auto count = db_.Prepare("SELECT count(*) FROM notify_outbox WHERE state = 'pending'");
    if (!count) return Fail(count.error());
    auto row = count->Step();
    if (!row) return Fail(row.error());
    if (*row) pending = count->Int(0);
  }
  auto st = db_.Prepare(
      "SELECT id, channel, original_channel, kind, target, person_id, coalesce_key, request, "
      "attempts, created_at, next_attempt_at FROM notify_outbox WHERE state = 'pending' "
      "ORDER BY id");
  if (!st) return Fail(st.error());
  std::vector<OutboxItem> out;
  std::vector<std::string> requests;
  out.reserve(static_cast<std::size_t>(pending));
  requests.reserve(static_cast<std::size_t>(pending));
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    OutboxItem item;
    item.id = st->Int(0);
    item.channel = Channel::Named(st->Text(1));
    item.original_channel = Channel::Named(st->Text(2));
    item.kind = st->Text(3);
    item.target = st->Text(4);
    item.person_id = st->Text(5);
    item.coalesce_key = st->Text(6);
    requests.push_back(st->Text(7));
    item.attempts = static_cast<int>(st->Int(8));
    item.created_at = FromUnixMillis(st->Int(9));
    item.next_attempt_at = FromUnixMillis(st->Int(10));
    out.push_back(std::move(item));
  }
  // Parsed on several threads: a restart after a storm holds thousands of pending deliveries.
  std::vector<std::optional<Error>> errors(out.size());
  ParseRowsInParallel(out.size(), [&](std::size_t i) {
    auto request = incident::PageRequestFromText(requests[i]);
    if (request) {
      out[i].request = std::move(*request);
    } else {
      errors[i] = request.error();
    }
  });
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (errors[i]) {
      return Fail(
          Error::Invalid(fmt::format("outbox row {}: {}", out[i].id, errors[i]->message())));
    }
  }
  return out;
}

void SqliteOutboxStore::Finish(std::int64_t id, std::string_view state, Channel via, TimePoint at,
                               int status, std::string detail, Done<void> done,
                               int attempts_added) {
  WriteAsync(
      [id, state = std::string(state), via, at, status, detail = std::move(detail),
       attempts_added](Database& db) -> Result<void> {
        auto st = db.PrepareCached(
            "UPDATE notify_outbox SET state = ?, channel = ?, done_at = ?, last_status = ?, "
            "last_detail = ?, attempts = attempts + ? WHERE id = ?");
        if (!st) return Fail(st.error());
        return st->Bind(1, state)
            .Bind(2, incident::ChannelName(via))
            .Bind(3, I(ToUnixMillis(at)))
            .Bind(4, static_cast<std::int64_t>(status))
            .Bind(5, detail)
            .Bind(6, static_cast<std::int64_t>(attempts_added))
            .Bind(7, id)
            .Run();
      },
      std::move(done));
}

void SqliteOutboxStore::MarkSent(std::int64_t id, Channel via, TimePoint at, int status,
                                 std::string detail, Done<void> done) {
  Finish(id, "sent", via, at, status, std::move(detail), std::move(done));
}

void SqliteOutboxStore::MarkFailed(std::int64_t id, Channel via, TimePoint at, int status,
                                   std::string detail, Done<void> done) {
  Finish(id, "failed", via, at, status, std::move(detail), std::move(done));
}

void SqliteOutboxStore::MarkWithdrawn(std::int64_t id, Channel via, TimePoint at, int status,
                                      std::string detail, bool attempted, Done<void> done) {
  Finish(id, "superseded", via, at, status, std::move(detail), std::move(done), attempted ? 1 : 0);
}

void SqliteOutboxStore::MarkRetry(std::int64_t id, int attempts, TimePoint next_attempt_at,
                                  int status, std::string detail, Done<void> done) {
  WriteAsync(
      [id, attempts, next_attempt_at, status,
       detail = std::move(detail)](Database& db) -> Result<void> {
        auto st = db.PrepareCached(
            "UPDATE notify_outbox SET attempts = ?, next_attempt_at = ?, last_status = ?, "
            "last_detail = ? WHERE id = ?");
        if (!st) return Fail(st.error());
        return st->Bind(1, static_cast<std::int64_t>(attempts))
            .Bind(2, I(ToUnixMillis(next_attempt_at)))
            .Bind(3, static_cast<std::int64_t>(status))
            .Bind(4, detail)
            .Bind(5, id)
            .Run();
      },
      std::move(done));
}

Result<SqliteOutboxStore::RouteMap> SqliteOutboxStore::LoadRoutes(DeliveredMap& delivered) {
  // Sent rows last: where a trigger was delivered wins over the provider a pending row was
  // planned for before a fail-over delivered the incident elsewhere. A "closing" goes to a
  // provider the route left (notifier.h): it says nothing of the route.
  // A trigger's action is its name, or 0 in the requests of version 1 (page_json.cpp); the
  // column is text, which PostgreSQL reads as JSON only when told.
  const char* action = db_.dialect() == Dialect::kPostgres ? "CAST(request AS json) ->> 'action'"
                                                           : "json_extract(request, '$.action')";
  auto st = db_.Prepare(fmt::format(
      "SELECT incident_id, original_channel, channel, CASE WHEN kind = 'page' AND state = "
      "'sent' THEN CASE WHEN CAST({} AS TEXT) IN ('trigger', '0') THEN 1 ELSE 0 END ELSE 0 END "
      "FROM notify_outbox WHERE state IN ('pending', 'sent') AND kind <> 'closing' "
      "ORDER BY CASE WHEN state = 'sent' THEN 1 ELSE 0 END, id",
      action));
  if (!st) return Fail(st.error());
  RouteMap out;
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    const Channel via = Channel::Named(st->Text(2));
    out[st->Text(0)].insert_or_assign(Channel::Named(st->Text(1)), via);
    if (st->Int(3) != 0) {
      auto& to = delivered[st->Text(0)];
      if (std::find(to.begin(), to.end(), via) == to.end()) to.push_back(via);
    }
  }
  return out;
}

Result<std::vector<SqliteOutboxStore::Closing>> SqliteOutboxStore::LoadClosings() {
  // A database the incident store has not started on yet (the outbox opens first) holds no
  // incident, nor their table. Read here, not with SchemaVersion, which answers 0 on an error
  // and would skip the read without a word.
  {
    auto version = db_.Prepare(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE module = 'incident'");
    if (!version) return Fail(version.error());
    auto row = version->Step();
    if (!row) return Fail(row.error());
    if (!*row || version->Int(0) == 0) return std::vector<Closing>{};
  }
  // One pass over the intents (no index on incident_id: a write of every page would pay for
  // it), of the incidents with a delivery pending or a page still to hand over (the incident
  // side hands those to the outbox again after the restart).
  auto st = db_.Prepare(
      "SELECT incident_id, request FROM incident_pages WHERE incident_id IN "
      "(SELECT incident_id FROM notify_outbox WHERE state = 'pending' "
      "UNION SELECT incident_id FROM incident_pages WHERE handed_off = 0)");
  if (!st) return Fail(st.error());
  std::vector<std::string> incidents;
  std::vector<std::string> texts;
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    incidents.push_back(st->Text(0));
    texts.push_back(st->Text(1));
  }
  // Parsed on several threads, as LoadPending's rows: after a storm, thousands.
  std::vector<std::optional<incident::PageRequest>> requests(texts.size());
  std::vector<std::string> errors(texts.size());
  ParseRowsInParallel(texts.size(), [&](std::size_t i) {
    auto request = incident::PageRequestFromText(texts[i]);
    if (request) {
      requests[i] = std::move(*request);
    } else {
      errors[i] = request.error().message();
    }
  });
  std::vector<Closing> out;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (!requests[i]) {
      spdlog::error("outbox: a page intent of {} cannot be read, skipped: {}", incidents[i],
                    errors[i]);
      continue;
    }
    const auto action = requests[i]->action;
    if (action == incident::PageAction::kAcknowledge || action == incident::PageAction::kResolve) {
      out.push_back({incidents[i], action, requests[i]->at});
    }
  }
  return out;
}

void SqliteOutboxStore::Prune(TimePoint before, Done<std::int64_t> done) {
  auto pruned = std::make_shared<std::int64_t>(0);
  WriteAsync(
      [before, pruned](Database& db) -> Result<void> {
        auto st = db.Prepare(
            "DELETE FROM notify_outbox WHERE state != 'pending' AND done_at IS NOT NULL AND "
            "done_at < ?");
        if (!st) return Fail(st.error());
        if (auto r = st->Bind(1, I(ToUnixMillis(before))).Run(); !r) return Fail(r.error());
        *pruned = st->Changes();
        return {};
      },
      [pruned, done = std::move(done)](Result<void> r) {
        if (!r) return done(Fail(r.error()));
        done(*pruned);
      });
}

std::int64_t SqliteOutboxStore::Count(std::string_view state) {
  auto st = db_.Prepare("SELECT COUNT(*) FROM notify_outbox WHERE state = ?");
  if (!st) return -1;
  st->Bind(1, state);
  auto row = st->Step();
  return row && *row ? st->Int(0) : -1;
}

std::optional<notify::SlackMessageRef> SqliteOutboxStore::FindSlackMessage(
    const std::string& incident_id) {
  auto st = db_.Prepare("SELECT channel, ts FROM notify_slack_messages WHERE incident_id = ?");
  if (!st) return std::nullopt;
  st->Bind(1, incident_id);
  auto row = st->Step();
  if (!row || !*row) return std::nullopt;
  return notify::SlackMessageRef{st->Text(0), st->Text(1)};
}

Result<void> SqliteOutboxStore::SaveSlackMessage(const std::string& incident_id,
                                                 const notify::SlackMessageRef& ref) {
  StoreThread::Write write = [incident_id, ref](Database& db) -> Result<void> {
    auto st = db.Prepare(
        "INSERT INTO notify_slack_messages (incident_id, channel, ts) VALUES (?, ?, ?) "
        "ON CONFLICT(incident_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts");
    if (!st) return Fail(st.error());
    return st->Bind(1, incident_id).Bind(2, ref.channel).Bind(3, ref.ts).Run();
  };
  // Called on a notify worker: it waits for the group commit, the loop does not.
  if (writer_ != nullptr) return writer_->RunSync(write);
  return db_.Transaction(write);
}

}  // namespace tocsin::store
