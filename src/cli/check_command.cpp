#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/json.h"
#include "tocsin/report/drill_scenarios.h"

namespace tocsin::cli {

namespace {

// `check -o json`: the same findings as the text, for CI and editors. Exit codes do not change.
nlohmann::json CheckJson(const std::string& path, const app::RuntimeLoadResult& loaded, bool ok) {
  nlohmann::json diagnostics = nlohmann::json::array();
  for (const auto& d : loaded.diagnostics.items()) {
    diagnostics.push_back(
        {{"severity", d.severity == config::Diagnostic::Severity::kError ? "error" : "warning"},
         {"file", d.position.file},
         {"line", d.position.line},
         {"column", d.position.column},
         {"message", d.message}});
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : loaded.roster_findings) {
    findings.push_back({{"rule", f.rule},
                        {"person", f.person},
                        {"from", f.from},
                        {"to", f.to},
                        {"line", f.source.line},
                        {"column", f.source.column},
                        {"message", f.message}});
  }
  return {{"config", path},
          {"ok", ok},
          {"errors", loaded.diagnostics.error_count()},
          {"warnings", loaded.diagnostics.warning_count()},
          {"diagnostics", diagnostics},
          {"roster_findings", findings},
          {"roster_days_checked", app::kRosterCheckDays}};
}

// drills.yaml beside the config (what `tocsin drill start` reads), when there is one: its
// scenarios, and that each names a policy the config has.
void CheckDrills(const std::string& config_path, app::RuntimeLoadResult& loaded) {
  auto drills = std::filesystem::path(config_path).parent_path() / "drills.yaml";
  std::error_code ec;
  if (!loaded.config || !std::filesystem::exists(drills, ec)) return;
  std::vector<std::string> policies;
  for (const auto& [name, policy] : loaded.config->policies.policies) policies.push_back(name);
  if (!loaded.config->policies.Find("default")) policies.push_back("default");
  std::sort(policies.begin(), policies.end());
  (void)report::LoadDrillScenarios(drills.string(), loaded.diagnostics, &policies);
}

}  // namespace

void AddCheckCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand(
      "check", "Validate the configuration and everything it references (rules, roster, runbooks)");
  auto file = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("text");
  AddConfigOption(*cmd, *file, "");
  cmd->add_option("-o,--output", *output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&exit_code, file, output] {
    auto found = FindConfigPath(*file);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {}\n", found.error);
      exit_code = kExitUsage;
      return;
    }
    const std::string& path = found.path;
    auto loaded = app::LoadRuntimeConfig(path, {});
    CheckDrills(path, loaded);
    const bool drills_ok = !loaded.config || !loaded.diagnostics.has_errors();
    if (*output == "json") {
      const bool ok = loaded.config && drills_ok && loaded.roster_findings.empty();
      fmt::print("{}\n", DumpJson(CheckJson(path, loaded, ok), 2));
      exit_code = loaded.io_error ? kExitUsage : ok ? kExitOk : kExitFailure;
      return;
    }
    for (const auto& d : loaded.diagnostics.items()) fmt::print(stderr, "{}\n", d.ToString());
    if (loaded.io_error) {
      exit_code = kExitUsage;
      return;
    }
    if (!loaded.config || !drills_ok) {
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
