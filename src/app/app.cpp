#include "tocsin/app/app.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "tocsin/app/runtime_config.h"
#include "tocsin/app/systemd_notifier.h"
#include "tocsin/app/version.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/log.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/inbound_handlers.h"
#include "tocsin/http/server.h"
#include "tocsin/incident/incident_api.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/incident/manager_incident_commands.h"
#include "tocsin/incident/roster_person_directory.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

#include "logging_pager.h"

namespace tocsin::app {

Result<void> PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Fail(
        Error::Io(fmt::format("data directory {} cannot be created: {} (create it, or "
                              "set data_dir / --data-dir to a writable place)",
                              dir, ec.message())));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Fail(
        Error::Io(fmt::format("data directory {} is not writable by this user (fix its "
                              "owner, or set data_dir / --data-dir)",
                              dir)));
  }
  return {};
}

namespace {

void ApplyLogging(const config::Config& cfg) {
  spdlog::level::level_enum level = spdlog::level::info;
  log::ParseLevel(cfg.log.level, &level);
  log::Setup(cfg.log.format == config::LogFormat::kJson ? log::Format::kJson : log::Format::kText,
             level);
}

}  // namespace

struct App::Impl {
  Impl(boost::asio::io_context& io_context, const Clock& c, AppOptions opts)
      : io(io_context),
        clock(c),
        options(std::move(opts)),
        scheduler(io_context, c),
        registry(std::make_shared<prometheus::Registry>()),
        notifier(SystemdNotifier::FromEnvironment()),
        signals(io_context),
        reloads(prometheus::BuildCounter()
                    .Name("tocsin_config_reloads_total")
                    .Help("Configuration reloads by result.")
                    .Register(*registry)),
        reload_ok(prometheus::BuildGauge()
                      .Name("tocsin_config_last_reload_successful")
                      .Help("Whether the last configuration reload attempt succeeded.")
                      .Register(*registry)
                      .Add({})),
        reload_time(prometheus::BuildGauge()
                        .Name("tocsin_config_last_reload_success_timestamp_seconds")
                        .Help("Time of the last successful configuration reload.")
                        .Register(*registry)
                        .Add({})),
        uptime(prometheus::BuildGauge()
                   .Name("tocsin_uptime_seconds")
                   .Help("Seconds since this tocsin process started.")
                   .Register(*registry)
                   .Add({})),
        start_time(prometheus::BuildGauge()
                       .Name("tocsin_start_time_seconds")
                       .Help("Start time of this tocsin process since the Unix epoch.")
                       .Register(*registry)
                       .Add({})) {
    prometheus::BuildGauge()
        .Name("tocsin_build_info")
        .Help("Build information; the value is always 1.")
        .Register(*registry)
        .Add({{"version", std::string(Version())}, {"revision", std::string(Revision())}})
        .Set(1);
    started_at = clock.Now();
    start_time.Set(static_cast<double>(ToUnixMillis(started_at)) / 1000.0);
  }

  std::shared_ptr<const http::Router> BuildRouter();
  void ScheduleWatchdog();
  void WaitForSignals();
  void StopWhenDrained();

  boost::asio::io_context& io;
  const Clock& clock;
  AppOptions options;
  AsioScheduler scheduler;
  std::shared_ptr<prometheus::Registry> registry;
  SystemdNotifier notifier;
  boost::asio::signal_set signals;
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Gauge& reload_ok;
  prometheus::Gauge& reload_time;
  prometheus::Gauge& uptime;
  prometheus::Gauge& start_time;
  std::optional<RuntimeConfig> config;

  // ---- Durable state and incidents (issue 5) ------------------------------------------------
  // THE database of this process: <data_dir>/tocsin.db (store.path), opened once in Start()
  // and shared by every module that keeps state. Other modules add their migrations to it
  // (dispatch: silences, notify: outbox, rules: alert state) instead of opening their own.
  std::unique_ptr<store::Database> database;
  std::unique_ptr<store::SqliteIncidentStore> incident_store;
  // Until the notify module's durable outbox lands, pages are only logged. The lead replaces
  // this with the outbox (an incident::Pager) and registers `incidents` as its
  // DeliveryObserver.
  std::unique_ptr<incident::Pager> pager;
  // Receives dispatched groups (GroupSink) and delivery reports (DeliveryObserver).
  std::unique_ptr<incident::IncidentManager> incidents;
  Result<void> StartIncidents();
  // --------------------------------------------------------------------------------------------

