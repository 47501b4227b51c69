#include "tocsin/store/sqlite_override_store.h"

#include <memory>

namespace tocsin::store {

using oncall::Override;
using oncall::RecordedOverride;

std::vector<Migration> SqliteOverrideStore::Migrations() {
  return {{"oncall", 1,
           "CREATE TABLE oncall_overrides ("
           "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
           "  kind TEXT NOT NULL,"  // cover | swap
           "  rotation TEXT NOT NULL,"
           "  from_ms INTEGER NOT NULL,"
           "  to_ms INTEGER NOT NULL,"
           "  person TEXT NOT NULL,"
           "  replaces TEXT NOT NULL DEFAULT '',"
           "  with_person TEXT NOT NULL DEFAULT '',"
           "  reason TEXT NOT NULL DEFAULT '',"
           "  created_by TEXT NOT NULL,"
           "  created_at_ms INTEGER NOT NULL)"}};
}

void SqliteOverrideStore::Add(RecordedOverride entry, Done done) {
  // Filled on the writing thread; read by the completion, which runs after it.
  auto stored = std::make_shared<RecordedOverride>(std::move(entry));
  StoreThread::Write write = [stored](Database& db) -> Result<void> {
    auto st = db.Prepare(
        "INSERT INTO oncall_overrides (kind, rotation, from_ms, to_ms, person, replaces, "
        "with_person, reason, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id");
    if (!st) return Fail(st.error());
    const Override& o = stored->override;
    st->Bind(1, oncall::OverrideKindName(o.kind))
        .Bind(2, o.rotation)
        .Bind(3, ToUnixMillis(o.from))
        .Bind(4, ToUnixMillis(o.to))
        .Bind(5, o.person)
        .Bind(6, o.replaces)
        .Bind(7, o.with)
        .Bind(8, o.reason)
        .Bind(9, stored->created_by)
        .Bind(10, ToUnixMillis(stored->created_at));
    // RETURNING, not LastInsertId: PostgreSQL has no last insert id (it would be -1).
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) return Fail(Error::Io("oncall_overrides: the insert returned no id"));
    stored->id = st->Int(0);
    return {};
  };
  auto finish = [stored, done = std::move(done)](Result<void> r) {
    if (!r) return done(Fail(r.error()));
    done(*stored);
  };
  if (writer_ != nullptr) return writer_->Submit(std::move(write), std::move(finish));
  finish(db_.Transaction(write));
}

Result<std::vector<RecordedOverride>> SqliteOverrideStore::LoadAll() {
  auto st = db_.Prepare(
      "SELECT id, kind, rotation, from_ms, to_ms, person, replaces, with_person, reason, "
      "created_by, created_at_ms FROM oncall_overrides ORDER BY id");
  if (!st) return Fail(st.error());
  std::vector<RecordedOverride> out;
  while (true) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    RecordedOverride e;
    e.id = st->Int(0);
    std::string kind = st->Text(1);
    if (kind != "cover" && kind != "swap") {
      return Fail(Error::Permanent("on-call override " + std::to_string(e.id) +
                                   " in the database has an unknown kind \"" + kind + "\""));
    }
    e.override.kind = kind == "swap" ? Override::Kind::kSwap : Override::Kind::kCover;
    e.override.rotation = st->Text(2);
    e.override.from = FromUnixMillis(st->Int(3));
    e.override.to = FromUnixMillis(st->Int(4));
    e.override.person = st->Text(5);
    e.override.replaces = st->Text(6);
    e.override.with = st->Text(7);
    e.override.reason = st->Text(8);
    e.created_by = st->Text(9);
    e.created_at = FromUnixMillis(st->Int(10));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace tocsin::store
