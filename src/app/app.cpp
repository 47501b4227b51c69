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
#include "tocsin/common/log.h"
#include "tocsin/http/server.h"
// notify (issue 6): outbox, providers, notices, heartbeat
#include "notify/heartbeat.h"
#include "notify/notice_sink.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/opsgenie/opsgenie_notifier.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/store/database.h"

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
  std::unique_ptr<http::Server> server;
  TimePoint started_at;
  bool ready = false;
  bool stopping = false;
  App* owner = nullptr;

  // ---- notify (issue 6) -------------------------------------------------------------------
  // LEAD: merge `db` into the one shared Database of the daemon (incident, dispatch and rules
  // open <data_dir>/tocsin.db too); the outbox only needs a store::Database&.
  std::unique_ptr<store::Database> db;
  std::unique_ptr<notify::OutboxStore> outbox_store;
  // The incidents' Pager (LEAD: pass *outbox to the incident manager, and the incident
  // manager's DeliveryObserver to outbox->SetObserver).
  std::unique_ptr<notify::Outbox> outbox;
  // LEAD: the dispatcher's GroupSink for receivers without an escalation policy.
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
  if (!db) {
    auto opened = store::Database::Open(config->main.data_dir + "/tocsin.db");
    if (!opened) return Fail(opened.error());
    db = std::move(*opened);
  }
  outbox_store = std::make_unique<notify::OutboxStore>(*db);
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
  std::shared_ptr<notify::OpsgenieNotifier> opsgenie;
  if (auto it = set.notifiers.find(incident::Channel::kOpsgenie); it != set.notifiers.end()) {
    opsgenie = std::dynamic_pointer_cast<notify::OpsgenieNotifier>(it->second);
  }
  std::size_t providers = set.notifiers.size();
  outbox->Configure(std::move(set), config->notify);
  heartbeat->Start(opsgenie, config->notify.heartbeat_interval);
  spdlog::info("notify: {} provider(s) configured, {} deliveries queued", providers,
               outbox->pending());
}

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
  router->AddSync("POST", "/-/reload", [this](const http::Request&) {
    auto result = owner->Reload();
    if (!result) return http::Response::Text(400, result.error().message() + "\n");
    return http::Response::Text(200, "reloaded\n");
  });
  return router;
}

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
  // notify (issue 6): the outbox is durable before anything can page.
  if (auto notify = impl_->StartNotify(); !notify) return Fail(notify.error());

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
  impl_->ConfigureNotify();
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
  if (impl_->heartbeat) impl_->heartbeat->Stop();
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
unsigned short App::http_port() const { return impl_->server ? impl_->server->port() : 0; }
bool App::ready() const { return impl_->ready; }

}  // namespace tocsin::app
