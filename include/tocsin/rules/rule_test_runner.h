#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::rules {

struct RuleTestReport {
  std::string file;
  std::size_t tests = 0;
  std::size_t failed = 0;
  std::vector<std::string> failures;  // one message per failed expectation
  bool invalid = false;               // the test file or its rules did not load (see diags)
};

// Runs one promtool-style rule unit test file offline (docs/rules.md, "Testing rules"): loads
// the rule files it names, feeds each query the values the file gives over time through a
// ReplaySource, evaluates on a SimulatedScheduler, and compares the firing alerts at each
// `eval_time` with the expected ones. No network, no sleeping: hours of evaluation take
// milliseconds.
RuleTestReport RunRuleTestFile(const std::string& path, config::Diagnostics& diags);

// Expands promtool's series notation: "1 2 3", "0+10x3" (0 10 20 30), "5x2" (5 5 5), "_"
// (no value), "_x3" (three missing values), "NaN", "Inf", "-Inf". nullopt marks a missing value.
Result<std::vector<std::optional<double>>> ExpandSeriesValues(const std::string& text);

}  // namespace tocsin::rules
