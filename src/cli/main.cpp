// tocsin: SLO alerting and on-call paging daemon. This file only parses the command line; the
// subcommands live beside it and the daemon itself in src/app.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "tocsin/common/log.h"

int main(int argc, char** argv) {
  // tocsin's own line format from the first line on: spdlog's default would write another
  // format into the same stream until `serve` applies log.format.
  tocsin::log::Setup(tocsin::log::Format::kText, spdlog::level::info);
  CLI::App app{"tocsin: SLO alerting and on-call paging"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  int exit_code = tocsin::cli::kExitOk;
  tocsin::cli::AddServeCommand(app, exit_code);
  tocsin::cli::AddCheckCommand(app, exit_code);
  tocsin::cli::AddVersionCommand(app, exit_code);
  tocsin::cli::AddApiCommand(app, exit_code);
  tocsin::cli::AddRosterCommand(app, exit_code);
  tocsin::cli::AddIncidentsCommand(app, exit_code);
  tocsin::cli::AddBackupCommand(app, exit_code);
  tocsin::cli::AddStoreCommand(app, exit_code);
  tocsin::cli::AddTestCommand(app, exit_code);
  tocsin::cli::AddBacktestCommand(app, exit_code);
  tocsin::cli::AddSilenceCommand(app, exit_code);
  tocsin::cli::AddReportCommand(app, exit_code);
  tocsin::cli::AddRulesCommand(app, exit_code);
  tocsin::cli::AddConfigCommand(app, exit_code);
  tocsin::cli::AddNotifyCommand(app, exit_code);
  tocsin::cli::AddDrillCommand(app, exit_code);
  tocsin::cli::AddDocsCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // CLI11 returns 0 for --help; every real usage error is exit code 2, as in promtool.
    return code == 0 ? tocsin::cli::kExitOk : tocsin::cli::kExitUsage;
  }
  return exit_code;
}
