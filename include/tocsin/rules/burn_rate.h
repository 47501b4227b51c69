#pragma once

#include <compare>

namespace tocsin::rules {

// How fast an SLO spends its error budget: error_ratio / (1 - objective/100). 1 spends exactly
// the budget over the SLO window. A floating-point value for display and metrics; decisions
// use CompareBurnRate.
double BurnRate(double error_ratio, double objective_percent);

// Compares the burn rate of `error_ratio` under `objective_percent` with `factor`, exactly.
//
// Why not `error_ratio / (1 - objective / 100) > factor` in doubles: 1 - 0.999 is
// 0.0010000000000000009 and 1 - 0.9985 is 0.0015000000000000568, so a burn of exactly 6 came
// out as 6.000000000000661 (paging at 99.9) or 5.999999999999772 (not paging at 99.85),
// depending on the objective. Instead every input is read as the decimal it was written as
// (the shortest decimal that converts back to the same double: 99.85, 14.4, 0.009, which is
// what the rule file, the rule test or Prometheus' JSON said) and
//
//   burn <=> factor   is   error_ratio * 100  <=>  factor * (100 - objective)
//
// is decided in exact decimal arithmetic, with no tolerance and no limit on the objective's
// digits. The common case (far from the factor) is decided in doubles with a margin far wider
// than their rounding error, so the exact path only runs near a tie.
//
// NaN compares unordered (no decision); +Inf is above every factor. Thread-safe (pure).
std::partial_ordering CompareBurnRate(double error_ratio, double objective_percent, double factor);

}  // namespace tocsin::rules
