#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::report {

// Two PromQL queries evaluated every minute: how many requests (or deposits) failed and how
// many there were in the minute ending at the evaluation time.
struct RatioQueries {
  std::string errors;
  std::string total;
};

// A success-ratio SLI from the operator's synthetic source and, optionally, from the
// provider's own figures (the worse of the two counts).
struct RatioSli {
  RatioQueries synthetic;
  std::optional<RatioQueries> provider;
};

// A per-minute p95 latency SLI (milliseconds for TTFS, seconds for webhook delay).
struct LatencySli {
  std::string synthetic;
  std::string provider;  // empty: the provider publishes no figure
  double slo = 0;
};

struct MaintenanceWindow {
  TimePoint start{};
  TimePoint end{};
  TimePoint announced{};
  // Announced at least 24 h but less than 7 days ahead: not an agreed window, so it is not
  // excluded; its downtime is flagged for the account manager.
  bool emergency = false;
  config::Position where;
};

// What the contract with one provider (PSP, game provider, KYC, CDN, cloud) says tocsin
// measures. An SLI that is absent does not apply to the provider ("--" in the report).
struct ProviderSla {
  std::string name;
  double downtime_error_percent = 0;  // a minute with at least this share of errors is down
  std::optional<RatioSli> availability;
  std::optional<RatioSli> dsr;
  std::optional<LatencySli> ttfs_p95_ms;
  std::optional<LatencySli> webhook_p95_s;
  std::vector<MaintenanceWindow> maintenance;
};

// The `providers_sla:` section of tocsin.yaml.
struct SlaConfig {
  std::string time_zone = "Europe/Kyiv";  // calendar months are in this zone
  std::string source;                     // a `sources:` entry; empty: the first one
  std::vector<ProviderSla> providers;
};

// Validates `providers_sla:` (errors with file:line:column into `diags`). Absent section: no
// providers. Maintenance windows must be at most 60 min, announced at least 7 days ahead
// (emergency: at least 24 h), and at most one agreed window per provider and calendar month.
SlaConfig LoadSlaConfig(const config::Config& cfg, config::Diagnostics& diags);

}  // namespace tocsin::report
