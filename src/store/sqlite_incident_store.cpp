#include "tocsin/store/sqlite_incident_store.h"

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "parallel_rows.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/incident_json.h"
#include "tocsin/incident/page_json.h"

namespace tocsin::store {

using incident::Incident;
using incident::IncidentChange;
using incident::PageIntent;
using incident::TimelineEvent;

namespace {

const std::string kIncidentTables = R"sql(
CREATE TABLE incident_counter (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL);
INSERT INTO incident_counter (id, next) VALUES (1, 1);
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  number INTEGER NOT NULL UNIQUE,
  key TEXT NOT NULL,
  state TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX incidents_state ON incidents (state, number);
CREATE INDEX incidents_key ON incidents (key);
CREATE TABLE incident_timeline (
  incident_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  text TEXT NOT NULL,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (incident_id, seq)
);
CREATE TABLE incident_pages (
  idempotency_key TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL,
  request TEXT NOT NULL,
  handed_off INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incident_pages_pending ON incident_pages (handed_off);
)sql";

const std::string kSqliteAppendOnly = R"sql(
CREATE TRIGGER incident_timeline_append_only_update BEFORE UPDATE ON incident_timeline
BEGIN SELECT RAISE(ABORT, 'incident_timeline is append-only'); END;
CREATE TRIGGER incident_timeline_append_only_delete BEFORE DELETE ON incident_timeline
BEGIN SELECT RAISE(ABORT, 'incident_timeline is append-only'); END;
)sql";

const std::string kPostgresAppendOnly = R"sql(
CREATE FUNCTION incident_timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'incident_timeline is append-only'; END $$;
CREATE TRIGGER incident_timeline_append_only BEFORE UPDATE OR DELETE ON incident_timeline
FOR EACH ROW EXECUTE FUNCTION incident_timeline_append_only();
)sql";

}  // namespace

const std::vector<Migration>& SqliteIncidentStore::Migrations() {
  static const std::vector<Migration> kMigrations = {
      {"incident", 1, kIncidentTables + kSqliteAppendOnly,
       // incident_pages keeps SQLite's implicit rowid by name, so the queries' ORDER BY rowid
       // (the order the intents were written) is one text.
       kIncidentTables + kPostgresAppendOnly +
           "ALTER TABLE incident_pages ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;\n"},
      // Inbound deliveries move here from the "http" module's v1 (same table, same columns):
      // they are written in the transaction of the incident change they caused.
      {"incident", 2, R"sql(
CREATE TABLE IF NOT EXISTS inbound_deliveries (
  provider TEXT NOT NULL,
  id TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (provider, id)
);
CREATE INDEX IF NOT EXISTS inbound_deliveries_seen ON inbound_deliveries (seen_at);
)sql"},
  };
  return kMigrations;
}

Result<void> SqliteIncidentStore::Migrate() { return db_.Migrate(Migrations()); }

Result<void> SqliteIncidentStore::Write(const StoreThread::Write& write) {
  if (writer_ != nullptr) return writer_->RunSync(write);
  return db_.Transaction(write);
}

void SqliteIncidentStore::WriteAsync(StoreThread::Write write, Done done) {
  if (writer_ != nullptr) return writer_->Submit(std::move(write), std::move(done));
  done(db_.Transaction(write));
}

Result<std::int64_t> SqliteIncidentStore::PeekNextIncidentNumber() {
  auto sel = db_.Prepare("SELECT next FROM incident_counter WHERE id = 1");
  if (!sel) return Fail(sel.error());
  auto row = sel->Step();
  if (!row) return Fail(row.error());
  if (!*row) return Fail(Error::Io("incident_counter is empty"));
  return sel->Int(0);
}

Result<std::int64_t> SqliteIncidentStore::NextIncidentNumber() {
  std::int64_t number = 0;
  auto r = Write([&](Database& db) -> Result<void> {
    auto sel = db.Prepare("SELECT next FROM incident_counter WHERE id = 1");
    if (!sel) return Fail(sel.error());
    auto row = sel->Step();
    if (!row) return Fail(row.error());
    if (!*row) return Fail(Error::Io("incident_counter is empty"));
    number = sel->Int(0);
    auto upd = db.Prepare("UPDATE incident_counter SET next = next + 1 WHERE id = 1");
    if (!upd) return Fail(upd.error());
    return upd->Run();
  });
  if (!r) return Fail(r.error());
  return number;
}

