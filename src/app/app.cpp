// The composition root's lifecycle: App's constructor, Start (the order in which the parts are
// built), Reload, Stop, signals and the systemd watchdog. The parts themselves are wired in
// module_wiring.cpp, notify_wiring.cpp, inbound_wiring.cpp and routes.cpp (see app_impl.h).
#include "tocsin/app/app.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app_impl.h"
#include "group_router.h"
#include "notify/heartbeat.h"
#include "notify/notice_sink.h"
#include "notify/outbox.h"
#include "standby_silence_store.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/api/roster_person_directory.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/app/version.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/log.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/alert_intake.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/ha/ha_coordinator.h"
#include "tocsin/ha/ha_status.h"
#include "tocsin/ha/lease_store.h"
#include "tocsin/http/api_auth.h"
#include "tocsin/http/server.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/notify/outbox_store.h"
#include "tocsin/notify/responder_request_store.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/panel/panel.h"
#include "tocsin/report/oncall_metrics.h"
#include "tocsin/report/postmortem_reminder.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_metrics.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_alert_state_store.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_thread.h"

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

struct App::Impl::Signals {
  explicit Signals(boost::asio::io_context& io_context) : set(io_context) {}
  boost::asio::signal_set set;
};

App::Impl::Impl(boost::asio::io_context& io_context, const Clock& c, AppOptions opts)
    : io(io_context),
      clock(c),
      options(std::move(opts)),
      scheduler(io_context, c),
      registry(std::make_shared<prometheus::Registry>()),
      notifier(SystemdNotifier::FromEnvironment()),
      signals(std::make_unique<Signals>(io_context)),
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
                     .Add({})),
      task_failures(prometheus::BuildCounter()
                        .Name("tocsin_task_failures_total")
                        .Help("Tasks that threw, by thread (the loop or a pool); it went on.")
                        .Register(*registry)),
      loop_task_failures(task_failures.Add({{"thread", "loop"}})),
      source_http(std::make_shared<CurlHttpClient>()) {
  prometheus::BuildGauge()
      .Name("tocsin_build_info")
      .Help("Build information; the value is always 1.")
      .Register(*registry)
      .Add({{"version", std::string(Version())}, {"revision", std::string(Revision())}})
      .Set(1);
  started_at = clock.Now();
  start_time.Set(static_cast<double>(ToUnixMillis(started_at)) / 1000.0);
}

// Members go in reverse order of declaration; see app_impl.h for why that order is safe.
App::Impl::~Impl() {
  // A delivery still queued on the notify workers asks the outbox's send gate, which asks the
  // HA coordinator: that is declared after the pool and so destroyed before it. The pool's
  // work ends here, while everything it reaches exists.
  if (notify_workers) notify_workers->Join();
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
  signals->set.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      WaitForSignals();  // first: a reload that fails in any way still leaves SIGTERM answered
      (void)owner->Reload();
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
  if (impl_->panel) impl_->panel->Stop();
  if (impl_->panel_server) impl_->panel_server->Stop();
}

