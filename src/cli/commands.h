#pragma once

#include <CLI/CLI.hpp>

namespace tocsin::cli {

// Exit codes, as promtool and amtool use them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;

// Each subcommand lives in its own file and registers itself here; its callback stores the
// process exit code in `exit_code`.
void AddServeCommand(CLI::App& app, int& exit_code);
void AddCheckCommand(CLI::App& app, int& exit_code);
void AddVersionCommand(CLI::App& app, int& exit_code);
void AddApiCommand(CLI::App& app, int& exit_code);
void AddRosterCommand(CLI::App& app, int& exit_code);
void AddIncidentsCommand(CLI::App& app, int& exit_code);
void AddBackupCommand(CLI::App& app, int& exit_code);
void AddTestCommand(CLI::App& app, int& exit_code);      // tocsin test rules FILE...
void AddBacktestCommand(CLI::App& app, int& exit_code);  // tocsin backtest --rules DIR ...
void AddSilenceCommand(CLI::App& app, int& exit_code);
void AddReportCommand(CLI::App& app, int& exit_code);  // tocsin report oncall ...
// tocsin report sla ..., added under `report` by AddReportCommand.
void AddReportSlaCommand(CLI::App& report, int& exit_code);

}  // namespace tocsin::cli