  // ---- Acknowledge from anywhere, API authentication (issue 7) -------------------------------
  // Slack buttons and slash command, PagerDuty and Opsgenie webhooks act on `incidents`
  // through these adapters; the API routes are guarded by `api_auth`. Built in
  // StartInbound() after StartIncidents(); reload calls ReconfigureInbound(). Members are
  // declared after `incidents` and before `server`, so they outlive every request.
  std::unique_ptr<http::ApiAuthenticator> api_auth;
  std::unique_ptr<incident::ManagerIncidentCommands> incident_commands;
  std::unique_ptr<incident::RosterPersonDirectory> people;
  std::unique_ptr<http::DeliveryLog> inbound_deliveries;  // in `database`, across restarts
  std::unique_ptr<CurlHttpClient> slack_client;           // answers to Slack's response_url
  std::unique_ptr<WorkerPool> slack_workers;              // ... posted off the loop
  std::unique_ptr<http::InboundHandlers> inbound;
  Result<void> StartInbound();
  void ReconfigureInbound();
  void RegisterInboundAndGuards(http::Router& router);
  // --------------------------------------------------------------------------------------------

  std::unique_ptr<http::Server> server;
  TimePoint started_at;
  bool ready = false;
  bool stopping = false;
  App* owner = nullptr;
};

std::shared_ptr<const http::Router> App::Impl::BuildRouter() {
  auto router = std::make_shared<http::Router>();
  router->AddSync("GET", "/healthz",
                  [](const http::Request&) { return http::Response::Text(200, "ok\n"); });
  router->AddSync("GET", "/readyz", [this](const http::Request&) {
    if (!ready) return http::Response::Text(503, "not ready\n");
    // Ready means the config is loaded and the data directory is still usable.
    auto dir = PrepareDataDir(config->main.data_dir);
    if (!dir) return http::Response::Text(503, "not ready: " + dir.error().message() + "\n");
    return http::Response::Text(200, "ready\n");
  });
  router->AddSync("GET", "/metrics", [this](const http::Request&) {
    uptime.Set(std::chrono::duration<double>(clock.Now() - started_at).count());
    prometheus::TextSerializer serializer;
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = serializer.Serialize(registry->Collect());
    return r;
  });
  if (incidents) incident::RegisterIncidentApi(*router, *incidents, clock);
  RegisterInboundAndGuards(*router);  // issue 7: Slack/webhook endpoints, API guards
  router->AddSync("POST", "/-/reload", [this](const http::Request&) {
    auto result = owner->Reload();
    if (!result) return http::Response::Text(400, result.error().message() + "\n");
    return http::Response::Text(200, "reloaded\n");
  });
  return router;
}

namespace {
std::shared_ptr<const oncall::Schedule> ScheduleOf(const RuntimeConfig& cfg) {
  if (!cfg.roster) return nullptr;
  return std::make_shared<const oncall::Schedule>(*cfg.roster);
}
}  // namespace

Result<void> App::Impl::StartIncidents() {
  const auto& sc = config->store;
  auto db = store::Database::Open(sc.path, sc.options);
  if (!db) {
    return Fail(
        Error::Io(fmt::format("cannot open the database {}: {}", sc.path, db.error().message())));
  }
  database = std::move(*db);
  incident_store = std::make_unique<store::SqliteIncidentStore>(*database);
  if (auto m = incident_store->Migrate(); !m) return Fail(m.error());
  pager = std::make_unique<LoggingPager>();
  spdlog::warn("pages are only logged: no outbox is wired in yet");
  incidents = std::make_unique<incident::IncidentManager>(
      scheduler, *incident_store, *pager, ScheduleOf(*config), config->policies, config->incidents);
  return incidents->Start();
}

