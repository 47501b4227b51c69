// tocsin report oncall: on-call health from the incident store (no daemon needed; safe while
// it runs, SQLite readers never block the writer). Formulas: docs/reports.md.
#include <fmt/format.h>

#include <filesystem>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/report/oncall_report.h"
#include "tocsin/report/records.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::cli {
namespace {

struct ReportOptions {
  std::string config;    // FindConfigPath
  std::string database;  // instead of the config's store.path
  std::string roster;    // instead of the config's roster_file
  std::string from;
  std::string to;
  std::string team;
  std::string output = "table";
  std::string time_zone = "UTC";
  bool no_roster = false;
};

int RunOncall(const ReportOptions& o) {
  auto from = oncall::ParseLocalTime(o.from, o.time_zone);
  auto to = oncall::ParseLocalTime(o.to, o.time_zone);
  if (!from || !to) {
    fmt::print(stderr, "--{}: \"{}\" is not a date (2026-11-01, 2026-11-01T08:00 or RFC 3339)\n",
               from ? "to" : "from", from ? o.to : o.from);
    return kExitUsage;
  }
  if (*to <= *from) {
    fmt::print(stderr, "--to ({}) must be after --from ({})\n", o.to, o.from);
    return kExitUsage;
  }
  std::string db_path = o.database;
  std::string roster_path = o.roster;
  if (db_path.empty() || (roster_path.empty() && !o.no_roster)) {
    auto found = FindConfigPath(o.config);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {} (or pass --database and --roster)\n", found.error);
      return kExitUsage;
    }
    auto loaded = app::LoadRuntimeConfig(found.path, {});
    if (!loaded.config) {
      fmt::print(stderr, "{}", loaded.diagnostics.ToString());
      fmt::print(stderr, "(pass --database and --roster, or -c with a valid configuration)\n");
      return kExitUsage;
    }
    if (db_path.empty()) db_path = loaded.config->store.path;
    if (roster_path.empty() && !o.no_roster) roster_path = loaded.config->main.roster_file;
  }
  if (!std::filesystem::exists(db_path)) {
    fmt::print(stderr, "no database at {} (check store.path, or pass --database FILE)\n", db_path);
    return kExitUsage;
  }
  std::optional<oncall::Schedule> schedule;
  if (!roster_path.empty()) {
    config::Diagnostics diags;
    auto roster = oncall::LoadRoster(roster_path, diags);
    if (!roster) {
      fmt::print(stderr, "{}", diags.ToString());
      return kExitUsage;
    }
    schedule.emplace(std::move(*roster));
  }
  auto db = OpenIncidentDatabase(db_path);
  if (!db) return kExitUsage;
  store::SqliteIncidentStore incidents(*db);
  auto records = report::LoadIncidentRecords(incidents, *from, *to);
  if (!records) {
    fmt::print(stderr, "reading incidents from {}: {}\n", db_path, records.error().message());
    return kExitUsage;
  }
  report::OncallOptions options;
  options.from = *from;
  options.to = *to;
  options.team = o.team;
  options.time_zone = o.time_zone;
  auto rep = report::BuildOncallReport(*records, schedule ? &*schedule : nullptr, options);
  if (o.output == "json") {
    fmt::print("{}", report::RenderOncallJson(rep));
  } else if (o.output == "csv") {
    fmt::print("{}", report::RenderOncallCsv(rep));
  } else if (o.output == "markdown") {
    fmt::print("{}", report::RenderOncallMarkdown(rep));
  } else {
    fmt::print("{}", report::RenderOncallTable(rep));
  }
  return kExitOk;
}

}  // namespace

std::unique_ptr<store::Database> OpenIncidentDatabase(const std::string& db_path) {
  auto db = store::Database::Open(db_path);
  if (!db) {
    fmt::print(stderr, "cannot open {}: {}\n", db_path, db.error().message());
    return nullptr;
  }
  if ((*db)->SchemaVersion("incident") == 0) {
    fmt::print(stderr, "{} holds no incidents (not a tocsin database?)\n", db_path);
    return nullptr;
  }
  return std::move(*db);
}

void AddReportCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("report", "Reports from what tocsin recorded");
  cmd->require_subcommand(1);
  auto o = std::make_shared<ReportOptions>();
  auto* oncall = cmd->add_subcommand(
      "oncall", "On-call health: MTTA/MTTR, pages, night wake-ups, noise, escalations, load");
  oncall->add_option("--from", o->from, "First day (local date in --time-zone, or RFC 3339)")
      ->required();
  oncall->add_option("--to", o->to, "End, exclusive (local date in --time-zone, or RFC 3339)")
      ->required();
  oncall->add_option("--team", o->team, "Only incidents of this team (domain or paged members)");
  oncall->add_option("-o,--output", o->output, "table, csv, json or markdown")
      ->check(CLI::IsMember({"table", "csv", "json", "markdown"}))
      ->default_val("table");
  oncall->add_option("--time-zone", o->time_zone, "Zone for dates and weeks (IANA)")
      ->default_val("UTC")
      ->check([](const std::string& tz) {
        return oncall::IsValidTimeZone(tz) ? std::string()
                                           : "not an IANA time zone: " + tz + " (e.g. Europe/Kyiv)";
      });
  AddConfigOption(*oncall, o->config, " (store.path, roster_file)");
  oncall->add_option("--database", o->database, "Database file instead of the config's store.path");
  oncall->add_option("--roster", o->roster, "Roster file instead of the config's roster_file");
  oncall->add_flag("--no-roster", o->no_roster,
                   "Ignore the roster (no shifts, everyone in --time-zone)");
  oncall->callback([&exit_code, o] { exit_code = RunOncall(*o); });
  AddReportSlaCommand(*cmd, exit_code);
  AddReportDrillsCommand(*cmd, exit_code);
}

}  // namespace tocsin::cli
