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

struct BacktestReport {
  std::vector<AlertTransition> transitions;  // pending / firing / resolved, in time order
  std::size_t firings = 0;                   // alerts that reached firing
  std::size_t pages = 0;                     // of those, severity critical
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
