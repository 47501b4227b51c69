#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/config/diagnostics.h"
#include "tocsin/rules/rule_set.h"

namespace tocsin::rules {

// Converters between tocsin rule files and the SLO specs teams already have (Sloth's
// `prometheus/v1` service level files, OpenSLO v1 documents) or keep beside tocsin (Prometheus
// recording and alerting rules). They write text; nothing here evaluates anything. Plain
// functions, safe to call from any thread.

struct RuleImportOptions {
  // tocsin needs a domain on every rule; neither Sloth nor OpenSLO has one.
  std::string domain = "sre-platform";
  // Used for SLOs whose spec names no runbook (a paging SLO needs one).
  std::string runbook;
  // Group name; empty: the Sloth service or the first OpenSLO SLO's service.
  std::string group;
};

// One generated rule unit test (docs/rules.md, "Testing rules") for one imported SLO.
struct ImportedRuleTest {
  std::string slo;
  // The test file without its `rule_files:` line, which depends on where the files are written.
  std::string body;
};

struct ImportedRules {
  std::string rules_yaml;  // a tocsin rule file; every field not mapped is a comment in it
  std::vector<ImportedRuleTest> tests;
  std::size_t slos = 0;
  std::size_t skipped = 0;  // SLOs of the input that could not be converted at all
};

// Each field that cannot be mapped is a warning in `diags` with the input's file:line and why;
// an input that cannot be read or is not of the format is an error (nullopt).
std::optional<ImportedRules> ImportSloth(const std::string& file, const RuleImportOptions& options,
                                         config::Diagnostics& diags);
std::optional<ImportedRules> ImportOpenSlo(const std::string& file,
                                           const RuleImportOptions& options,
                                           config::Diagnostics& diags);

struct PrometheusExport {
  std::string yaml;  // Prometheus rule file: `groups:` of recording and alerting rules
  std::size_t recording_rules = 0;
  std::size_t alerting_rules = 0;
};

// Prometheus rules equivalent to `rules`: per SLO one recording rule of its error ratio per
// window and one alerting rule per burn-rate tier; per threshold rule one alerting rule with
// `for` and `keep_firing_for` matching `consecutive` and `resolve_after`. What Prometheus
// cannot express the same way (annotation variables, absent-data alerts) is a warning.
PrometheusExport ExportPrometheusRules(const RuleSet& rules, config::Diagnostics& diags);

}  // namespace tocsin::rules