namespace {

constexpr std::int64_t kDeliveryRetentionMs = 72LL * 3600 * 1000;

// Inserts the delivery inside the caller's transaction; kConflict when it is already there.
Result<void> InsertDelivery(Database& db, const incident::InboundDelivery& d) {
  auto sel = db.PrepareCached("SELECT 1 FROM inbound_deliveries WHERE provider = ? AND id = ?");
  if (!sel) return Fail(sel.error());
  sel->Bind(1, d.source).Bind(2, d.id);
  auto row = sel->Step();
  if (!row) return Fail(row.error());
  if (*row) {
    return Fail(Error::Conflict(
        fmt::format("{} delivery {} was already processed; nothing done again", d.source, d.id)));
  }
  auto ins =
      db.PrepareCached("INSERT INTO inbound_deliveries (provider, id, seen_at) VALUES (?, ?, ?)");
  if (!ins) return Fail(ins.error());
  ins->Bind(1, d.source).Bind(2, d.id).Bind(3, ToUnixMillis(d.received_at));
  return ins->Run();
}

// A change computed from a stale copy of the incident (events were written since) would
// collide with those events or, worse, overwrite the incident row with old state: refuse it
// whole, before anything is written.
Result<void> CheckNotStale(Database& db, const incident::TimelineEvent& first) {
  auto sel = db.PrepareCached("SELECT MAX(seq) FROM incident_timeline WHERE incident_id = ?");
  if (!sel) return Fail(sel.error());
  sel->Bind(1, first.incident_id);
  auto row = sel->Step();
  if (!row) return Fail(row.error());
  const std::int64_t stored_seq = *row && !sel->IsNull(0) ? sel->Int(0) : 0;
  if (first.seq > stored_seq) return {};
  return Fail(Error::Conflict(
      fmt::format("incident {} changed since this change was computed (its timeline has {} "
                  "event(s), the change starts at event {}); nothing was written",
                  first.incident_id, stored_seq, first.seq)));
}

}  // namespace

Result<void> SqliteIncidentStore::Commit(const IncidentChange& change) {
  return Write([&](Database& db) { return CommitIn(db, change); });
}

void SqliteIncidentStore::CommitAsync(IncidentChange change, Done done) {
  WriteAsync([this, change = std::move(change)](Database& db) { return CommitIn(db, change); },
             std::move(done));
}

void SqliteIncidentStore::CommitAsyncAlongside(IncidentChange change, Done done,
                                               const std::function<void()>& alongside) {
  std::optional<StoreThread::Cork> cork;
  if (writer_ != nullptr) cork.emplace(*writer_);
  CommitAsync(std::move(change), std::move(done));
  alongside();
}

void SqliteIncidentStore::RecordDeliveryAsync(incident::InboundDelivery delivery, Done done) {
  WriteAsync([this, delivery = std::move(delivery)](
                 Database& db) { return RecordDeliveryIn(db, delivery); },
             std::move(done));
}

void SqliteIncidentStore::MarkHandedOffAsync(std::string idempotency_key, Done done) {
  WriteAsync([key = std::move(idempotency_key)](Database& db) { return MarkHandedOffIn(db, key); },
             std::move(done));
}

