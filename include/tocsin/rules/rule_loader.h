#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/rules/rule_set.h"

namespace tocsin::rules {

struct RuleLoadOptions {
  EvaluationConfig evaluation;
  // Known source names; a group naming another is an error. Empty: not checked (offline
  // tools without a main config).
  std::vector<std::string> source_names;
  // Where runbook files must exist; empty: not checked (rule unit tests).
  std::string runbook_dir;
};

// Validates the `evaluation:` section of tocsin.yaml (absent: defaults).
EvaluationConfig ReadEvaluationConfig(const config::Config& cfg, config::Diagnostics& diags);

// Loads the given rule files, reporting every problem with file:line:column: duplicate names,
// windows, objectives, templates, runbooks, cardinality (a warning). Returns the rules only when
// there is no error.
std::optional<RuleSet> LoadRuleFiles(const std::vector<std::string>& files,
                                     const RuleLoadOptions& options, config::Diagnostics& diags);

// The rules a main config asks for: its `evaluation:` section, the files its `rule_files`
// globs match, its runbook dir and sources. A literal path that does not exist is an error, a
// glob that matches nothing a warning.
std::optional<RuleSet> LoadRules(const config::Config& cfg, config::Diagnostics& diags);

// Expands shell globs (sorted, de-duplicated).
std::vector<std::string> ExpandGlob(const std::string& pattern);

}  // namespace tocsin::rules
