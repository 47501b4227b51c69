// The rule file and the unit tests that `tocsin rules import` writes, from the SLOs the Sloth
// and OpenSLO readers produce.
#include "rules/import_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/config/yaml_reader.h"
#include "tocsin/rules/burn_rate.h"
#include "tocsin/rules/template.h"

namespace tocsin::rules::import_detail {

config::Position Unmapped::Where(const YAML::Node& at) const {
  return config::PositionOf(file_, at);
}

void Unmapped::Note(const YAML::Node& at, const std::string& field, const std::string& why,
                    SloSpec* slo) {
  auto pos = Where(at);
  diags_.Warning(pos, "not mapped: " + field + ": " + why);
  std::string line = fmt::format("{}:{}: {}: {}", file_, pos.line, field, why);
  if (slo) {
    slo->comments.push_back(std::move(line));
  } else {
    file_comments_.push_back(std::move(line));
  }
}

void Unmapped::KeepSkipped(const SloSpec& slo) {
  file_comments_.push_back("skipped " + slo.origin + ":");
  for (const auto& c : slo.comments) file_comments_.push_back("  " + c);
}

std::string Quote(std::string_view s) { return DumpJson(nlohmann::json(std::string(s))); }

std::string SafeName(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "slo_" + out;
  return out;
}

std::string PercentFromRatio(std::string_view ratio) {
  std::string r(ratio);
  auto dot = r.find('.');
  std::string whole = dot == std::string::npos ? r : r.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : r.substr(dot + 1);
  while (frac.size() < 2) frac += '0';
  std::string digits = whole + frac.substr(0, 2);
  std::string rest = frac.substr(2);
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  while (!rest.empty() && rest.back() == '0') rest.pop_back();
  return rest.empty() ? digits : digits + "." + rest;
}

std::string ScalarText(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : ""; }

std::string TocsinWindowTemplate(std::string query) {
  static const std::regex kWindow(R"(\{\{\s*\.?window\s*\}\})");
  query = std::regex_replace(query, kWindow, "{{window}}");
  query.erase(0, query.find_first_not_of(" \n\t"));
  query.erase(query.find_last_not_of(" \n\t") + 1);
  return query;
}

bool HasWindowTemplate(std::string_view query) {
  return TocsinWindowTemplate(std::string(query)).find("{{window}}") != std::string::npos;
}

void AddLabel(Unmapped& u, const YAML::Node& at, const std::string& field, const std::string& name,
              const std::string& value, SloSpec& slo) {
  static const std::set<std::string> kSetByTocsin = {"alertname", "severity", "kind", "service",
                                                     "domain",    "slo",      "tier"};
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  if (kSetByTocsin.count(name)) {
    u.Note(at, field,
           "tocsin sets the \"" + name +
               "\" label itself (route on severity, tier and slo instead of this value)",
           &slo);
    return;
  }
  if (!std::regex_match(name, kLabelName)) {
    u.Note(at, field, "\"" + name + "\" is not a valid label name", &slo);
    return;
  }
  for (auto& [n, v] : slo.labels) {
    if (n == name) {
      v = value;  // the more specific level wins, as in Sloth
      return;
    }
  }
  slo.labels.emplace_back(name, value);
}

void SetAnnotation(Unmapped& u, const YAML::Node& at, const std::string& field,
                   const std::string& name, const std::string& value, SloSpec& slo) {
  if (name == "runbook" || name == "runbook_url") {
    slo.runbook = value;
    return;
  }
  if (name != "summary" && name != "description") {
    u.Note(at, field,
           "tocsin alerts carry summary, description, runbook and dashboards; other "
           "annotations have no place",
           &slo);
    return;
  }
  if (auto t = Template::Parse(value); !t) {
    u.Note(at, field, "not a tocsin annotation template (" + t.error().message() + ")", &slo);
    return;
  }
  (name == "summary" ? slo.summary : slo.description) = value;
}

namespace {

std::vector<TierSpec> EffectiveTiers(const SloSpec& slo) {
  if (!slo.tiers.empty()) return slo.tiers;
  std::vector<TierSpec> out;
  for (const auto& t : DefaultBurnRateTiers()) {
    out.push_back(TierSpec{t.name, fmt::format("{}", t.factor), FormatDuration(t.long_window),
                           FormatDuration(t.short_window), std::string(SeverityName(t.severity)),
                           t.enabled});
  }
  return out;
}

// A rule test for one SLO: healthy, then an error ratio over the windows of its most urgent
// tier that can fire (every tier over those same windows whose factor the ratio exceeds fires
// with it), then healthy again. The ratio is computed from the SLO's own objective and factor,
// checked with the evaluator's exact comparison, so the test fails if the import changed
// either.
std::string WriteTest(const SloSpec& slo) {
  double objective = std::stod(slo.objective);
  auto tiers = EffectiveTiers(slo);
  const TierSpec* chosen = nullptr;
  for (int pass = 0; pass < 2 && !chosen; ++pass) {
    for (const auto& t : tiers) {
      if (!t.enabled || (pass == 0 && t.severity != "critical")) continue;
      if (CompareBurnRate(1.0, objective, std::stod(t.factor)) <= 0) continue;  // cannot fire
      if (!chosen || std::stod(t.factor) > std::stod(chosen->factor)) chosen = &t;
    }
  }
  std::string out = "evaluation_interval: 30s\ntests:\n";
  if (!chosen) {
    out += fmt::format(
        "  # No tier of this SLO can fire: at objective {}% even an error ratio of 1 does not\n"
        "  # burn the budget faster than any factor.\n"
        "  - name: {}\n    interval: 1m\n    input:\n      - slo: {}\n        series:\n"
        "          - labels: {{}}\n            values: \"1x10\"\n    alert_rule_test:\n"
        "      - {{eval_time: 5m, alertname: {}, exp_alerts: []}}\n",
        slo.objective, Quote(slo.name + ": no tier can fire"), slo.name, slo.name);
    return out;
  }
  double threshold = std::stod(chosen->factor) * (100 - objective) / 100;
  double ratio = threshold * 1.5 < 1 ? threshold * 1.5 : (threshold + 1) / 2;
  std::string ratio_text = fmt::format("{:.6g}", ratio);
  while (CompareBurnRate(std::stod(ratio_text), objective, std::stod(chosen->factor)) <= 0) {
    ratio = (ratio + 1) / 2;
    ratio_text = fmt::format("{:.6g}", ratio);
  }
  double r = std::stod(ratio_text);
  std::vector<const TierSpec*> firing;
  for (const auto& t : tiers) {
    bool same_windows =
        t.long_window == chosen->long_window && t.short_window == chosen->short_window;
    if (t.enabled && same_windows && CompareBurnRate(r, objective, std::stod(t.factor)) > 0) {
      firing.push_back(&t);
    }
  }
  out += fmt::format(
      "  - name: {}\n    interval: 1m\n    input:\n      - slo: {}\n        windows: [{}, {}]\n"
      "        series:\n          - labels: {{}}\n            values: \"0x9 {}x19 0x19\"\n"
      "    alert_rule_test:\n      - {{eval_time: 5m, alertname: {}, exp_alerts: []}}\n"
      "      - eval_time: 15m\n        alertname: {}\n        exp_alerts:\n",
      Quote(fmt::format("{}: an error ratio of {} over {} and {} fires tier {}, then resolves",
                        slo.name, ratio_text, chosen->long_window, chosen->short_window,
                        chosen->name)),
      slo.name, chosen->long_window, chosen->short_window, ratio_text, slo.name, slo.name);
  for (const auto* t : firing) {
    out +=
        fmt::format("          - exp_labels: {{tier: {}, severity: {}}}\n", t->name, t->severity);
  }
  out += fmt::format("      - {{eval_time: 35m, alertname: {}, exp_alerts: []}}\n", slo.name);
  return out;
}

void WriteSlo(std::string& out, const SloSpec& slo, const RuleImportOptions& options) {
  out += fmt::format("      # From {}.\n", slo.origin);
  for (const auto& c : slo.comments) out += "      # Not mapped: " + c + "\n";
  out += fmt::format("      - name: {}\n", slo.name);
  out += fmt::format("        service: {}\n", Quote(slo.service));
  out += fmt::format("        domain: {}\n", options.domain);
  out += fmt::format("        objective: {}\n", slo.objective);
  out += fmt::format("        window: {}\n", slo.window);
  out += "        sli:\n";
  if (!slo.error_query.empty()) {
    out += fmt::format("          error: {}\n", Quote(slo.error_query));
  } else {
    out += fmt::format("          good: {}\n", Quote(slo.good_query));
  }
  out += fmt::format("          total: {}\n", Quote(slo.total_query));
  if (!slo.tiers.empty()) {
    out += "        burn_rate_alerts:\n";
    for (const auto& t : slo.tiers) {
      out += fmt::format(
          "          {}: {{factor: {}, long_window: {}, short_window: {}, severity: {}{}}}\n",
          t.name, t.factor, t.long_window, t.short_window, t.severity,
          t.enabled ? "" : ", enabled: false");
    }
    // tocsin adds its default tiers to every SLO; the spec's tiers replace them.
    for (const auto& d : DefaultBurnRateTiers()) {
      bool named = std::any_of(slo.tiers.begin(), slo.tiers.end(),
                               [&](const TierSpec& t) { return t.name == d.name; });
      if (!named) out += fmt::format("          {}: {{enabled: false}}\n", d.name);
    }
  }
  if (!slo.labels.empty()) {
    out += "        labels:\n";
    for (const auto& [n, v] : slo.labels) out += fmt::format("          {}: {}\n", n, Quote(v));
  }
  if (!slo.summary.empty() || !slo.description.empty()) {
    out += "        annotations:\n";
    if (!slo.summary.empty()) out += fmt::format("          summary: {}\n", Quote(slo.summary));
    if (!slo.description.empty()) {
      out += fmt::format("          description: {}\n", Quote(slo.description));
    }
  }
  std::string runbook = slo.runbook.empty() ? options.runbook : slo.runbook;
  if (!runbook.empty()) out += fmt::format("        runbook: {}\n", Quote(runbook));
}

}  // namespace

ImportedRules WriteImported(const std::string& tool, const std::string& input,
                            const std::string& group, const std::vector<SloSpec>& slos,
                            std::size_t skipped, const std::vector<std::string>& file_comments,
                            const RuleImportOptions& options) {
  ImportedRules out;
  std::string& y = out.rules_yaml;
  y += fmt::format("# Imported by `tocsin rules import --from {}` from {}.\n", tool, input);
  y += "# Check it with `tocsin check` and its tests with `tocsin test rules`; fields that could\n"
       "# not be mapped are listed as comments where they were.\n";
  for (const auto& c : file_comments) y += "# Not mapped: " + c + "\n";
  y += fmt::format("groups:\n  - name: {}\n", Quote(group));
  if (slos.empty()) {
    y += "    slos: []\n";
  } else {
    y += "    slos:\n";
  }
  for (const auto& slo : slos) {
    WriteSlo(y, slo, options);
    out.tests.push_back(ImportedRuleTest{slo.name, WriteTest(slo)});
  }
  out.slos = slos.size();
  out.skipped = skipped;
  return out;
}

std::nullopt_t WrongShape(config::Diagnostics& diags, const std::string& file,
                          const YAML::Exception& e, std::string_view format) {
  diags.Error({file, e.mark.line + 1, e.mark.column + 1},
              fmt::format("not a valid {} file: unexpected structure ({})", format, e.msg));
  return std::nullopt;
}

}  // namespace tocsin::rules::import_detail
