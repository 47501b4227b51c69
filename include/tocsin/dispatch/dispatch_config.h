#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/dispatch/matcher.h"

namespace tocsin::dispatch {

// One node of the routing tree (`route:` in tocsin.yaml). Children inherit receiver,
// group_by and the timings they do not set, as in Alertmanager.
struct RouteConfig {
  std::string receiver;
  Matchers matchers;
  std::vector<std::string> group_by;  // ["..."] groups by every label
  Duration group_wait = std::chrono::seconds(30);
  Duration group_interval = std::chrono::minutes(5);
  Duration repeat_interval = std::chrono::hours(4);
  bool continue_matching = false;  // `continue`
  std::vector<RouteConfig> routes;
  config::Position position;
};

// Mutes target alerts while a source alert fires whose `equal` labels have the same values.
struct InhibitRule {
  Matchers source_matchers;
  Matchers target_matchers;
  std::vector<std::string> equal;
};

// A time in which matching alerts are muted and which SLA reports exclude. Either one-off
// (`start`..`end`) or weekly (`days` + `start_time`..`end_time`), in a named IANA time zone.
struct MaintenanceWindowConfig {
  std::string name;
  std::string time_zone = "UTC";
  Matchers matchers;  // empty: every alert
  // One-off, absolute.
  std::optional<TimePoint> start;
  std::optional<TimePoint> end;
  // Weekly: days of week (0 = Sunday) and minutes after local midnight.
  std::vector<int> days;
  int start_minute = 0;
  int end_minute = 0;  // may be <= start_minute: the window runs past midnight
  bool sla_excluded = true;
};

struct AlertmanagerApiConfig {
  // endsAt of a pushed alert that does not say (Alertmanager's resolve_timeout).
  Duration resolve_timeout = std::chrono::minutes(5);
  // POSTed batches received and not yet applied; one more is refused with 503 + Retry-After
  // (Prometheus sends it again), never dropped.
  std::size_t intake_queue_batches = 256;
};

// The validated dispatch sections of tocsin.yaml.
struct DispatchConfig {
  RouteConfig route;
  std::vector<Receiver> receivers;
  std::vector<InhibitRule> inhibit_rules;
  std::vector<MaintenanceWindowConfig> maintenance_windows;
  AlertmanagerApiConfig alertmanager;
  // The YAML text of the dispatch sections, for /api/v2/status config.original.
  std::string original;
};

// Reads `route`, `receivers`, `inhibit_rules`, `maintenance_windows` and `alertmanager` from
// cfg.sections, reporting every problem with file:line:col to `diags`, including references to
// undefined receivers and escalation policies (keys of the `escalation_policies` section).
// Without a `route` section every alert goes to a built-in receiver "default" (notices only).
std::optional<DispatchConfig> LoadDispatchConfig(const config::Config& cfg,
                                                 config::Diagnostics& diags);

}  // namespace tocsin::dispatch