Result<void> SqliteIncidentStore::CommitIn(Database& db, const IncidentChange& change) {
  const Incident& inc = change.incident;
  std::string body = DumpJson(incident::IncidentToJson(inc));
  if (!change.events.empty()) {
    if (auto r = CheckNotStale(db, change.events.front()); !r) return r;
    if (change.events.front().seq == 1) {
      // The incident's first change: numbers counted in memory from PeekNextIncidentNumber
      // stay unique across restarts.
      auto counter =
          db.PrepareCached("UPDATE incident_counter SET next = ?1 WHERE id = 1 AND next < ?1");
      if (!counter) return Fail(counter.error());
      if (auto r = counter->Bind(1, inc.number + 1).Run(); !r) return r;
    }
  }
  if (change.delivery) {
    if (auto r = InsertDelivery(db, *change.delivery); !r) return r;
  }
  auto up = db.PrepareCached(
      "INSERT INTO incidents (id, number, key, state, opened_at, body) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET state = excluded.state, key = excluded.key, "
      "body = excluded.body");
  if (!up) return Fail(up.error());
  up->Bind(1, inc.id)
      .Bind(2, inc.number)
      .Bind(3, inc.key)
      .Bind(4, incident::IncidentStateName(inc.state))
      .Bind(5, ToUnixMillis(inc.opened_at))
      .Bind(6, body);
  if (auto r = up->Run(); !r) return r;
  for (const auto& e : change.events) {
    auto ins = db.PrepareCached(
        "INSERT INTO incident_timeline (incident_id, seq, at, kind, actor, text, data, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return Fail(ins.error());
    ins->Bind(1, e.incident_id)
        .Bind(2, e.seq)
        .Bind(3, ToUnixMillis(e.at))
        .Bind(4, e.kind)
        .Bind(5, e.actor)
        .Bind(6, e.text)
        .Bind(7, e.data)
        .Bind(8, e.prev_hash)
        .Bind(9, e.hash);
    if (auto r = ins->Run(); !r) return r;
  }
  for (const auto& p : change.pages) {
    // The same key again (a step re-decided after a crash) keeps the first intent.
    auto ins = db.PrepareCached(
        "INSERT INTO incident_pages (idempotency_key, incident_id, request, handed_off) "
        "VALUES (?, ?, ?, 0) ON CONFLICT (idempotency_key) DO NOTHING");
    if (!ins) return Fail(ins.error());
    ins->Bind(1, p.idempotency_key).Bind(2, p.incident_id).Bind(3, incident::PageRequestToText(p));
    if (auto r = ins->Run(); !r) return r;
  }
  for (const auto& key : change.handed_off) {
    if (auto r = MarkHandedOffIn(db, key); !r) return r;
  }
  if (change.delivery) return PruneDeliveries(db, change.delivery->received_at);
  return {};
}

Result<void> SqliteIncidentStore::PruneDeliveries(Database& db, TimePoint now) {
  // Every thousandth delivery, like a log rotation: the index makes it one range delete.
  if ((deliveries_recorded_.fetch_add(1) + 1) % 1000 != 0) return {};
  auto prune = db.Prepare("DELETE FROM inbound_deliveries WHERE seen_at < ?");
  if (!prune) return Fail(prune.error());
  prune->Bind(1, ToUnixMillis(now) - kDeliveryRetentionMs);
  return prune->Run();
}

Result<bool> SqliteIncidentStore::HasDelivery(const std::string& source, const std::string& id) {
  auto sel = db_.Prepare("SELECT 1 FROM inbound_deliveries WHERE provider = ? AND id = ?");
  if (!sel) return Fail(sel.error());
  sel->Bind(1, source).Bind(2, id);
  auto row = sel->Step();
  if (!row) return Fail(row.error());
  return *row;
}

Result<void> SqliteIncidentStore::RecordDelivery(const incident::InboundDelivery& delivery) {
  return Write([&](Database& db) { return RecordDeliveryIn(db, delivery); });
}

Result<void> SqliteIncidentStore::RecordDeliveryIn(Database& db,
                                                   const incident::InboundDelivery& delivery) {
  if (auto r = InsertDelivery(db, delivery); !r) return r;
  return PruneDeliveries(db, delivery.received_at);
}

namespace {

Result<Incident> ParseBody(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return Fail(Error::Io("incident row holds malformed JSON"));
  return incident::IncidentFromJson(j);
}

}  // namespace

Result<std::optional<Incident>> SqliteIncidentStore::Get(const std::string& id) {
  auto st = db_.Prepare("SELECT body FROM incidents WHERE id = ?");
  if (!st) return Fail(st.error());
  st->Bind(1, id);
  auto row = st->Step();
  if (!row) return Fail(row.error());
  if (!*row) return std::optional<Incident>();
  auto inc = ParseBody(st->Text(0));
  if (!inc) return Fail(inc.error());
  return std::optional<Incident>(std::move(*inc));
}

Result<std::vector<Incident>> SqliteIncidentStore::List(const incident::IncidentFilter& filter) {
  std::string sql = "SELECT body FROM incidents WHERE 1 = 1";
  if (filter.open_only) {
    sql += " AND state != 'resolved'";
  } else if (filter.state) {
    sql += " AND state = ?";
  }
  if (filter.opened_from) sql += " AND opened_at >= ?";
  if (filter.opened_before) sql += " AND opened_at < ?";
  sql += " ORDER BY number DESC";
  if (filter.limit > 0) sql += " LIMIT ?";
  auto st = db_.Prepare(sql);
  if (!st) return Fail(st.error());
  int i = 1;
  if (!filter.open_only && filter.state) st->Bind(i++, incident::IncidentStateName(*filter.state));
  if (filter.opened_from) st->Bind(i++, ToUnixMillis(*filter.opened_from));
  if (filter.opened_before) st->Bind(i++, ToUnixMillis(*filter.opened_before));
  if (filter.limit > 0) st->Bind(i, static_cast<std::int64_t>(filter.limit));
  std::vector<std::string> bodies;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    bodies.push_back(st->Text(0));
  }
  // Parsed on several threads: a restart lists every open incident before it serves.
  return ParseEachInParallel<Incident>(bodies, ParseBody);
}