// ---- Acknowledge from anywhere, API authentication (issue 7) ---------------------------------
namespace {
http::InboundConfig InboundConfigOf(const config::Config& main) {
  http::InboundConfig c;
  const auto& p = main.providers;
  if (p.slack) {
    c.slack_signing_secret = p.slack->signing_secret;
    c.slash_command = p.slack->slash_command;
  }
  if (p.pagerduty && !p.pagerduty->webhook_secret.empty()) {
    c.pagerduty_secrets = {p.pagerduty->webhook_secret};
  }
  if (p.opsgenie) c.opsgenie_webhook_token = p.opsgenie->webhook_token;
  return c;
}
}  // namespace

Result<void> App::Impl::StartInbound() {
  api_auth = std::make_unique<http::ApiAuthenticator>(config->api, clock);
  incident_commands = std::make_unique<incident::ManagerIncidentCommands>(*incidents, clock);
  people = std::make_unique<incident::RosterPersonDirectory>(
      [this] { return incidents->schedule(); }, clock);
  auto log = http::MakeSqliteDeliveryLog(*database);
  if (!log) return Fail(log.error());
  inbound_deliveries = std::move(*log);
  slack_client = std::make_unique<CurlHttpClient>();
  slack_workers = std::make_unique<WorkerPool>(2);
  // The slash command's `silence` stays unavailable until dispatch wires SetSilenceCommand.
  inbound = std::make_unique<http::InboundHandlers>(
      InboundConfigOf(config->main), *incident_commands, *people, *inbound_deliveries, scheduler,
      http::MakeResponseUrlPoster(*slack_client, *slack_workers), *registry);
  return {};
}

void App::Impl::ReconfigureInbound() {
  if (api_auth) api_auth->SetConfig(config->api);
  if (inbound) inbound->SetConfig(InboundConfigOf(config->main));
}

void App::Impl::RegisterInboundAndGuards(http::Router& router) {
  if (inbound) inbound->Register(router);
  if (!api_auth) return;
  using http::Role;
  router.AddGuard("/api/v1/", http::MakeApiGuard(*api_auth, Role::kViewer, Role::kResponder));
  router.AddGuard("/api/v2/", http::MakeApiGuard(*api_auth, Role::kViewer, Role::kResponder));
  router.AddGuard("/-/reload", http::MakeApiGuard(*api_auth, Role::kAdmin, Role::kAdmin));
}
// ----------------------------------------------------------------------------------------------

void App::Impl::ScheduleWatchdog() {
  auto interval = notifier.WatchdogPingInterval();
  if (!interval || stopping) return;
  scheduler.ScheduleAfter(*interval, [this] {
    if (stopping) return;
    (void)notifier.Watchdog();
    ScheduleWatchdog();
  });
}

void App::Impl::WaitForSignals() {
  signals.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      (void)owner->Reload();
      WaitForSignals();
    } else {
      spdlog::info("received signal {}, stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      owner->Stop();
    }
  });
}

App::App(boost::asio::io_context& io, const Clock& clock, AppOptions options)
    : impl_(std::make_unique<Impl>(io, clock, std::move(options))) {
  impl_->owner = this;
}

App::~App() {
  if (impl_->server) impl_->server->Stop();
}

Result<void> App::Start() {
  auto loaded = LoadRuntimeConfig(impl_->options.config_file, impl_->options.overrides);
  if (!loaded.config) {
    return Fail(Error::Invalid("invalid configuration:\n" + loaded.diagnostics.ToString()));
  }
  for (const auto& d : loaded.diagnostics.items()) spdlog::warn("{}", d.ToString());
  if (impl_->options.setup_logging) ApplyLogging(loaded.config->main);
  if (auto dir = PrepareDataDir(loaded.config->main.data_dir); !dir) return Fail(dir.error());
  impl_->config = std::move(*loaded.config);
  if (auto inc = impl_->StartIncidents(); !inc) return Fail(inc.error());
  if (auto in = impl_->StartInbound(); !in) return Fail(in.error());  // issue 7

  const auto& s = impl_->config->main.server;
  http::ServerOptions opts;
  std::string err;
  if (!config::ParseListenAddress(s.listen, &opts.host, &opts.port, &err)) {
    return Fail(Error::Invalid(err));
  }
  opts.read_timeout = s.read_timeout;
  opts.idle_timeout = s.idle_timeout;
  opts.max_header_bytes = static_cast<std::uint64_t>(s.max_header_bytes);
  opts.max_body_bytes = static_cast<std::uint64_t>(s.max_body_bytes);
  impl_->server = std::make_unique<http::Server>(impl_->io, opts, *impl_->registry);
  impl_->server->SetRouter(impl_->BuildRouter());
  if (auto started = impl_->server->Start(); !started) {
    impl_->server.reset();
    return Fail(started.error());
  }

  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGHUP);
  impl_->WaitForSignals();

  impl_->reload_ok.Set(1);
  impl_->reload_time.Set(static_cast<double>(ToUnixMillis(impl_->clock.Now())) / 1000.0);
  impl_->ready = true;
  impl_->ScheduleWatchdog();
  spdlog::info("tocsin {} listening on {}:{} (config {}, data {})", Version(), opts.host,
               impl_->server->port(), impl_->config->main.file, impl_->config->main.data_dir);
  (void)impl_->notifier.Ready(fmt::format("serving on port {}", impl_->server->port()));
  return {};
}

