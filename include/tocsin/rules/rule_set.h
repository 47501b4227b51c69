#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/rules/alert.h"
#include "tocsin/rules/template.h"

namespace tocsin::rules {

// The validated content of the `evaluation:` section of tocsin.yaml.
struct EvaluationConfig {
  Duration interval = std::chrono::seconds(30);  // default for groups that do not say
  std::string default_source;                    // default: the first source
  Duration absent_after = std::chrono::minutes(10);
  // The error budget over the whole SLO window (30d) is an expensive query; it is refreshed
  // this often rather than every tick.
  Duration budget_interval = std::chrono::minutes(5);
  Severity source_down_severity = Severity::kCritical;
  Severity absent_severity = Severity::kWarning;
  long long max_by_labels = 3;  // a longer `by:` list is a cardinality warning
};

struct DashboardLink {
  std::string title;
  std::string url;
};

// What every rule carries into its alerts.
struct AlertTemplateFields {
  std::string service;
  std::string domain;  // payments | game-gateway | db-wallet | sre-platform | auth
  AlertKind kind = AlertKind::kSymptom;
  Labels labels;  // extra static labels
  Template summary;
  Template description;
  Template action;      // the first thing to do, shown as "Action: ..." on the page
  std::string runbook;  // file name under the runbook dir
  std::vector<DashboardLink> dashboards;
};

// One burn-rate alert tier of an SLO: fires when the burn rate over both windows exceeds
// `factor` (Google SRE workbook, multiwindow multi-burn-rate alerts).
struct BurnRateTier {
  std::string name;  // page_fast, page_slow, ticket, or a custom name
  bool enabled = true;
  double factor = 1;
  Duration long_window{};
  Duration short_window{};
  Severity severity = Severity::kWarning;
};

// The workbook defaults: page at 14.4x over 1h and 5m (2 % of a 30-day budget), page at 6x
// over 6h and 30m (5 %), ticket at 1x over 3d and 6h (10 %).
std::vector<BurnRateTier> DefaultBurnRateTiers();

struct SloRule {
  std::string name;  // also the alertname of its burn-rate alerts
  AlertTemplateFields alert;
  double objective = 99.9;  // percent, in (0, 100)
  Duration window = std::chrono::hours(24 * 30);
  // PromQL with "{{window}}" where the range goes; either error or good, and total.
  std::string error_query;
  std::string good_query;
  std::string total_query;
  std::vector<std::string> by;  // labels that identify one series (psp, market, region)
  Duration absent_after{};
  std::vector<BurnRateTier> tiers;
  std::string file;
  int line = 0;

  // For display only (1 - 0.999 is not 0.001 in doubles): alerting compares burn rates with
  // CompareBurnRate (burn_rate.h), which is exact.
  double error_budget() const { return 1.0 - objective / 100.0; }
  // The window whose silence means "no data" for this SLO: the shortest short window of its
  // enabled paging (critical) tiers, or of all enabled tiers when none pages. Long windows
  // keep answering for hours after the data stops, so they cannot tell. Empty without tiers.
  std::optional<Duration> NoDataWindow() const;
  // The error ratio over `window` as one PromQL expression. Rules that share an SLI share
  // these expressions, and the evaluator sends each distinct one once per tick.
  std::string ErrorRatioQuery(Duration window) const;
};

enum class Comparison { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };
std::string_view ComparisonText(Comparison c);
bool Compare(double value, Comparison c, double threshold);

struct ThresholdRule {
  std::string name;  // alertname
  AlertTemplateFields alert;
  std::string expr;
  Comparison op = Comparison::kGreater;
  double threshold = 0;
  Severity severity = Severity::kWarning;
  long long consecutive = 3;    // violating evaluations in a row before firing
  long long resolve_after = 3;  // good evaluations in a row before resolving
  Duration absent_after{};      // 0: no absent-data alert
  std::string file;
  int line = 0;
};

struct RuleGroup {
  std::string name;
  Duration interval{};
  std::string source;
  std::vector<SloRule> slos;
  std::vector<ThresholdRule> rules;
  std::string file;
};

// Everything the rules engine evaluates, validated; replaced whole on reload.
struct RuleSet {
  EvaluationConfig evaluation;
  std::vector<RuleGroup> groups;
  std::string runbook_base_url;  // runbook links: base_url + file name, when set
  // Source name -> URL people can open (query links in alerts) and its down_after_failures.
  std::map<std::string, std::string> source_urls;
  std::map<std::string, long long> source_down_after;

  std::size_t slo_count() const;
  std::size_t rule_count() const;
  // The SLO or threshold rule of that name (names are unique across groups); nullptr if none.
  const SloRule* FindSlo(std::string_view name) const;
  const ThresholdRule* FindRule(std::string_view name) const;
};

// Identity of a rule definition: changes when anything that affects its evaluation changes.
// State survives a reload or restart only for rules whose fingerprint is unchanged.
std::uint64_t DefinitionHash(const SloRule& slo, const BurnRateTier& tier);
std::uint64_t DefinitionHash(const ThresholdRule& rule);

}  // namespace tocsin::rules
