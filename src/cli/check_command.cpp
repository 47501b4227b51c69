#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/runtime_config.h"

namespace tocsin::cli {

void AddCheckCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand(
      "check", "Validate the configuration and everything it references (rules, roster, runbooks)");
  auto file = std::make_shared<std::string>();
  cmd->add_option("-c,--config", *file, "Configuration file")
      ->default_val("/etc/tocsin/tocsin.yaml");
  cmd->callback([&exit_code, file] {
    auto loaded = app::LoadRuntimeConfig(*file, {});
    for (const auto& d : loaded.diagnostics.items()) fmt::print(stderr, "{}\n", d.ToString());
    if (loaded.io_error) {
      exit_code = kExitUsage;
      return;
    }
    if (!loaded.config) {
      fmt::print(stderr, "{}: {} error(s), {} warning(s)\n", *file,
                 loaded.diagnostics.error_count(), loaded.diagnostics.warning_count());
      exit_code = kExitFindings;
      return;
    }
    if (!loaded.roster_findings.empty()) {
      // The daemon runs with these (a warning there), but a roster must satisfy the rules.
      fmt::print(stderr, "{}: {} roster fairness/coverage finding(s) in the next {} days\n", *file,
                 loaded.roster_findings.size(), app::kRosterCheckDays);
      exit_code = kExitFindings;
      return;
    }
    fmt::print("{}: ok ({} warning(s))\n", *file, loaded.diagnostics.warning_count());
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
