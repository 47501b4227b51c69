#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/runtime_config.h"

namespace tocsin::cli {

void AddCheckCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand(
      "check", "Validate the configuration and everything it references (rules, roster, runbooks)");
  auto file = std::make_shared<std::string>();
  AddConfigOption(*cmd, *file, "");
  cmd->callback([&exit_code, file] {
    auto found = FindConfigPath(*file);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {}\n", found.error);
      exit_code = kExitUsage;
      return;
    }
    const std::string& path = found.path;
    auto loaded = app::LoadRuntimeConfig(path, {});
    for (const auto& d : loaded.diagnostics.items()) fmt::print(stderr, "{}\n", d.ToString());
    if (loaded.io_error) {
      exit_code = kExitUsage;
      return;
    }
    if (!loaded.config) {
      fmt::print(stderr, "{}: {} error(s), {} warning(s)\n", path, loaded.diagnostics.error_count(),
                 loaded.diagnostics.warning_count());
      exit_code = kExitFailure;
      return;
    }
    if (!loaded.roster_findings.empty()) {
      // The daemon runs with these (a warning there), but a roster must satisfy the rules.
      fmt::print(stderr, "{}: {} roster finding(s) in the next {} days\n", path,
                 loaded.roster_findings.size(), app::kRosterCheckDays);
      exit_code = kExitFailure;
      return;
    }
    fmt::print("{}: ok ({} warning(s))\n", path, loaded.diagnostics.warning_count());
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
