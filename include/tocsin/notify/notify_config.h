#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// A sliding-window limit: at most `events` per `per` in each rate bucket of a provider.
struct RateLimit {
  long long events = 0;  // 0: unlimited
  Duration per = std::chrono::minutes(1);
};

// `notify.status_page`: a webhook that receives every status update of a real incident (drills
// never go there), for a public status page or the Comms officer's tooling. The body is
// documented in docs/reports.md ("Status updates").
struct StatusPageConfig {
  std::string url;
  std::string token;  // bearer token (`token` or `token_file`); empty: no Authorization header
};

// The `notify:` section of tocsin.yaml (outbox, retries, rate limits, fail-over, templates).
// Every field has a default, so the section is optional.
struct NotifyConfig {
  std::string templates_dir;  // resolved; empty: built-in templates only
  Duration initial_backoff = std::chrono::seconds(5);
  Duration max_backoff = std::chrono::minutes(5);
  double jitter = 0.2;  // +-20 % of each backoff
  // A transient failure keeps being retried until the item is this old; then it is a
  // permanent failure (reported), never retried forever.
  Duration give_up_after = std::chrono::hours(24);
  // A provider failing (transient errors only) this long fails over to its partner.
  Duration failover_after = std::chrono::minutes(3);
  std::vector<std::pair<incident::Channel, incident::Channel>> failover = {
      {incident::Channel::kPagerDuty, incident::Channel::kOpsgenie},
      {incident::Channel::kOpsgenie, incident::Channel::kPagerDuty}};
  // The role called through Twilio when a paging provider has failed for `failover_after` and
  // its partner is down too (or there is none): the page of last resort. Empty: never.
  std::string last_resort_role = "duty-manager";
  Duration probe_interval = std::chrono::seconds(30);     // checks a failed-over provider
  Duration heartbeat_interval = std::chrono::minutes(1);  // Opsgenie heartbeat ping
  // Overrides of `notify.rate_limits`; a provider not named here keeps its own default (see
  // the provider registry).
  std::map<incident::Channel, RateLimit> rate_limits;
  std::size_t max_in_flight = 8;  // concurrent deliveries over all providers
  // Delivered, failed and superseded rows are deleted this long after they were finished
  // (pending rows never are), so the outbox does not grow for ever.
  Duration retention = std::chrono::hours(24 * 30);
  std::optional<StatusPageConfig> status_page;

  RateLimit LimitFor(incident::Channel c) const;
  std::optional<incident::Channel> FailoverFor(incident::Channel c) const;
};

// Validates `main.sections["notify"]` with strict keys and file:line:col diagnostics.
// Returns the defaults when the section is absent.
NotifyConfig ParseNotifyConfig(const config::Config& main, config::Diagnostics& diags);

// The checks of `providers:` that belong to the providers (each provider's folder
// owns them), beyond what the config module already checks: mistakes that would make every
// page fail at 3 a.m. are errors, unusual but possible settings are warnings.
void ValidateProviders(const config::Config& main, config::Diagnostics& diags);

}  // namespace tocsin::notify
