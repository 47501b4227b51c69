#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_set.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::rules {

struct BacktestOptions {
  TimePoint from{};
  TimePoint to{};
  // Evaluation step; default: each group's own interval.
  std::optional<Duration> step;
};

// What one window of a rule saw at a transition.
struct BacktestWindow {
  std::string window;  // SLO: "1h", "5m"; threshold rule: empty (its expression)
  // SLO: the error ratio over the window; threshold rule: the expression's value. nullopt: the
  // series had no sample then.
  std::optional<double> value;
  std::optional<double> burn_rate;  // SLO only: error ratio / error budget
};

// A transition with what explains it: the value (and burn rate) per window at that instant,
// what it was compared against, and why the state changed, in words.
struct BacktestTransition : AlertTransition {
  std::string rule;  // the SLO or rule that owns the alert (for tocsin_absent_data: the watched)
  std::string rule_file;
  int rule_line = 0;
  std::vector<BacktestWindow> windows;
  std::optional<double> threshold;  // SLO tier: its burn-rate factor; rule: its threshold
  std::string comparison;           // ">" for burn rates; the rule's operator
  std::string explanation;          // e.g. "burn rate above 14.4 over both 1h and 5m"
};

struct BacktestReport {
  std::vector<BacktestTransition> transitions;  // pending / firing / resolved, in time order
  std::size_t firings = 0;                      // alerts that reached firing
  std::size_t pages = 0;                        // of those, severity critical
  std::size_t range_queries = 0;
  std::size_t evaluations = 0;
};

// Replays rules over history: loads every distinct query of the rules with query_range over
// [from, to] (in chunks under Prometheus' 11,000-point limit), then runs the real evaluator on
// simulated time over the same span and records each transition. The 30-day budget queries are
// not replayed (budget notices are not paging). Errors: the source's, for the first query that
// fails.
Result<BacktestReport> RunBacktest(const RuleSet& rules, source::SliSource& source,
                                   const BacktestOptions& options);

}  // namespace tocsin::rules
