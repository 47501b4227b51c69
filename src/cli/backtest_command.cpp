#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/rules/backtest.h"
#include "tocsin/rules/rule_loader.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::cli {

namespace {

struct BacktestArgs {
  std::string rules_dir;
  std::string from;
  std::string to;
  std::string step;
  std::string source = "http://127.0.0.1:9090";
  std::string timeout = "60s";
  std::string output = "text";
};

}  // namespace

void AddBacktestCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand(
      "backtest",
      "Replay rules over Prometheus history (query_range) and print what would "
      "have gone pending, fired and resolved, and how many pages");
  auto a = std::make_shared<BacktestArgs>();
  cmd->add_option("--rules", a->rules_dir, "Directory of rule files (*.yaml), or one file")
      ->required();
  cmd->add_option("--from", a->from, "Start: RFC 3339 or unix seconds")->required();
  cmd->add_option("--to", a->to, "End: RFC 3339 or unix seconds")->required();
  cmd->add_option("--step", a->step, "Evaluation step (default: each group's interval)");
  cmd->add_option("--source", a->source, "Prometheus URL")->default_val(a->source);
  cmd->add_option("--timeout", a->timeout, "Timeout of each range query")->default_val("60s");
  cmd->add_option("-o,--output", a->output, "text or json")
      ->default_val("text")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&exit_code, a] {
    auto from = ParseTime(a->from);
    auto to = ParseTime(a->to);
    if (!from || !to) {
      fmt::print(stderr, "backtest: {}\n", (!from ? from.error() : to.error()).message());
      exit_code = kExitUsage;
      return;
    }
    rules::BacktestOptions options{*from, *to, std::nullopt};
    if (!a->step.empty()) {
      auto step = ParseDuration(a->step);
      if (!step || step->count() <= 0) {
        fmt::print(stderr, "backtest: --step: expected a positive duration such as 30s\n");
        exit_code = kExitUsage;
        return;
      }
      options.step = *step;
    }
    auto timeout = ParseDuration(a->timeout);
    if (!timeout) {
      fmt::print(stderr, "backtest: --timeout: {}\n", timeout.error().message());
      exit_code = kExitUsage;
      return;
    }
    std::vector<std::string> files;
    if (std::filesystem::is_directory(a->rules_dir)) {
      files = rules::ExpandGlob((std::filesystem::path(a->rules_dir) / "*.yaml").string());
    } else if (std::filesystem::is_regular_file(a->rules_dir)) {
      files.push_back(a->rules_dir);
    }
    if (files.empty()) {
      fmt::print(stderr, "backtest: no rule files (*.yaml) in {}\n", a->rules_dir);
      exit_code = kExitUsage;
      return;
    }
    config::Diagnostics diags;
    rules::RuleLoadOptions load;
    load.evaluation.default_source = "backtest";
    auto set = rules::LoadRuleFiles(files, load, diags);
    for (const auto& d : diags.items()) fmt::print(stderr, "{}\n", d.ToString());
    if (!set) {
      exit_code = kExitFailure;
      return;
    }
    config::SourceConfig src;
    src.name = "backtest";
    src.url = a->source;
    src.timeout = *timeout;
    source::PrometheusClient client(src, std::make_shared<CurlHttpClient>());
    auto report = rules::RunBacktest(*set, client, options);
    if (!report) {
      fmt::print(stderr, "backtest: {}\n", report.error().message());
      exit_code = kExitUsage;
      return;
    }
    if (a->output == "json") {
      nlohmann::json j;
      j["transitions"] = nlohmann::json::array();
      for (const auto& t : report->transitions) {
        j["transitions"].push_back({{"time", FormatRfc3339(t.at)},
                                    {"from", AlertStateName(t.from)},
                                    {"to", AlertStateName(t.to)},
                                    {"severity", SeverityName(t.alert.severity)},
                                    {"labels", LabelsToJson(t.alert.labels)}});
      }
      j["evaluations"] = report->evaluations;
      j["range_queries"] = report->range_queries;
      j["firings"] = report->firings;
      j["pages"] = report->pages;
      fmt::print("{}\n", j.dump(2));
      exit_code = kExitOk;
      return;
    }
    fmt::print("{:<24}  {:<9} -> {:<9}  {:<9}  {}\n", "time", "from", "to", "severity", "alert");
    for (const auto& t : report->transitions) {
      fmt::print("{:<24}  {:<9} -> {:<9}  {:<9}  {}\n", FormatRfc3339(t.at), AlertStateName(t.from),
                 AlertStateName(t.to), SeverityName(t.alert.severity), t.alert.labels.ToString());
    }
    fmt::print(
        "{} evaluations, {} range queries: {} alert(s) would have fired, {} page(s) "
        "(severity critical)\n",
        report->evaluations, report->range_queries, report->firings, report->pages);
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