Result<void> App::Reload() {
  (void)impl_->notifier.Reloading(impl_->clock.MonotonicMicros());
  auto loaded = LoadRuntimeConfig(impl_->options.config_file, impl_->options.overrides);
  Result<void> result;
  if (!loaded.config) {
    impl_->reload_ok.Set(0);
    impl_->reloads.Add({{"result", "failure"}}).Increment();
    spdlog::error("config reload rejected, still running the previous config:\n{}",
                  loaded.diagnostics.ToString());
    result = Fail(Error::Invalid("config reload rejected:\n" + loaded.diagnostics.ToString()));
    (void)impl_->notifier.Ready("reload rejected; running the previous config");
    return result;
  }
  if (loaded.config->main.server.listen != impl_->config->main.server.listen ||
      loaded.config->main.data_dir != impl_->config->main.data_dir) {
    spdlog::warn("server.listen and data_dir changes take effect at the next restart");
  }
  if (impl_->options.setup_logging) ApplyLogging(loaded.config->main);
  impl_->config = std::move(*loaded.config);
  if (impl_->incidents) {
    // Incidents and their timers live across reloads; the roster and policies are swapped.
    impl_->incidents->Reconfigure(ScheduleOf(*impl_->config), impl_->config->policies,
                                  impl_->config->incidents);
  }
  impl_->ReconfigureInbound();  // issue 7: new tokens and provider secrets apply at once
  impl_->reload_ok.Set(1);
  impl_->reload_time.Set(static_cast<double>(ToUnixMillis(impl_->clock.Now())) / 1000.0);
  impl_->reloads.Add({{"result", "success"}}).Increment();
  spdlog::info("config reloaded from {}", impl_->config->main.file);
  (void)impl_->notifier.Ready("config reloaded");
  return result;
}

void App::Stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  impl_->ready = false;
  (void)impl_->notifier.Stopping();
  boost::system::error_code ec;
  impl_->signals.cancel(ec);
  if (impl_->server) impl_->server->Stop();
  // In-flight work gets shutdown_timeout to finish; then the loop stops regardless.
  auto timeout = impl_->config ? impl_->config->main.server.shutdown_timeout : Duration(0);
  impl_->scheduler.ScheduleAfter(timeout, [this] { impl_->io.stop(); });
  // Stop as soon as the last connection has finished instead of always waiting the timeout.
  impl_->scheduler.Post([this] { impl_->StopWhenDrained(); });
}

void App::Impl::StopWhenDrained() {
  if (server && server->open_connections() > 0) {
    scheduler.ScheduleAfter(std::chrono::milliseconds(50), [this] { StopWhenDrained(); });
    return;
  }
  io.stop();
}

const RuntimeConfig& App::config() const { return *impl_->config; }
dispatch::GroupSink* App::incident_sink() { return impl_->incidents.get(); }
incident::DeliveryObserver* App::delivery_observer() { return impl_->incidents.get(); }
store::Database* App::database() { return impl_->database.get(); }
unsigned short App::http_port() const { return impl_->server ? impl_->server->port() : 0; }
bool App::ready() const { return impl_->ready; }

}  // namespace tocsin::app
