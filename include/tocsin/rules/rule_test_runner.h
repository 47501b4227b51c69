#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/common/result.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::rules {

// One side of a failed expectation: the alert a test expects, or the one the rules produced.
struct RuleTestAlert {
  std::string state;  // "firing" or "pending"
  Labels labels;      // expected: the labels the test gives; got: all of the alert's
  std::map<std::string, std::string> annotations;
};

// A key on which expected and got differ: "state", "labels.<name>", "annotations.<name>".
struct RuleTestDifference {
  std::string key;
  std::string expected;  // "(none)": the test expects no such alert / no such key
  std::string got;       // "(none)": nothing of the kind was produced
};

// One failed expectation, with where it is written and where the rule is defined.
struct RuleTestFailure {
  std::string test;  // the test's name
  std::string test_file;
  int test_line = 0;  // the exp_alerts entry, or the alert_rule_test entry for an extra alert
  Duration eval_time{};
  std::string alertname;
  std::string rule;  // the SLO or rule that raises `alertname`; empty when none does
  std::string rule_file;
  int rule_line = 0;
  std::optional<RuleTestAlert> expected;  // nullopt: an alert the test does not expect
  std::optional<RuleTestAlert> got;       // nullopt: no alert of that name came close
  std::vector<RuleTestDifference> differences;
  std::vector<std::string> same;  // the expected keys that agree (context for the differences)
};

struct RuleTestReport {
  std::string file;
  std::size_t tests = 0;
  std::size_t failed = 0;
  std::vector<RuleTestFailure> failures;  // one per failed expectation
  bool invalid = false;                   // the test file or its rules did not load (see diags)
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
