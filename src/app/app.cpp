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

#include "tocsin/api/alertmanager_api.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/incident_api.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/api/roster_person_directory.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/app/systemd_notifier.h"
#include "tocsin/app/version.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/log.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/alert_intake.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silence_command.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/server.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_metrics.h"
#include "tocsin/rules/slo_report.h"
#include "tocsin/source/prometheus_client.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_alert_state_store.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_thread.h"

#include "group_router.h"
#include "notify/heartbeat.h"
#include "notify/notice_sink.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"

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
  Result<void> StartRules();
  void ApplyRules();
  Result<void> StartNotify();
  void ConfigureNotify();
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
  // Receives dispatched groups (GroupSink) and delivery reports (DeliveryObserver).
  std::unique_ptr<incident::IncidentManager> incidents;
  // Writes incident changes with group commit on a connection of its own, so the loop never
  // waits for an fsync. Declared after the incident store and manager: destroyed first, it
  // commits what is still queued while the store those writes belong to still exists.
  std::unique_ptr<store::StoreThread> store_thread;
  Result<void> OpenDatabase();
  Result<void> StartIncidents();
  // --------------------------------------------------------------------------------------------

  // ---- dispatch (issue 4): silences, the alert pipeline and its Alertmanager-compatible API.
  // Declared before `server` so that the server (whose handlers refer to these) goes first,
  // and after `incidents`, which receives the flushed groups.
  std::unique_ptr<dispatch::SqliteSilenceStore> silence_store;
  std::unique_ptr<dispatch::Silences> silences;
  std::unique_ptr<GroupRouter> group_router;
  std::unique_ptr<dispatch::Dispatcher> dispatcher;
  // Posted alert batches: a bounded queue into the dispatcher, applied in chunks.
  std::unique_ptr<dispatch::AlertIntake> alert_intake;
  // One thread parses posted alert batches off the loop (in order); declared after the
  // dispatcher and the intake so that it is joined before they go.
  std::unique_ptr<WorkerPool> alert_parser;
  Result<void> StartDispatch();
  // ---- end dispatch
  // ---- Acknowledge from anywhere, API authentication (issue 7) -------------------------------
  // Slack buttons and slash command, PagerDuty and Opsgenie webhooks act on `incidents`
  // through these adapters; the API routes are guarded by `api_auth`. Built in
  // StartInbound() after StartIncidents(); reload calls ReconfigureInbound(). Members are
  // declared after `incidents` and before `server`, so they outlive every request.
  std::unique_ptr<http::ApiAuthenticator> api_auth;
  std::unique_ptr<incident::ManagerIncidentCommands> incident_commands;
  std::unique_ptr<incident::RosterPersonDirectory> people;
  std::unique_ptr<CurlHttpClient> slack_client;  // answers to Slack's response_url
  std::unique_ptr<WorkerPool> slack_workers;     // ... posted off the loop
  std::unique_ptr<http::InboundHandlers> inbound;
  Result<void> StartInbound();
  void ReconfigureInbound();
  // --------------------------------------------------------------------------------------------

  std::unique_ptr<http::Server> server;
  std::shared_ptr<const http::Router> http_router;  // what `server` routes with

  // ---- Rules engine (issue 3) -----------------------------------------------------------
  // Declared in this order (after `database`) so that destruction runs the evaluator, then the
  // pools (joined: no query or state write still running), then the state store; the shared
  // database goes last.
  std::unique_ptr<rules::SqliteAlertStateStore> rules_state_store;
  std::unique_ptr<WorkerPool> query_pool;
  std::unique_ptr<WorkerPool> state_write_pool;  // one thread: writes stay in order
  std::unique_ptr<rules::Evaluator> evaluator;
  std::unique_ptr<rules::RuleMetrics> rule_metrics;
  std::shared_ptr<HttpClient> source_http = std::make_shared<CurlHttpClient>();
  TimePoint started_at;
  bool ready = false;
  bool stopping = false;
  App* owner = nullptr;

  // ---- notify (issue 6) -------------------------------------------------------------------
  // The outbox is the incidents' Pager and reports deliveries back to them (DeliveryObserver);
  // its tables live in the shared database.
  std::unique_ptr<notify::OutboxStore> outbox_store;
  std::unique_ptr<notify::Outbox> outbox;
  // Receives groups of receivers without an escalation policy (notices only).
  std::unique_ptr<notify::NoticeSink> notice_sink;
  std::unique_ptr<notify::HeartbeatPinger> heartbeat;
  // Declared last so it is destroyed first: in-flight deliveries finish while the outbox and
  // its database still exist.
  std::unique_ptr<WorkerPool> notify_workers;
};

