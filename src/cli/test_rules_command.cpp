#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "tocsin/rules/rule_test_runner.h"

namespace tocsin::cli {

void AddTestCommand(CLI::App& parent, int& exit_code) {
  auto* test = parent.add_subcommand("test", "Unit-test rules offline");
  test->require_subcommand(1);
  auto* cmd = test->add_subcommand(
      "rules",
      "Run rule unit tests: given query values over time, check the alerts (docs/rules.md)");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *files, "Rule test files (YAML)")->required();
  cmd->callback([&exit_code, files] {
    // Injected source failures would log a warning per evaluation; the report says what failed.
    spdlog::set_level(spdlog::level::err);
    int code = kExitOk;
    std::size_t tests = 0, failed = 0;
    for (const auto& f : *files) {
      if (!std::filesystem::is_regular_file(f)) {
        fmt::print(stderr, "{}: cannot read file\n", f);
        code = kExitUsage;
        continue;
      }
      config::Diagnostics diags;
      auto report = rules::RunRuleTestFile(f, diags);
      for (const auto& d : diags.items()) fmt::print(stderr, "{}\n", d.ToString());
      if (report.invalid) {
        fmt::print(stderr, "{}: FAILED to load\n", f);
        if (code == kExitOk) code = kExitFailure;
        continue;
      }
      for (const auto& m : report.failures) fmt::print(stderr, "  FAILED {}\n", m);
      tests += report.tests;
      failed += report.failed;
      fmt::print("{}: {} test(s), {} failed\n", f, report.tests, report.failed);
      if (report.failed > 0 && code == kExitOk) code = kExitFailure;
    }
    fmt::print("{}: {} test(s), {} failed\n", code == kExitOk ? "SUCCESS" : "FAILED", tests,
               failed);
    exit_code = code;
  });
}

}  // namespace tocsin::cli