Result<void> App::Start() {
  // Signals first: once the port is open anyone may send SIGHUP, and its default action would
  // kill the daemon. Handlers run on the loop, so a signal during start waits for it.
  impl_->signals->set.add(SIGTERM);
  impl_->signals->set.add(SIGINT);
  impl_->signals->set.add(SIGHUP);
  impl_->WaitForSignals();
  auto loaded = LoadRuntimeConfig(impl_->options.config_file, impl_->options.overrides);
  if (!loaded.config) {
    return Fail(Error::Invalid("invalid configuration:\n" + loaded.diagnostics.ToString()));
  }
  // log.format first, so that every line of this stream has the format the config chose.
  if (impl_->options.setup_logging) ApplyLogging(loaded.config->main);
  for (const auto& d : loaded.diagnostics.items()) spdlog::warn("{}", d.ToString());
  if (auto dir = PrepareDataDir(loaded.config->main.data_dir); !dir) return Fail(dir.error());
  impl_->config = std::move(*loaded.config);
  // Order matters: the database, then the outbox (durable before anything can page), then
  // incidents (which may re-send pages on start), then the dispatcher that feeds them.
  if (auto db = impl_->OpenDatabase(); !db) return Fail(db.error());
  if (auto h = impl_->StartHa(); !h) return Fail(h.error());  // issue 14: active or standby
  if (auto notify = impl_->StartNotify(); !notify) return Fail(notify.error());
  if (auto inc = impl_->StartIncidents(); !inc) return Fail(inc.error());
  if (auto rep = impl_->StartReports(); !rep) return Fail(rep.error());  // issue 17
  if (auto d = impl_->StartDispatch(); !d) return Fail(d.error());
  if (impl_->active) impl_->RecallOpenIncidents();
  if (auto in = impl_->StartInbound(); !in) return Fail(in.error());  // issue 7
  if (auto p = impl_->StartPanel(); !p) return Fail(p.error());       // issue 16

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
  // The last module has run its migrations: from here a standby's writes are refused by the
  // database itself (App::Impl::FenceAsStandby).
  if (!impl_->active) impl_->FenceAsStandby();

  impl_->reload_ok.Set(1);
  impl_->reload_time.Set(static_cast<double>(ToUnixMillis(impl_->clock.Now())) / 1000.0);
  impl_->ready = true;
  if (impl_->ha_coordinator) impl_->ha_coordinator->Start();
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
    // One line per problem: a log line never holds a newline (log.h).
    spdlog::error("config reload rejected, still running the previous config: {} problem(s)",
                  loaded.diagnostics.items().size());
    for (const auto& d : loaded.diagnostics.items()) {
      spdlog::error("config reload rejected: {}", d.ToString());
    }
    result = Fail(Error::Invalid("config reload rejected:\n" + loaded.diagnostics.ToString()));
    (void)impl_->notifier.Ready("reload rejected; running the previous config");
    return result;
  }
  if (loaded.config->main.server.listen != impl_->config->main.server.listen ||
      loaded.config->main.data_dir != impl_->config->main.data_dir) {
    spdlog::warn("server.listen and data_dir changes take effect at the next restart");
  }
  if (loaded.config->main.log.format != impl_->config->main.log.format) {
    // One stream, one format: a parser reading it would break on the first line of the other.
    spdlog::warn("log.format changes take effect at the next restart");
    loaded.config->main.log.format = impl_->config->main.log.format;
  }
  if (impl_->options.setup_logging) ApplyLogging(loaded.config->main);
  // Every alert update received before the reload is applied before anything is swapped:
  // batches still being parsed or waiting for the loop would otherwise land after it.
  if (impl_->alert_intake) impl_->alert_intake->ApplyAll();
  {
    // The cluster identity and the lease belong to the running process (its coordinator and
    // relay hold them): a reload keeps them, --instance and the host-name default included.
    // Without this, the file's section (no instance name) replaced them, and a role change
    // after a reload announced "instance ** is now the active instance".
    auto next = loaded.config->ha;
    if (!impl_->options.instance.empty()) next.instance = impl_->options.instance;
    if (next.instance.empty()) next.instance = ha::DefaultInstanceName();
    if (!(next == impl_->config->ha)) spdlog::warn("ha: changes take effect at the next restart");
    loaded.config->ha = impl_->config->ha;
  }
  impl_->config = std::move(*loaded.config);
  if (impl_->incidents) {
    // Incidents and their timers live across reloads; the roster and policies are swapped.
    impl_->incidents->Reconfigure(ScheduleOf(*impl_->config, impl_->added_overrides),
                                  impl_->config->policies, impl_->config->incidents);
  }
  if (impl_->evaluator) impl_->ApplyRules();
  // Dispatch: new routes, inhibit rules and maintenance windows; groups and silences stay.
  if (auto kept = impl_->dispatcher->ApplyConfig(impl_->config->dispatch); kept > 0) {
    spdlog::info(
        "dispatch: {} announced group(s) the new routes group differently keep their firing "
        "alerts, and their incidents, until those resolve (GET /api/v1/groups: keptFromReload)",
        kept);
  }
  impl_->alert_intake->SetQueueBatches(impl_->config->dispatch.alertmanager.intake_queue_batches);
  impl_->ConfigureNotify();
  impl_->ReconfigureInbound();  // issue 7: new tokens and provider secrets apply at once
  impl_->ReconfigurePanel();    // issue 16: tokens, proxies and ladders
  impl_->reload_ok.Set(1);
  impl_->reload_time.Set(static_cast<double>(ToUnixMillis(impl_->clock.Now())) / 1000.0);
  impl_->reloads.Add({{"result", "success"}}).Increment();
  spdlog::info("config reloaded from {}", impl_->config->main.file);
  (void)impl_->notifier.Ready("config reloaded");
  return result;
}

