#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/rules/rule_test_runner.h"

namespace tocsin::cli {

namespace {

std::string Location(const std::string& file, int line) { return fmt::format("{}:{}", file, line); }

// A failed expectation as a person reads it: where the expectation and the rule are written,
// then expected and got side by side on the keys that differ; the keys that agree follow as
// context, and the produced alert's full labels, since the difference may be a label the test
// does not mention.
void PrintFailure(const rules::RuleTestFailure& f) {
  fmt::print("FAILED {}: test \"{}\" at eval_time {}, alert {}\n",
             Location(f.test_file, f.test_line), f.test, FormatDuration(f.eval_time), f.alertname);
  if (!f.rule_file.empty()) {
    fmt::print("  rule {} at {}\n", f.rule, Location(f.rule_file, f.rule_line));
  }
  Table diff({"KEY", "EXPECTED", "GOT"});
  for (const auto& d : f.differences) diff.AddRow({d.key, d.expected, d.got});
  fmt::print("{}", diff.Indented("  "));
  if (!f.same.empty()) {
    std::string same;
    for (const auto& k : f.same) same += (same.empty() ? "" : ", ") + k;
    fmt::print("  same: {}\n", same);
  }
  if (f.got) fmt::print("  got labels: {}\n", f.got->labels.ToString());
}

nlohmann::json AlertJson(const std::optional<rules::RuleTestAlert>& a) {
  if (!a) return nullptr;
  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [k, v] : a->annotations) annotations[k] = v;
  return {{"state", a->state}, {"labels", LabelsToJson(a->labels)}, {"annotations", annotations}};
}

nlohmann::json FailureJson(const rules::RuleTestFailure& f) {
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& d : f.differences) {
    differences.push_back({{"key", d.key}, {"expected", d.expected}, {"got", d.got}});
  }
  return {{"test", f.test},
          {"test_file", f.test_file},
          {"test_line", f.test_line},
          {"eval_time", FormatDuration(f.eval_time)},
          {"alertname", f.alertname},
          {"rule", f.rule},
          {"rule_file", f.rule_file},
          {"rule_line", f.rule_line},
          {"expected", AlertJson(f.expected)},
          {"got", AlertJson(f.got)},
          {"differences", differences},
          {"same", f.same}};
}

}  // namespace

void AddTestCommand(CLI::App& parent, int& exit_code) {
  auto* test = parent.add_subcommand("test", "Unit-test rules offline");
  test->require_subcommand(1);
  auto* cmd = test->add_subcommand(
      "rules",
      "Run rule unit tests: given query values over time, check the alerts (docs/rules.md)");
  auto files = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>("text");
  cmd->add_option("files", *files, "Rule test files (YAML)")->required();
  cmd->add_option("-o,--output", *output, "text or json")
      ->default_val("text")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&exit_code, files, output] {
    // Injected source failures would log a warning per evaluation; the report says what failed.
    spdlog::set_level(spdlog::level::err);
    const bool json = *output == "json";
    int code = kExitOk;
    std::size_t tests = 0, failed = 0;
    nlohmann::json jfiles = nlohmann::json::array();
    for (const auto& f : *files) {
      if (!std::filesystem::is_regular_file(f)) {
        fmt::print(stderr, "{}: cannot read file\n", f);
        if (json) jfiles.push_back({{"file", f}, {"errors", {"cannot read file"}}});
        code = kExitUsage;
        continue;
      }
      config::Diagnostics diags;
      auto report = rules::RunRuleTestFile(f, diags);
      nlohmann::json errors = nlohmann::json::array();
      for (const auto& d : diags.items()) {
        // Warnings go to stderr either way; JSON carries what made the file fail.
        fmt::print(stderr, "{}\n", d.ToString());
        if (d.severity == config::Diagnostic::Severity::kError) errors.push_back(d.ToString());
      }
      if (report.invalid) {
        if (!json) fmt::print(stderr, "{}: FAILED to load\n", f);
        if (json) jfiles.push_back({{"file", f}, {"errors", errors}});
        if (code == kExitOk) code = kExitFailure;
        continue;
      }
      tests += report.tests;
      failed += report.failed;
      if (report.failed > 0 && code == kExitOk) code = kExitFailure;
      if (json) {
        nlohmann::json failures = nlohmann::json::array();
        for (const auto& fail : report.failures) failures.push_back(FailureJson(fail));
        jfiles.push_back({{"file", f},
                          {"tests", report.tests},
                          {"failed", report.failed},
                          {"failures", failures}});
        continue;
      }
      for (const auto& fail : report.failures) PrintFailure(fail);
      fmt::print("{}: {} test(s), {} failed\n", f, report.tests, report.failed);
    }
    if (json) {
      nlohmann::json j = {
          {"success", code == kExitOk}, {"tests", tests}, {"failed", failed}, {"files", jfiles}};
      fmt::print("{}\n", DumpJson(j, 2));
    } else {
      fmt::print("{}: {} test(s), {} failed\n", code == kExitOk ? "SUCCESS" : "FAILED", tests,
                 failed);
    }
    exit_code = code;
  });
}

}  // namespace tocsin::cli
