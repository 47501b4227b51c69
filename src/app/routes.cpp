// The composition root's HTTP routes: health, readiness, metrics, reload and the API of each
// module, every route with the access it declares.
#include <fmt/format.h>

#include <chrono>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "app_impl.h"
#include "change_relay.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/api/ha_api.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/incident_api.h"
#include "tocsin/api/notifications_api.h"
#include "tocsin/api/oncall_api.h"
#include "tocsin/api/silence_preview_api.h"
#include "tocsin/api/slo_api.h"
#include "tocsin/api/twilio_inbound.h"
#include "tocsin/app/version.h"
#include "tocsin/ha/ha_coordinator.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_metrics.h"
#include "tocsin/source/prometheus_client.h"
#include "tocsin/store/sqlite_delivery_log.h"
#include "tocsin/store/sqlite_override_store.h"

namespace tocsin::app {

// Every route declares who may call it where it is registered; the router's guard checks
// that before the body is read and the handler runs. App::routes() lists them.
std::shared_ptr<const http::Router> App::Impl::BuildRouter() {
  using http::Access;
  auto router = std::make_shared<http::Router>(http::MakeApiGuard(*api_auth));
  router->AddSync("GET", "/healthz", Access::kPublic,
                  [](const http::Request&) { return http::Response::Text(200, "ok\n"); });
  router->AddSync("GET", "/readyz", Access::kPublic, [this](const http::Request&) {
    if (!ready) return http::Response::Text(503, "not ready\n");
    // Ready means the config is loaded and the data directory is still usable.
    auto dir = PrepareDataDir(config->main.data_dir);
    if (!dir) return http::Response::Text(503, "not ready: " + dir.error().message() + "\n");
    return http::Response::Text(200, "ready\n");
  });
  router->AddSync("GET", "/metrics", Access::kPublic, [this](const http::Request&) {
    uptime.Set(std::chrono::duration<double>(clock.Now() - started_at).count());
    if (evaluator && rule_metrics) rule_metrics->Update(*evaluator);
    prometheus::TextSerializer serializer;
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = serializer.Serialize(registry->Collect());
    return r;
  });
  AddApiRoutes(*router);
  if (inbound) inbound->Register(*router);                // Slack and provider webhooks: signed
  if (twilio_inbound) twilio_inbound->Register(*router);  // Twilio callbacks: signed
  router->AddSync("POST", "/-/reload", Access::kAdmin, [this](const http::Request&) {
    auto result = owner->Reload();
    if (!result) return http::Response::Text(400, result.error().message() + "\n");
    return http::Response::Text(200, "reloaded\n");
  });
  return router;
}

void App::Impl::AddApiRoutes(http::Router& router) {
  using http::Access;
  if (incidents) incident::RegisterIncidentApi(router, *incidents, clock);
  // The panel's API (issue 16): on-call, one SLO in detail, silence preview, delivery log.
  oncall::OncallApiDeps oncall_deps;
  oncall_deps.schedule = [this] { return incidents ? incidents->schedule() : nullptr; };
  oncall_deps.overrides = override_store.get();
  oncall_deps.on_added = [this](const oncall::RecordedOverride& added) {
    // In force at once, and on top of the roster file after every reload.
    added_overrides.push_back(added.override);
    recorded_overrides.push_back(added);
    incidents->Reconfigure(ScheduleOf(*config, added_overrides), config->policies,
                           config->incidents);
  };
  oncall_deps.in_flight = overrides_in_flight;
  oncall_deps.refuse_changes = [this]() -> std::optional<std::string> {
    if (active) return std::nullopt;
    return StandbyRefusal();
  };
  if (change_relay) {
    // A standby passes an override to the active, which checks it against the schedule in
    // force there; this instance reads the overrides again before answering.
    oncall_deps.forward = [this](nlohmann::json body, std::string actor,
                                 ChangeRelay::Done<std::string> done) {
      change_relay->ForwardOverride(std::move(body), std::move(actor), std::move(done));
    };
  }
  oncall_deps.recorded = [this]() -> const std::vector<oncall::RecordedOverride>& {
    return recorded_overrides;
  };
  override_adder = oncall::RegisterOncallApi(router, std::move(oncall_deps), clock);
  rules::RegisterSloApi(
      router, {[this]() -> const rules::Evaluator* { return evaluator.get(); },
               [this]() -> const rules::RuleSet* { return &config->rules; },
               [this](const std::string& name) -> std::shared_ptr<source::SliSource> {
                 for (const auto& s : config->main.sources) {
                   if (s.name == name)
                     return std::make_shared<source::PrometheusClient>(s, source_http);
                 }
                 return nullptr;
               },
               [this] { return static_cast<Executor*>(query_pool.get()); },
               [this](std::function<void()> cb) { scheduler.Post(std::move(cb)); }, &clock});
  dispatch::RegisterSilencePreviewApi(router, *dispatcher, clock);
  notify::RegisterNotificationsApi(router, [this] { return delivery_log.get(); });
  // Dispatch: Alertmanager API v2 (Prometheus, amtool) and GET /api/v1/groups.
  dispatch::ApiBuildInfo build{std::string(Version()), std::string(Revision()),
                               std::string(BuildDate()), started_at, nullptr};
  build.cluster_json = [this] { return ha::AlertmanagerClusterJson(ha_status().Status()); };
  // Issue 14: an instance whose last lease poll failed cannot reach the database; the alerts
  // it took could become incidents on no instance, so it refuses them (Prometheus sends again).
  build.intake_refusal = [this]() -> std::optional<dispatch::ApiBuildInfo::Refusal> {
    if (!ha_coordinator || ha_coordinator->last_error().empty()) return std::nullopt;
    return dispatch::ApiBuildInfo::Refusal{
        fmt::format("tocsin instance {} cannot reach its database ({})", config->ha.instance,
                    ha_coordinator->last_error()),
        config->ha.lease / 3};
  };
  dispatch::RegisterAlertmanagerApi(router, *dispatcher, *silences, clock, std::move(build),
                                    alert_intake.get());
  ha::RegisterHaApi(router, ha_status(), clock);  // issue 14
}

}  // namespace tocsin::app