std::unique_ptr<WorkerPool> App::Impl::MakePool(std::size_t threads, const std::string& name) {
  auto& failures = task_failures.Add({{"thread", name}});
  return std::make_unique<WorkerPool>(threads, name, [&failures] { failures.Increment(); });
}

void App::Run() {
  // After a handler throws, Asio lets run() be called again without restart(): the queue and
  // every pending operation are intact.
  for (;;) {
    try {
      impl_->io.run();
      return;
    } catch (const std::exception& e) {
      impl_->LoopTaskFailed(e.what());
    } catch (...) {
      impl_->LoopTaskFailed("not a std::exception");
    }
  }
}

void App::Impl::LoopTaskFailed(const char* what) {
  loop_task_failures.Increment();
  if (auto note = loop_throws.Pass(what, clock.MonotonicMicros())) {
    spdlog::error("a task on the event loop failed and was abandoned: {}; tocsin goes on{}", what,
                  *note);
  }
}

void App::Stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  impl_->ready = false;
  (void)impl_->notifier.Stopping();
  if (impl_->evaluator) impl_->evaluator->Stop();
  // Resolves waiting for their group's next flush are told now, while the incidents still
  // take them: tocsin's rules have forgotten those series, and would not send them again.
  if (impl_->dispatcher && impl_->incidents) impl_->dispatcher->FlushResolves(impl_->clock.Now());
  if (impl_->heartbeat) impl_->heartbeat->Stop();
  // No ladder step, retry or delivery starts during the drain; what was decided is durable
  // (page intents, outbox rows) and goes on at the next start.
  if (impl_->postmortem_reminder) impl_->postmortem_reminder->Stop();
  if (impl_->oncall_refresher) impl_->oncall_refresher->Stop();
  if (impl_->incidents) impl_->incidents->Stop();
  if (impl_->outbox) impl_->outbox->Stop();
  // The lease goes back in FinishStop, after the drain: stepping down now would make this
  // instance a standby (read-only, fenced) while the resolves flushed above still commit.
  boost::system::error_code ec;
  impl_->signals->set.cancel(ec);
  if (impl_->panel) impl_->panel->Stop();  // answers held live-update requests
  if (impl_->panel_server) impl_->panel_server->Stop();
  if (impl_->server) impl_->server->Stop();
  // In-flight work gets shutdown_timeout to finish; then the loop stops regardless.
  auto timeout = impl_->config ? impl_->config->main.server.shutdown_timeout : Duration(0);
  impl_->scheduler.ScheduleAfter(timeout, [this] { impl_->FinishStop(); });
  // Stop as soon as the last connection has finished instead of always waiting the timeout.
  impl_->scheduler.Post([this] { impl_->StopWhenDrained(); });
}

void App::Impl::StopWhenDrained() {
  // Also the incident changes in progress: the resolves the stop flushed commit, and resolve
  // their incidents, in their completions on this loop.
  if ((server && server->open_connections() > 0) ||
      (panel_server && panel_server->open_connections() > 0) ||
      (incidents && incidents->changing())) {
    scheduler.ScheduleAfter(std::chrono::milliseconds(50), [this] { StopWhenDrained(); });
    return;
  }
  FinishStop();
}

void App::Impl::FinishStop() {
  // The outbox stopped, the drain is over: this instance sends and commits nothing more, so the
  // lease goes back (a standby takes over at once rather than at its expiry).
  if (ha_coordinator) ha_coordinator->Stop();
  io.stop();
}

const RuntimeConfig& App::config() const { return *impl_->config; }
dispatch::GroupSink* App::incident_sink() { return impl_->incidents.get(); }
incident::DeliveryObserver* App::delivery_observer() { return impl_->incidents.get(); }
store::Database* App::database() { return impl_->database.get(); }
unsigned short App::http_port() const { return impl_->server ? impl_->server->port() : 0; }
bool App::ready() const { return impl_->ready; }
int App::exit_code() const { return impl_->exit_code; }
std::vector<http::Router::RouteInfo> App::routes() const {
  return impl_->http_router ? impl_->http_router->Routes() : std::vector<http::Router::RouteInfo>{};
}

}  // namespace tocsin::app
