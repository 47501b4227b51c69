#include "tocsin/store/store_copy.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tocsin::store {

namespace {

Result<std::vector<std::string>> Strings(Database& db, const std::string& sql,
                                         const std::string& arg = {}) {
  auto st = db.Prepare(sql);
  if (!st) return Fail(st.error());
  if (!arg.empty()) st->Bind(1, std::string_view(arg));
  std::vector<std::string> out;
  for (;;) {
    auto row = st->Step();
    if (!row) return Fail(row.error());
    if (!*row) return out;
    out.push_back(st->Text(0));
  }
}

Result<std::vector<std::string>> Tables(Database& db) {
  if (db.dialect() == Dialect::kSqlite) {
    return Strings(db,
                   "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                   "'sqlite_%' ORDER BY name");
  }
  return Strings(db,
                 "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                 "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name");
}

Result<std::vector<std::string>> Columns(Database& db, const std::string& table) {
  if (db.dialect() == Dialect::kSqlite) {
    return Strings(db, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table);
  }
  return Strings(db,
                 "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                 "current_schema() AND table_name = ? ORDER BY ordinal_position",
                 table);
}

Result<std::int64_t> CopyTable(Database& from, Database& to, const std::string& table,
                               const std::vector<std::string>& columns) {
  std::string list;
  std::string marks;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    list += (i == 0 ? "" : ", ") + columns[i];
    marks += (i == 0 ? "?" : ", ?");
  }
  // In the source's insertion order where it has one (SQLite's rowid; the PostgreSQL side
  // keeps it as a column of the tables whose order matters), so identities come out alike.
  std::string order = from.dialect() == Dialect::kSqlite ? " ORDER BY rowid" : "";
  auto sel = from.Prepare(fmt::format("SELECT {} FROM {}{}", list, table, order));
  if (!sel) return Fail(sel.error());
  std::int64_t rows = 0;
  for (;;) {
    auto row = sel->Step();
    if (!row) return Fail(row.error());
    if (!*row) return rows;
    auto ins = to.PrepareCached(fmt::format("INSERT INTO {} ({}) VALUES ({})", table, list, marks));
    if (!ins) return Fail(ins.error());
    for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
      switch (sel->Type(c)) {
        case Statement::ColumnType::kNull:
          ins->BindNull(c + 1);
          break;
        case Statement::ColumnType::kInteger:
          ins->Bind(c + 1, sel->Int(c));
          break;
        case Statement::ColumnType::kReal:
          ins->Bind(c + 1, sel->Double(c));
          break;
        case Statement::ColumnType::kText:
          ins->Bind(c + 1, std::string_view(sel->Text(c)));
          break;
      }
    }
    if (auto r = ins->Run(); !r) {
      return Fail(Error(r.error().kind(), fmt::format("copying table {} row {}: {}", table,
                                                      rows + 1, r.error().message())));
    }
    ++rows;
  }
}

// Identity columns continue after the copied ids, as AUTOINCREMENT would.
Result<void> AdvanceIdentities(Database& to) {
  if (to.dialect() != Dialect::kPostgres) return {};
  std::vector<std::pair<std::string, std::string>> identities;
  {
    auto st = to.Prepare(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND is_identity = 'YES'");
    if (!st) return Fail(st.error());
    for (;;) {
      auto row = st->Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      identities.emplace_back(st->Text(0), st->Text(1));
    }
  }
  for (const auto& [table, column] : identities) {
    if (auto r = to.Exec(fmt::format(
            "SELECT setval(pg_get_serial_sequence('{0}', '{1}'), COALESCE(MAX({1}), 0) + 1, "
            "false) FROM {0}",
            table, column));
        !r) {
      return r;
    }
  }
  return {};
}

constexpr const char* kHaTablePrefix = "tocsin_ha_";

}  // namespace

Result<std::vector<CopiedTable>> CopyStore(Database& from, Database& to,
                                           const std::vector<Migration>& migrations) {
  auto recorded = Strings(to, "SELECT module FROM schema_migrations");
  if (!recorded) return Fail(recorded.error());
  if (!recorded->empty()) {
    return Fail(Error::Invalid(fmt::format(
        "{} already holds a tocsin store ({} schema version(s) recorded): migrate into an empty "
        "database, or drop its tables first",
        to.path(), recorded->size())));
  }
  // The source is only read: its schema must already be this tocsin's (a newer one's has
  // tables and columns this one would not copy; an older one's would need its migrations,
  // which are writes to it).
  std::map<std::string, std::vector<const Migration*>> by_module;
  for (const auto& m : migrations) by_module[m.module].push_back(&m);
  for (auto& [module, list] : by_module) {
    std::sort(list.begin(), list.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });
    const int have = from.SchemaVersion(module);
    const int known = list.back()->version;
    if (have > known) {
      return Fail(Error::Invalid(fmt::format(
          "{} has schema version {} for {}, newer than this tocsin knows ({}): run store "
          "migrate with the tocsin that wrote it",
          from.path(), have, module, known)));
    }
    if (have < known) {
      return Fail(Error::Invalid(fmt::format(
          "{} has schema version {} for {}, older than this tocsin's ({}), and store migrate "
          "does not write to its source: start this tocsin on it once (it migrates its store "
          "on start), stop it, and run store migrate again",
          from.path(), have, module, known)));
    }
  }
  auto source_tables = Tables(from);
  if (!source_tables) return Fail(source_tables.error());
  // The high-availability lease and instance list (tocsin_ha_*, PostgreSQL only) describe the
  // cluster running on the source, not its data: a target gets its own when its first
  // instance starts, so they are not copied (copying the lease would hand the target a holder
  // that does not run there).
  std::erase_if(*source_tables,
                [](const std::string& t) { return t.rfind(kHaTablePrefix, 0) == 0; });
  std::vector<CopiedTable> out;
  // The target's migrations, the copy and the identities in one transaction (DDL is
  // transactional on both backends): a failure leaves the target as it was, and running the
  // command again is not refused as "already holds a tocsin store".
  const Dialect dialect = to.dialect();
  auto copy = to.Transaction([&](Database& db) -> Result<void> {
    for (const auto& [module, list] : by_module) {
      for (const Migration* m : list) {
        if (auto e = db.Exec(m->SqlFor(dialect)); !e) {
          return Fail(Error(e.error().kind(), fmt::format("migration {} v{} failed: {}", module,
                                                          m->version, e.error().message())));
        }
        auto st = db.Prepare("INSERT INTO schema_migrations(module, version) VALUES (?, ?)");
        if (!st) return Fail(st.error());
        st->Bind(1, std::string_view(module)).Bind(2, static_cast<std::int64_t>(m->version));
        if (auto r = st->Run(); !r) return r;
      }
    }
    auto target_tables = Tables(db);
    if (!target_tables) return Fail(target_tables.error());
    const std::set<std::string> known(target_tables->begin(), target_tables->end());
    for (const auto& t : *source_tables) {
      if (known.count(t) == 0) {
        return Fail(Error::Invalid(fmt::format(
            "{} has a table {} that this tocsin does not know (is it from a newer tocsin?)",
            from.path(), t)));
      }
    }
    // What the migrations just wrote (versions, the incident counter's first row) gives way
    // to the source's own rows.
    for (const auto& table : *source_tables) {
      if (auto r = db.Exec("DELETE FROM " + table); !r) return r;
    }
    for (const auto& table : *source_tables) {
      auto columns = Columns(from, table);
      if (!columns) return Fail(columns.error());
      auto rows = CopyTable(from, db, table, *columns);
      if (!rows) return Fail(rows.error());
      out.push_back({table, *rows});
    }
    return AdvanceIdentities(db);
  });
  if (!copy) return Fail(copy.error());
  return out;
}

}  // namespace tocsin::store
