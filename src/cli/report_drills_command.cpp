// tocsin report drills: every drill in a range with what it measured (time to acknowledge per
// step, time to the right runbook), read from the incident store like `report oncall`.
#include <fmt/format.h>

#include <filesystem>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/report/drill_report.h"
#include "tocsin/report/records.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::cli {
namespace {

struct DrillsReportOptions {
  std::string config;    // FindConfigPath
  std::string database;  // instead of the config's store.path
  std::string from;
  std::string to;
  std::string team;
  std::string output = "table";
};

int RunDrillsReport(const DrillsReportOptions& o) {
  auto from = oncall::ParseLocalTime(o.from, "UTC");
  auto to = oncall::ParseLocalTime(o.to, "UTC");
  if (!from || !to || *to <= *from) {
    fmt::print(stderr,
               "--from and --to must be dates (2026-11-01 or RFC 3339), --to after --from\n");
    return kExitUsage;
  }
  std::string db_path = o.database;
  if (db_path.empty()) {
    auto found = FindConfigPath(o.config);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {} (or pass --database)\n", found.error);
      return kExitUsage;
    }
    auto loaded = app::LoadRuntimeConfig(found.path, {});
    if (!loaded.config) {
      fmt::print(stderr, "{}(pass --database, or -c with a valid configuration)\n",
                 loaded.diagnostics.ToString());
      return kExitUsage;
    }
    db_path = loaded.config->store.path;
  }
  if (!std::filesystem::exists(db_path)) {
    fmt::print(stderr, "no database at {} (check store.path, or pass --database FILE)\n", db_path);
    return kExitUsage;
  }
  auto db = store::Database::Open(db_path);
  if (!db || (*db)->SchemaVersion("incident") == 0) {
    fmt::print(stderr, "{} holds no incidents (not a tocsin database?)\n", db_path);
    return kExitUsage;
  }
  store::SqliteIncidentStore incidents(**db);
  auto records = report::LoadIncidentRecords(incidents, *from, *to);
  if (!records) {
    fmt::print(stderr, "reading incidents from {}: {}\n", db_path, records.error().message());
    return kExitUsage;
  }
  auto drills = report::BuildDrillReport(*records, o.team);
  fmt::print("{}", o.output == "json" ? report::RenderDrillJson(drills)
                                      : report::RenderDrillTable(drills));
  return kExitOk;
}

}  // namespace

void AddReportDrillsCommand(CLI::App& report, int& exit_code) {
  auto o = std::make_shared<DrillsReportOptions>();
  auto* cmd = report.add_subcommand(
      "drills", "Drills: time to acknowledge per step and to the right runbook (never in KPIs)");
  cmd->add_option("--from", o->from, "First day (UTC date or RFC 3339)")->required();
  cmd->add_option("--to", o->to, "End, exclusive (UTC date or RFC 3339)")->required();
  cmd->add_option("--team", o->team, "Only drills of this team (tocsin drill start --team)");
  cmd->add_option("-o,--output", o->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->default_val("table");
  AddConfigOption(*cmd, o->config, " (store.path)");
  cmd->add_option("--database", o->database, "Database file instead of the config's store.path");
  cmd->callback([&exit_code, o] { exit_code = RunDrillsReport(*o); });
}

}  // namespace tocsin::cli
