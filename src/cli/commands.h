#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "config_path.h"
#include "exit_codes.h"
#include "table.h"

namespace tocsin::store {
class Database;
}  // namespace tocsin::store

namespace tocsin::cli {

// Each subcommand lives in its own file and registers itself here; its callback stores the
// process exit code in `exit_code`.
void AddServeCommand(CLI::App& app, int& exit_code);
void AddCheckCommand(CLI::App& app, int& exit_code);
void AddVersionCommand(CLI::App& app, int& exit_code);  // and --version
std::string VersionText();
void AddApiCommand(CLI::App& app, int& exit_code);
void AddRosterCommand(CLI::App& app, int& exit_code);
void AddIncidentsCommand(CLI::App& app, int& exit_code);
// tocsin incidents postmortem ID: the draft, from the store (postmortem_command.cpp).
struct PostmortemDraftOptions {
  std::string config;    // FindConfigPath: store.path, rules and sources for the impact
  std::string database;  // instead of the config's store.path
  std::string id;
  std::string out;  // file; empty: stdout
};
int RunPostmortemDraft(const PostmortemDraftOptions& options);
// The incident database at `path` for reading, or null with the reason printed (report_command).
std::unique_ptr<store::Database> OpenIncidentDatabase(const std::string& path);
void AddBackupCommand(CLI::App& app, int& exit_code);
void AddStoreCommand(CLI::App& app, int& exit_code);     // tocsin store migrate
void AddTestCommand(CLI::App& app, int& exit_code);      // tocsin test rules FILE...
void AddBacktestCommand(CLI::App& app, int& exit_code);  // tocsin backtest --rules DIR ...
void AddSilenceCommand(CLI::App& app, int& exit_code);
void AddRulesCommand(CLI::App& app, int& exit_code);            // tocsin rules import|export
void AddConfigCommand(CLI::App& app, int& exit_code);           // tocsin config import
void AddReportCommand(CLI::App& app, int& exit_code);           // tocsin report oncall ...
void AddDrillCommand(CLI::App& app, int& exit_code);            // tocsin drill start|stop
void AddReportDrillsCommand(CLI::App& report, int& exit_code);  // tocsin report drills
// tocsin report sla ..., added under `report` by AddReportCommand.
void AddReportSlaCommand(CLI::App& report, int& exit_code);
void AddNotifyCommand(CLI::App& app, int& exit_code);  // tocsin notify test ...
// tocsin completion bash|zsh, tocsin man: generated from `app`'s tree, so registered last.
void AddDocsCommands(CLI::App& app, int& exit_code);

}  // namespace tocsin::cli
