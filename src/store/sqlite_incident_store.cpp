#include "tocsin/store/sqlite_incident_store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tocsin/incident/incident_json.h"

namespace tocsin::store {

using incident::Incident;
using incident::IncidentChange;
using incident::PageIntent;
using incident::TimelineEvent;

const std::vector<Migration>& SqliteIncidentStore::Migrations() {
  static const std::vector<Migration> kMigrations = {
      {"incident", 1, R"sql(
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
CREATE TRIGGER incident_timeline_append_only_update BEFORE UPDATE ON incident_timeline
BEGIN SELECT RAISE(ABORT, 'incident_timeline is append-only'); END;
CREATE TRIGGER incident_timeline_append_only_delete BEFORE DELETE ON incident_timeline
BEGIN SELECT RAISE(ABORT, 'incident_timeline is append-only'); END;
CREATE TABLE incident_pages (
  idempotency_key TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL,
  request TEXT NOT NULL,
  handed_off INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incident_pages_pending ON incident_pages (handed_off);
)sql"},
  };
  return kMigrations;
}

Result<void> SqliteIncidentStore::Migrate() { return db_.Migrate(Migrations()); }

Result<std::int64_t> SqliteIncidentStore::NextIncidentNumber() {
  std::int64_t number = 0;
  auto r = db_.Transaction([&](Database& db) -> Result<void> {
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

Result<void> SqliteIncidentStore::Commit(const IncidentChange& change) {
  const Incident& inc = change.incident;
  std::string body = incident::IncidentToJson(inc).dump();
  return db_.Transaction([&](Database& db) -> Result<void> {
    auto up = db.Prepare(
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
      auto ins = db.Prepare(
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
      auto ins = db.Prepare(
          "INSERT OR IGNORE INTO incident_pages (idempotency_key, incident_id, request, "
          "handed_off) VALUES (?, ?, ?, 0)");
      if (!ins) return Fail(ins.error());
      ins->Bind(1, p.idempotency_key)
          .Bind(2, p.incident_id)
          .Bind(3, incident::PageRequestToJson(p).dump());
      if (auto r = ins->Run(); !r) return r;
    }
    return {};
  });
}

namespace {

Result<Incident> ParseBody(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return Fail(Error::Io("incident row holds malformed JSON"));
  return incident::IncidentFromJson(j);
}

}  // namespace

Result<std::optional<Incident>> SqliteIncidentStore::Get(const std::string& id) {
  std::lock_guard lock(db_.mutex());
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
  std::lock_guard lock(db_.mutex());
  std::string sql = "SELECT body FROM incidents";
  if (filter.open_only) {
    sql += " WHERE state != 'resolved'";
  } else if (filter.state) {
    sql += " WHERE state = ?";
  }
  sql += " ORDER BY number DESC LIMIT ?";
  auto st = db_.Prepare(sql);
  if (!st) return Fail(st.error());
  int i = 1;
  if (!filter.open_only && filter.state) st->Bind(i++, incident::IncidentStateName(*filter.state));
  st->Bind(i, static_cast<std::int64_t>(filter.limit));
  std::vector<Incident> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    auto inc = ParseBody(st->Text(0));
    if (!inc) return Fail(inc.error());
    out.push_back(std::move(*inc));
  }
  return out;
}

Result<std::vector<TimelineEvent>> SqliteIncidentStore::Timeline(const std::string& id) {
  std::lock_guard lock(db_.mutex());
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
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("SELECT request FROM incident_pages WHERE handed_off = 0 ORDER BY rowid");
  if (!st) return Fail(st.error());
  std::vector<PageIntent> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    auto j = nlohmann::json::parse(st->Text(0), nullptr, false);
    if (j.is_discarded()) return Fail(Error::Io("page intent holds malformed JSON"));
    auto req = incident::PageRequestFromJson(j);
    if (!req) return Fail(req.error());
    out.push_back({std::move(*req), false});
  }
  return out;
}

Result<void> SqliteIncidentStore::MarkHandedOff(const std::string& idempotency_key) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("UPDATE incident_pages SET handed_off = 1 WHERE idempotency_key = ?");
  if (!st) return Fail(st.error());
  st->Bind(1, idempotency_key);
  return st->Run();
}

Result<std::vector<std::string>> SqliteIncidentStore::PageKeys(const std::string& incident_id) {
  std::lock_guard lock(db_.mutex());
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
