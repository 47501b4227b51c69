#pragma once

#include <CLI/CLI.hpp>

#include "config_path.h"
#include "exit_codes.h"
#include "table.h"

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
void AddBackupCommand(CLI::App& app, int& exit_code);
void AddTestCommand(CLI::App& app, int& exit_code);      // tocsin test rules FILE...
void AddBacktestCommand(CLI::App& app, int& exit_code);  // tocsin backtest --rules DIR ...
void AddSilenceCommand(CLI::App& app, int& exit_code);
void AddReportCommand(CLI::App& app, int& exit_code);  // tocsin report oncall ...
void AddDrillCommand(CLI::App& app, int& exit_code);   // tocsin drill start|stop
void AddReportDrillsCommand(CLI::App& report, int& exit_code);  // tocsin report drills
// tocsin report sla ..., added under `report` by AddReportCommand.
void AddReportSlaCommand(CLI::App& report, int& exit_code);
// tocsin completion bash|zsh, tocsin man: generated from `app`'s tree, so registered last.
void AddDocsCommands(CLI::App& app, int& exit_code);

}  // namespace tocsin::cli
