#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json.h"
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

// The labels that tell series of one alert apart: every label but those each alert of the rule
// has (they are in the detail block).
std::string DistinguishingLabels(const Labels& labels) {
  Labels l = labels;
  for (const char* common : {"alertname", "severity", "service", "domain", "kind", "slo"}) {
    l = l.Without(common);
  }
  return l.ToString();
}

std::string Number(const std::optional<double>& v) { return v ? fmt::format("{:g}", *v) : "none"; }

std::string RuleLocation(const rules::BacktestTransition& t) {
  return t.rule_file.empty() ? std::string() : fmt::format("{}:{}", t.rule_file, t.rule_line);
}

// One summary line per transition, then per transition what explains it: the value and burn
// rate of each window against the threshold, the reason, and the alert's annotations.
void PrintBacktestText(const rules::BacktestReport& report) {
  Table summary({"#", "TIME", "ALERT", "LABELS", "FROM", "TO", "REASON"});
  for (std::size_t i = 0; i < report.transitions.size(); ++i) {
    const auto& t = report.transitions[i];
    summary.AddRow({std::to_string(i + 1), FormatRfc3339(t.at), std::string(t.alert.Name()),
                    DistinguishingLabels(t.alert.labels), std::string(AlertStateName(t.from)),
                    std::string(AlertStateName(t.to)),
                    std::string(rules::TransitionReasonName(t.reason))});
  }
  summary.Print();
  for (std::size_t i = 0; i < report.transitions.size(); ++i) {
    const auto& t = report.transitions[i];
    fmt::print("\n#{} {} {} {} -> {} ({})\n", i + 1, FormatRfc3339(t.at), t.alert.Name(),
               AlertStateName(t.from), AlertStateName(t.to), SeverityName(t.alert.severity));
    Table facts({"", ""});
    facts.AddRow({"labels", t.alert.labels.ToString()});
    if (!t.rule_file.empty()) facts.AddRow({"rule", t.rule + " at " + RuleLocation(t)});
    facts.AddRow({"reason", t.explanation});
    fmt::print("{}", facts.Indented("  ", false));
    if (!t.windows.empty()) {
      bool slo = !t.windows.front().window.empty();
      Table windows(
          slo ? std::vector<std::string>{"WINDOW", "ERROR RATIO", "BURN RATE", "THRESHOLD"}
              : std::vector<std::string>{"VALUE", "THRESHOLD"});
      std::string threshold =
          t.threshold ? fmt::format("{} {:g}", t.comparison, *t.threshold) : std::string();
      for (const auto& w : t.windows) {
        if (slo) {
          windows.AddRow({w.window, Number(w.value), Number(w.burn_rate), threshold});
        } else {
          windows.AddRow({Number(w.value), threshold});
        }
      }
      fmt::print("{}", windows.Indented("  "));
    }
    Table annotations({"ANNOTATION", "TEXT"});
    for (const auto& [k, v] : t.alert.annotations) {
      if (!v.empty()) annotations.AddRow({k, v});  // an unset description is no news
    }
    fmt::print("{}", annotations.Indented("  "));
  }
  fmt::print(
      "\n{} evaluations, {} range queries: {} alert(s) would have fired, {} page(s) "
      "(severity critical)\n",
      report.evaluations, report.range_queries, report.firings, report.pages);
}

nlohmann::json OptionalNumber(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json BacktestJson(const rules::BacktestReport& report) {
  nlohmann::json j;
  j["transitions"] = nlohmann::json::array();
  for (const auto& t : report.transitions) {
    nlohmann::json windows = nlohmann::json::array();
    for (const auto& w : t.windows) {
      nlohmann::json jw = {{"value", OptionalNumber(w.value)}};
      if (!w.window.empty()) {
        jw["window"] = w.window;
        jw["burn_rate"] = OptionalNumber(w.burn_rate);
      }
      windows.push_back(std::move(jw));
    }
    nlohmann::json annotations = nlohmann::json::object();
    for (const auto& [k, v] : t.alert.annotations) annotations[k] = v;
    j["transitions"].push_back({{"time", FormatRfc3339(t.at)},
                                {"alertname", t.alert.Name()},
                                {"from", AlertStateName(t.from)},
                                {"to", AlertStateName(t.to)},
                                {"severity", SeverityName(t.alert.severity)},
                                {"labels", LabelsToJson(t.alert.labels)},
                                {"rule", t.rule},
                                {"rule_file", t.rule_file},
                                {"rule_line", t.rule_line},
                                {"reason", rules::TransitionReasonName(t.reason)},
                                {"explanation", t.explanation},
                                {"threshold", OptionalNumber(t.threshold)},
                                {"comparison", t.comparison},
                                {"windows", std::move(windows)},
                                {"annotations", std::move(annotations)}});
  }
  j["evaluations"] = report.evaluations;
  j["range_queries"] = report.range_queries;
  j["firings"] = report.firings;
  j["pages"] = report.pages;
  return j;
}

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
      fmt::print("{}\n", DumpJson(BacktestJson(*report), 2));
    } else {
      PrintBacktestText(*report);
    }
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