Result<std::vector<TimelineEvent>> SqliteIncidentStore::Timeline(const std::string& id) {
  auto st = db_.Prepare(
      "SELECT incident_id, seq, at, kind, actor, text, data, prev_hash, hash FROM "
      "incident_timeline WHERE incident_id = ? ORDER BY seq");
  if (!st) return Fail(st.error());
  st->Bind(1, id);
  std::vector<TimelineEvent> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    TimelineEvent e;
    e.incident_id = st->Text(0);
    e.seq = st->Int(1);
    e.at = FromUnixMillis(st->Int(2));
    e.kind = st->Text(3);
    e.actor = st->Text(4);
    e.text = st->Text(5);
    e.data = st->Text(6);
    e.prev_hash = st->Text(7);
    e.hash = st->Text(8);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<PageIntent>> SqliteIncidentStore::PendingPages() {
  auto st = db_.Prepare("SELECT request FROM incident_pages WHERE handed_off = 0 ORDER BY rowid");
  if (!st) return Fail(st.error());
  std::vector<std::string> texts;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    texts.push_back(st->Text(0));
  }
  // Parsed on several threads: after a storm a restart finds thousands of pages whose record
  // had not landed (it hands them once it serves).
  return ParseEachInParallel<PageIntent>(texts, [](const std::string& text) -> Result<PageIntent> {
    auto req = incident::PageRequestFromText(text);
    if (!req) return Fail(req.error());
    return PageIntent{std::move(*req), false};
  });
}

Result<void> SqliteIncidentStore::MarkHandedOff(const std::string& idempotency_key) {
  return Write([&](Database& db) { return MarkHandedOffIn(db, idempotency_key); });
}

Result<void> SqliteIncidentStore::MarkHandedOffIn(Database& db,
                                                  const std::string& idempotency_key) {
  // Cached: one per page handed off, on the store thread (its parse was 7 % of that thread's
  // CPU while acknowledgements ran).
  auto st = db.PrepareCached("UPDATE incident_pages SET handed_off = 1 WHERE idempotency_key = ?");
  if (!st) return Fail(st.error());
  st->Bind(1, idempotency_key);
  return st->Run();
}

Result<std::vector<std::string>> SqliteIncidentStore::PageKeys(const std::string& incident_id) {
  auto st = db_.Prepare(
      "SELECT idempotency_key FROM incident_pages WHERE incident_id = ? ORDER BY rowid");
  if (!st) return Fail(st.error());
  st->Bind(1, incident_id);
  std::vector<std::string> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    out.push_back(st->Text(0));
  }
  return out;
}

}  // namespace tocsin::store
