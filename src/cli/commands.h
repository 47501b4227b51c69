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
void AddSilenceCommand(CLI::App& app, int& exit_code);

}  // namespace tocsin::cli
