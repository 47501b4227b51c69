#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/dispatch/alert_intake.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/http/router.h"

namespace tocsin::dispatch {

// What /api/v2/status reports about this build.
struct ApiBuildInfo {
  std::string version;
  std::string revision;
  std::string build_date;
  TimePoint started_at{};
  // The `cluster` object of /api/v2/status (high availability); unset: disabled. A JSON value,
  // not text: text would be dumped by one side and parsed again by the other on every call.
  std::function<nlohmann::json()> cluster_json = {};
  // Asked before each POST /api/v2/alerts: a reason to refuse the batch with 503 and
  // Retry-After (high availability: the instance cannot reach its database, so it could not
  // turn the alerts into incidents), or nullopt to take it. Unset: always taken.
  struct Refusal {
    std::string why;
    Duration retry_after{};
  };
  std::function<std::optional<Refusal>()> intake_refusal = {};
};

// Registers the Alertmanager API v2 — POST/GET /api/v2/alerts, GET /api/v2/alerts/groups,
// /api/v2/silences, /api/v2/silence/{id}, /api/v2/status, /api/v2/receivers — and tocsin's
// GET /api/v1/groups, on `router`. Handlers run on the loop
// thread and read `clock` once per request; the referenced objects must outlive the router.
//
// With `intake`, POST bodies go through its bounded queue: parsed off the loop (parsing is
// most of the cost of ingest, and this lets it use another core), applied on the loop in
// bounded chunks, answered once applied, and refused with 503 + Retry-After when the queue is
// full. Without it (tests, tools) a POST is parsed and applied within the request.
void RegisterAlertmanagerApi(http::Router& router, Dispatcher& dispatcher, Silences& silences,
                             const Clock& clock, ApiBuildInfo info, AlertIntake* intake = nullptr);

// Parses a POST /api/v2/alerts body with Alertmanager's rules (labels required; missing
// startsAt = now; missing endsAt = now + resolve_timeout). Valid alerts are returned even when
// others fail; `errors` names each rejected one by index ("alert 3: ...") and says why, or holds
// one error starting with "body " when the body is not a JSON list at all.
std::vector<Alert> ParsePostedAlerts(std::string_view body, TimePoint now, Duration resolve_timeout,
                                     std::vector<std::string>& errors);

// tocsin's route tree, receivers and inhibit rules as an Alertmanager configuration (YAML), for
// /api/v2/status config.original, which amtool loads with Alertmanager's config parser.
std::string AlertmanagerConfigYaml(const DispatchConfig& config);

// Silence JSON (Alertmanager's PostableSilence / GettableSilence), shared with the CLI.
Result<Silence> ParseSilenceJson(std::string_view body);
std::string SilenceToJson(const Silence& s, TimePoint now);
Result<std::vector<Silence>> ParseSilenceListJson(std::string_view body);

}  // namespace tocsin::dispatch