// Builds the outbox once (it lives across reloads: queued pages survive them) and the
// notifiers from the current config.
Result<void> App::Impl::StartNotify() {
  notify_workers = std::make_unique<WorkerPool>(2);
  outbox_store = std::make_unique<notify::OutboxStore>(*database);
  outbox =
      std::make_unique<notify::Outbox>(*outbox_store, scheduler, *notify_workers, registry.get());
  if (auto opened = outbox->Open(); !opened) return opened;
  notice_sink = std::make_unique<notify::NoticeSink>(*outbox);
  heartbeat = std::make_unique<notify::HeartbeatPinger>(scheduler, *notify_workers);
  ConfigureNotify();
  return {};
}

// Start and every reload: new notifiers and settings, same outbox and queue.
void App::Impl::ConfigureNotify() {
  const auto& main = config->main;
  notify::RenderOptions render;
  render.runbook_base_url = main.runbook_base_url;
  render.external_url = main.server.external_url;
  render.templates_dir = config->notify.templates_dir;
  auto renderer = notify::PageRenderer::Create(render);
  if (!renderer) {
    // LoadRuntimeConfig checked the templates; a file changed since then keeps the old set.
    spdlog::error("notify: {}; keeping the previous notifiers", renderer.error().message());
    return;
  }
  notify::NotifierDeps deps;
  deps.renderer = *renderer;
  deps.http = std::make_shared<CurlHttpClient>();
  deps.slack_threads = outbox_store.get();
  auto set = notify::BuildNotifiers(main.providers, deps);
  std::size_t providers = set.notifiers.size();
  heartbeat->Start(set.WithHeartbeat(), config->notify.heartbeat_interval);
  outbox->Configure(std::move(set), config->notify);
  spdlog::info("notify: {} provider(s) configured, {} deliveries queued", providers,
               outbox->pending());
}

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
  if (incidents) incident::RegisterIncidentApi(*router, *incidents, clock);
  router->AddSync("GET", "/api/v1/slos", Access::kViewer, [this](const http::Request&) {
    if (!evaluator) return http::Response::Json(503, R"({"error":"rules engine not started"})");
    return http::Response::Json(
        200, rules::SloReportJson(evaluator->SloStatuses(), evaluator->SourceStatuses()));
  });
  // Dispatch: Alertmanager API v2 (Prometheus, amtool) and GET /api/v1/groups.
  dispatch::RegisterAlertmanagerApi(
      *router, *dispatcher, *silences, clock,
      {std::string(Version()), std::string(Revision()), std::string(BuildDate()), started_at},
      alert_intake.get());
  if (inbound) inbound->Register(*router);  // Slack and provider webhooks: signed
  router->AddSync("POST", "/-/reload", Access::kAdmin, [this](const http::Request&) {
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

// The one database of the process, opened before any module that keeps state.
Result<void> App::Impl::OpenDatabase() {
  const auto& sc = config->store;
  auto db = store::Database::Open(sc.path, sc.options);
  if (!db) {
    return Fail(
        Error::Io(fmt::format("cannot open the database {}: {}", sc.path, db.error().message())));
  }
  database = std::move(*db);
  auto writer = store::StoreThread::Open(
      sc.path, sc.options, [this](std::function<void()> cb) { scheduler.Post(std::move(cb)); });
  if (!writer) {
    return Fail(Error::Io(
        fmt::format("cannot open the database {}: {}", sc.path, writer.error().message())));
  }
  store_thread = std::move(*writer);
  return {};
}

Result<void> App::Impl::StartIncidents() {
  incident_store = std::make_unique<store::SqliteIncidentStore>(*database, store_thread.get());
  if (auto m = incident_store->Migrate(); !m) return Fail(m.error());
  incidents = std::make_unique<incident::IncidentManager>(scheduler, *incident_store, *outbox,
                                                          ScheduleOf(*config), config->policies,
                                                          config->incidents, registry.get());
  // Delivery results land in the incidents' timelines.
  outbox->SetObserver(incidents.get());
  return incidents->Start();
}

// Rules engine: SLI sources, the evaluator on the loop with a worker pool for queries, alert
// state in the shared database, metrics on our registry. Alerts go to the dispatcher.
Result<void> App::Impl::StartRules() {
  auto st = rules::SqliteAlertStateStore::Open(*database);
  if (!st) return Fail(st.error());
  rules_state_store = std::move(*st);
  query_pool = std::make_unique<WorkerPool>(4);
  state_write_pool = std::make_unique<WorkerPool>(1);
  evaluator = std::make_unique<rules::Evaluator>(scheduler, *query_pool, *dispatcher);
  evaluator->SetStateStore(rules_state_store.get(), state_write_pool.get());
  if (auto restored = evaluator->RestoreState(); !restored) {
    // Losing pending counts is better than not alerting at all.
    spdlog::error("rules: cannot restore alert state, starting from zero: {}",
                  restored.error().message());
  }
  rule_metrics = std::make_unique<rules::RuleMetrics>(*registry);
  ApplyRules();
  evaluator->Start();
  spdlog::info("rules: {} SLOs and {} threshold rules in {} groups", config->rules.slo_count(),
               config->rules.rule_count(), config->rules.groups.size());
  return {};
}

// (Re)installs sources and rules from `config`; state of unchanged rules is kept.
void App::Impl::ApplyRules() {
  rules::Evaluator::SourceMap sources;
  for (const auto& s : config->main.sources) {
    sources[s.name] = std::make_shared<source::PrometheusClient>(s, source_http);
  }
  evaluator->SetSources(std::move(sources));
  evaluator->SetRules(std::make_shared<const rules::RuleSet>(config->rules));
}

Result<void> App::Impl::StartDispatch() {
  if (auto m = database->Migrate(dispatch::SqliteSilenceStore::Migrations()); !m) {
    return Fail(m.error());
  }
  silence_store = std::make_unique<dispatch::SqliteSilenceStore>(*database);
  silences = std::make_unique<dispatch::Silences>(*silence_store);
  if (auto loaded = silences->Load(); !loaded) return Fail(loaded.error());
  // Rules and the Alertmanager API feed the dispatcher; its groups go to incidents.
  group_router = std::make_unique<GroupRouter>(*incidents, *notice_sink);
  dispatcher = std::make_unique<dispatch::Dispatcher>(scheduler, *group_router, *silences,
                                                      *registry, config->dispatch);
  alert_parser = std::make_unique<WorkerPool>(1);
  dispatch::AlertIntakeOptions intake;
  intake.queue_batches = config->dispatch.alertmanager.intake_queue_batches;
  alert_intake = std::make_unique<dispatch::AlertIntake>(
      *dispatcher, scheduler, *alert_parser, dispatch::ParsePostedAlerts, *registry, intake);
  return {};
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
  slack_client = std::make_unique<CurlHttpClient>();
  slack_workers = std::make_unique<WorkerPool>(2);
  inbound = std::make_unique<http::InboundHandlers>(
      InboundConfigOf(config->main), *incident_commands, *people, scheduler,
      http::MakeResponseUrlPoster(*slack_client, *slack_workers), *registry);
  inbound->SetSilenceCommand(
      [this](const std::vector<std::string>& words, const std::string& actor) {
        return dispatch::RunSilenceCommand(*silences, words, actor, clock.Now());
      });
  return {};
}

void App::Impl::ReconfigureInbound() {
  if (api_auth) api_auth->SetConfig(config->api);
  if (inbound) inbound->SetConfig(InboundConfigOf(config->main));
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
  // Signals first: once the port is open anyone may send SIGHUP, and its default action would
  // kill the daemon. Handlers run on the loop, so a signal during start waits for it.
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGHUP);
  impl_->WaitForSignals();
  auto loaded = LoadRuntimeConfig(impl_->options.config_file, impl_->options.overrides);
  if (!loaded.config) {
    return Fail(Error::Invalid("invalid configuration:\n" + loaded.diagnostics.ToString()));
  }
  for (const auto& d : loaded.diagnostics.items()) spdlog::warn("{}", d.ToString());
  if (impl_->options.setup_logging) ApplyLogging(loaded.config->main);
  if (auto dir = PrepareDataDir(loaded.config->main.data_dir); !dir) return Fail(dir.error());
  impl_->config = std::move(*loaded.config);
  // Order matters: the database, then the outbox (durable before anything can page), then
  // incidents (which may re-send pages on start), then the dispatcher that feeds them.
  if (auto db = impl_->OpenDatabase(); !db) return Fail(db.error());
  if (auto notify = impl_->StartNotify(); !notify) return Fail(notify.error());
  if (auto inc = impl_->StartIncidents(); !inc) return Fail(inc.error());
  if (auto d = impl_->StartDispatch(); !d) return Fail(d.error());
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
  opts.max_connections = static_cast<std::size_t>(s.max_connections);
  impl_->server = std::make_unique<http::Server>(impl_->io, opts, *impl_->registry);
  impl_->http_router = impl_->BuildRouter();
  impl_->server->SetRouter(impl_->http_router);
  if (auto started = impl_->server->Start(); !started) {
    impl_->server.reset();
    return Fail(started.error());
  }

  if (auto rules_started = impl_->StartRules(); !rules_started) {
    impl_->server->Stop();
    impl_->server.reset();
    return Fail(rules_started.error());
  }

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
  // Every alert update received before the reload is applied before anything is swapped:
  // batches still being parsed or waiting for the loop would otherwise land after it.
  if (impl_->alert_intake) impl_->alert_intake->ApplyAll();
  impl_->config = std::move(*loaded.config);
  if (impl_->incidents) {
    // Incidents and their timers live across reloads; the roster and policies are swapped.
    impl_->incidents->Reconfigure(ScheduleOf(*impl_->config), impl_->config->policies,
                                  impl_->config->incidents);
  }
  if (impl_->evaluator) impl_->ApplyRules();
  // Dispatch: new routes, inhibit rules and maintenance windows; groups and silences stay.
  impl_->dispatcher->ApplyConfig(impl_->config->dispatch);
  impl_->alert_intake->SetQueueBatches(impl_->config->dispatch.alertmanager.intake_queue_batches);
  impl_->ConfigureNotify();
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
  if (impl_->evaluator) impl_->evaluator->Stop();
  if (impl_->heartbeat) impl_->heartbeat->Stop();
  // No ladder step, retry or delivery starts during the drain; what was decided is durable
  // (page intents, outbox rows) and goes on at the next start.
  if (impl_->incidents) impl_->incidents->Stop();
  if (impl_->outbox) impl_->outbox->Stop();
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
std::vector<http::Router::RouteInfo> App::routes() const {
  return impl_->http_router ? impl_->http_router->Routes() : std::vector<http::Router::RouteInfo>{};
}

}  // namespace tocsin::app
