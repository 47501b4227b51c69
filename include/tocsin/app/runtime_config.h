#pragma once

#include <optional>
#include <string>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/notify/notify_config.h"

namespace tocsin::app {

// Everything a running tocsin is configured with: the main file plus what each module reads
// from its own section or files (rules, routes, roster, policies, templates). Built whole or
// not at all: `tocsin check`, `tocsin serve` and every reload go through LoadRuntimeConfig,
// so a config that passes check is exactly one that serve accepts.
struct RuntimeConfig {
  config::Config main;
  notify::NotifyConfig notify;  // the `notify:` section (outbox, rate limits, fail-over)
  // Modules add their validated configuration here, e.g.
  //   rules::RuleSet rules;  dispatch::DispatchConfig dispatch;  oncall::Roster roster;
};

struct RuntimeLoadResult {
  std::optional<RuntimeConfig> config;  // only when there are no errors
  config::Diagnostics diagnostics;
  bool io_error = false;
};

// Loads the main config, then each module's part, then the whole-config cross checks
// (undefined escalation policy, missing runbook, person not in the roster, ...).
RuntimeLoadResult LoadRuntimeConfig(const std::string& path, const config::Overrides& overrides);

}  // namespace tocsin::app
