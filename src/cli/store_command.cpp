// tocsin store migrate --from URL --to URL: moves an installation from one store to another
// (SQLite to PostgreSQL when a second instance joins, or back), every table copied as it is.
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "commands.h"
#include "tocsin/store/sqlite_alert_state_store.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_outbox_store.h"
#include "tocsin/store/sqlite_override_store.h"
#include "tocsin/store/sqlite_responder_request_store.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_copy.h"
#include "tocsin/store/store_url.h"

namespace tocsin::cli {

namespace {

// Every module's migrations: the tables `tocsin serve` creates.
std::vector<store::Migration> AllMigrations() {
  std::vector<store::Migration> all;
  auto add = [&all](const std::vector<store::Migration>& m) {
    all.insert(all.end(), m.begin(), m.end());
  };
  add(store::SqliteIncidentStore::Migrations());
  add(store::SqliteOutboxStore::Migrations());
  add(rules::SqliteAlertStateStore::Migrations());
  add(dispatch::SqliteSilenceStore::Migrations());
  add(store::SqliteResponderRequestStore::Migrations());
  add(store::SqliteOverrideStore::Migrations());
  return all;
}

Result<std::unique_ptr<store::Database>> OpenUrl(const std::string& text, const char* flag) {
  auto url = store::ParseStoreUrl(text);
  if (!url) return Fail(Error::Invalid(fmt::format("{}: {}", flag, url.error().message())));
  url->password = store::StorePasswordFromEnvironment();
  // The source is only read: opening a SQLite file that is not there would create it.
  if (std::string_view(flag) == "--from" && url->dialect == store::Dialect::kSqlite &&
      !std::filesystem::exists(url->sqlite_path)) {
    return Fail(Error::Invalid(
        fmt::format("--from: {} does not exist: name the store to copy", url->ToString())));
  }
  auto db = store::Database::Open(*url);
  if (!db) {
    return Fail(Error(db.error().kind(), fmt::format("{}: {}", flag, db.error().message())));
  }
  return db;
}

}  // namespace

void AddStoreCommand(CLI::App& parent, int& exit_code) {
  auto* store_cmd = parent.add_subcommand("store", "Maintain tocsin's store");
  store_cmd->require_subcommand(1);
  auto* cmd = store_cmd->add_subcommand(
      "migrate",
      "Copy every table of one store into another, empty one (stop the daemon first); "
      "passwords come from $TOCSIN_STORE_PASSWORD or PGPASSWORD, never from the URLs");
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  cmd->add_option("--from", *from, "The store to copy: sqlite:///path or postgresql://...")
      ->required();
  cmd->add_option("--to", *to, "The empty store to fill: postgresql://... or sqlite:///path")
      ->required();
  cmd->callback([&exit_code, from, to] {
    auto fail = [&exit_code](const Error& e) {
      fmt::print(stderr, "tocsin store migrate: {}\n", e.message());
      exit_code = e.kind() == Error::Kind::kInvalid ? kExitUsage : kExitFailure;
    };
    auto source = OpenUrl(*from, "--from");
    if (!source) return fail(source.error());
    auto target = OpenUrl(*to, "--to");
    if (!target) return fail(target.error());
    auto copied = store::CopyStore(**source, **target, AllMigrations());
    if (!copied) {
      // True on every failure: the target's migrations and the copy are one transaction,
      // rolled back, and the source is only read.
      fmt::print(stderr,
                 "tocsin store migrate: {} -> {}: {} (nothing was copied or migrated into {}, "
                 "and {} was only read)\n",
                 (*source)->path(), (*target)->path(), copied.error().message(), (*target)->path(),
                 (*source)->path());
      exit_code = kExitFailure;
      return;
    }
    std::int64_t total = 0;
    for (const auto& t : *copied) {
      fmt::print("{:<32} {:>8} row(s)\n", t.name, t.rows);
      total += t.rows;
    }
    fmt::print("{} -> {}: {} table(s), {} row(s) copied\n", (*source)->path(), (*target)->path(),
               copied->size(), total);
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
