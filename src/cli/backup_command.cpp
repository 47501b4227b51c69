// tocsin backup FILE: online copy of the database with SQLite's backup API. Safe while the
// daemon runs (WAL mode: readers never block the writer). Restore: docs/oncall.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/json.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::cli {

void AddBackupCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("backup", "Online copy of tocsin's database to FILE");
  auto file = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto db_path = std::make_shared<std::string>();
  cmd->add_option("file", *file, "Where to write the copy")->required();
  AddConfigOption(*cmd, *config, " (for store.path)");
  cmd->add_option("--database", *db_path, "Database file instead of the config's store.path");
  auto output = std::make_shared<std::string>("text");
  cmd->add_option("-o,--output", *output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&exit_code, file, config, db_path, output] {
    std::string path = *db_path;
    if (path.empty()) {
      auto found = FindConfigPath(*config);
      if (found.path.empty()) {
        fmt::print(stderr, "tocsin: {} (or pass --database FILE)\n", found.error);
        exit_code = kExitUsage;
        return;
      }
      auto loaded = app::LoadRuntimeConfig(found.path, {});
      if (!loaded.config) {
        fmt::print(stderr, "{}", loaded.diagnostics.ToString());
        exit_code = loaded.io_error ? kExitUsage : kExitFailure;
        return;
      }
      if (loaded.config->store.url.dialect != store::Dialect::kSqlite) {
        fmt::print(stderr,
                   "tocsin backup copies a SQLite store; {} is PostgreSQL: back it up with "
                   "pg_dump (docs/operations.md)\n",
                   loaded.config->store.url.ToString());
        exit_code = kExitUsage;
        return;
      }
      path = loaded.config->store.path;
    }
    auto db = store::Database::Open(path);
    if (!db) {
      fmt::print(stderr, "cannot open {}: {}\n", path, db.error().message());
      exit_code = kExitUsage;
      return;
    }
    if (auto r = (*db)->Backup(*file); !r) {
      fmt::print(stderr, "backup of {} to {} failed: {}\n", path, *file, r.error().message());
      exit_code = kExitUsage;
      return;
    }
    if (*output == "json") {
      fmt::print("{}\n",
                 DumpJson(nlohmann::json{{"database", path},
                                         {"backup", *file},
                                         {"incident_schema", (*db)->SchemaVersion("incident")}},
                          2));
    } else {
      fmt::print("{} -> {}: ok (incident schema v{})\n", path, *file,
                 (*db)->SchemaVersion("incident"));
    }
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
