#include "tocsin/store/sqlite_silence_store.h"

namespace tocsin::dispatch {

std::vector<store::Migration> SqliteSilenceStore::Migrations() {
  return {{"dispatch", 1,
           "CREATE TABLE silences ("
           "  id TEXT PRIMARY KEY,"
           "  matchers TEXT NOT NULL,"
           "  starts_at_ms INTEGER NOT NULL,"
           "  ends_at_ms INTEGER NOT NULL,"
           "  updated_at_ms INTEGER NOT NULL,"
           "  created_by TEXT NOT NULL,"
           "  comment TEXT NOT NULL)"}};
}

void SqliteSilenceStore::Write(std::vector<Silence> silences, Done done) {
  store::StoreThread::Write write = [silences = std::move(silences)](store::Database& db) {
    for (const auto& s : silences) {
      if (auto r = PutIn(db, s); !r) return r;
    }
    return Result<void>{};
  };
  if (writer_ != nullptr) return writer_->Submit(std::move(write), std::move(done));
  done(db_.Transaction(write));
}

Result<void> SqliteSilenceStore::PutIn(store::Database& db, const Silence& s) {
  auto stmt = db.PrepareCached(
      "INSERT INTO silences(id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, "
      "comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET "
      "matchers = excluded.matchers, starts_at_ms = excluded.starts_at_ms, "
      "ends_at_ms = excluded.ends_at_ms, updated_at_ms = excluded.updated_at_ms, "
      "created_by = excluded.created_by, comment = excluded.comment");
  if (!stmt) return Fail(stmt.error());
  std::string matchers = MatchersToString(s.matchers);
  stmt->Bind(1, s.id)
      .Bind(2, matchers)
      .Bind(3, ToUnixMillis(s.starts_at))
      .Bind(4, ToUnixMillis(s.ends_at))
      .Bind(5, ToUnixMillis(s.updated_at))
      .Bind(6, s.created_by)
      .Bind(7, s.comment);
  return stmt->Run();
}

Result<std::vector<Silence>> SqliteSilenceStore::LoadAll() {
  auto stmt = db_.Prepare(
      "SELECT id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment FROM "
      "silences ORDER BY starts_at_ms");
  if (!stmt) return Fail(stmt.error());
  std::vector<Silence> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    Silence s;
    s.id = stmt->Text(0);
    auto matchers = ParseMatchers(stmt->Text(1));
    if (!matchers) {
      return Fail(Error::Permanent(
          "silence " + s.id +
          " in the database has unreadable matchers: " + matchers.error().message()));
    }
    s.matchers = std::move(*matchers);
    s.starts_at = FromUnixMillis(stmt->Int(2));
    s.ends_at = FromUnixMillis(stmt->Int(3));
    s.updated_at = FromUnixMillis(stmt->Int(4));
    s.created_by = stmt->Text(5);
    s.comment = stmt->Text(6);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tocsin::dispatch
