#pragma once

#include <optional>
#include <string>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/dispatch/dispatch_config.h"
#include "tocsin/ha/ha_config.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/notify/notify_config.h"
#include "tocsin/oncall/fairness.h"
#include "tocsin/oncall/roster.h"
#include "tocsin/panel/panel_config.h"
#include "tocsin/report/sla_config.h"
#include "tocsin/rules/rule_set.h"
#include "tocsin/store/store_config.h"

namespace tocsin::app {

// Everything a running tocsin is configured with: the main file plus what each module reads
// from its own section or files (rules, routes, roster, policies, templates). Built whole or
// not at all: `tocsin check`, `tocsin serve` and every reload go through LoadRuntimeConfig,
// so a config that passes check is exactly one that serve accepts.
struct RuntimeConfig {
  config::Config main;
  http::ApiConfig api;
  panel::PanelConfig panel;  // the `panel:` section (the web panel's listener)
  // The `evaluation:` section and every rule file `rule_files` matches (rules module).
  rules::RuleSet rules;
  notify::NotifyConfig notify;  // the `notify:` section (outbox, rate limits, fail-over)
  // Modules add their validated configuration here, e.g.
  //   rules::RuleSet rules;  dispatch::DispatchConfig dispatch;
  // On-call and incidents (issue 5): the roster (absent without roster_file), the escalation
  // policies (the built-in default ladder as "default" when the section is absent), the
  // incidents section and the store section.
  std::optional<oncall::Roster> roster;
  incident::PolicySet policies;
  incident::IncidentsConfig incidents;
  store::StoreConfig store;
  dispatch::DispatchConfig dispatch;  // route, receivers, inhibit_rules, maintenance_windows, ...
  report::SlaConfig sla;              // providers_sla: (tocsin report sla)
  ha::HaConfig ha;                    // ha: (issue 14) lease, instance, cluster name
};

// How far ahead LoadRuntimeConfig checks the roster's fairness and coverage.
inline constexpr int kRosterCheckDays = 14;

struct RuntimeLoadResult {
  std::optional<RuntimeConfig> config;  // only when there are no errors
  config::Diagnostics diagnostics;
  bool io_error = false;
  // Roster fairness and coverage findings for the next kRosterCheckDays. They are warnings in
  // `diagnostics` (a roster that will be unfair in ten days must not stop the daemon from
  // starting after a crash and paging tonight) and make `tocsin check` exit 1.
  std::vector<oncall::Finding> roster_findings;
};

// Loads the main config, then each module's part, then the whole-config cross checks
// (undefined escalation policy, missing runbook, person not in the roster, ...).
RuntimeLoadResult LoadRuntimeConfig(const std::string& path, const config::Overrides& overrides);

// With `ha.lease` under 10 s, a PostgreSQL store's sessions end a transaction left idle after
// half the lease instead of 5 s, unless store.url's `options` set
// idle_in_transaction_session_timeout itself (LoadRuntimeConfig applies it).
void FitSessionTimeoutToLease(store::StoreUrl& url, Duration lease);

}  // namespace tocsin::app
