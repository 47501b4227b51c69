#pragma once

// The state of the composition root, shared by the files of src/app/ that each wire one part:
// app.cpp (lifecycle: start, reload, stop, signals), notify_wiring.cpp, inbound_wiring.cpp,
// module_wiring.cpp (store, incidents, dispatch, rules) and routes.cpp. Members are declared
// in the order that makes destruction safe (see the comments at each group); the component
// types are only forward-declared here so that each of those files compiles just the headers
// of the parts it wires. Thread-safety: its members are touched on the loop thread; it owns the
// store thread and the worker pools, whose work reaches the loop only by Scheduler::Post
// (docs/development.md lists every thread and what may run on it).

#include <memory>
#include <optional>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "tocsin/api/oncall_api.h"
#include "tocsin/app/app.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/app/systemd_notifier.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/log.h"
#include "tocsin/common/result.h"
#include "tocsin/http/router.h"
#include "tocsin/oncall/override_store.h"

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Registry;
}
namespace tocsin {
class CurlHttpClient;
class HttpClient;
class WorkerPool;
}  // namespace tocsin
namespace tocsin::dispatch {
class AlertIntake;
class Dispatcher;
class Silences;
class SqliteSilenceStore;
}  // namespace tocsin::dispatch
namespace tocsin::http {
class ApiAuthenticator;
class InboundHandlers;
class TwilioInbound;
class Server;
}  // namespace tocsin::http
namespace tocsin::incident {
class IncidentManager;
class ManagerIncidentCommands;
class RosterPersonDirectory;
}  // namespace tocsin::incident
namespace tocsin::notify {
class HeartbeatPinger;
class NoticeSink;
class Outbox;
class OutboxStore;
class ResponderRequestStore;
}  // namespace tocsin::notify
namespace tocsin::oncall {
class Schedule;
}
namespace tocsin::panel {
class Panel;
}
namespace tocsin::rules {
class Evaluator;
class RuleMetrics;
class SqliteAlertStateStore;
}  // namespace tocsin::rules
namespace tocsin::report {
class OncallMetrics;
class OncallMetricsRefresher;
class PostmortemReminder;
}  // namespace tocsin::report
namespace tocsin::store {
class Database;
class SqliteDeliveryLog;
class SqliteIncidentStore;
class SqliteOverrideStore;
class StoreThread;
}  // namespace tocsin::store
namespace tocsin::ha {
class HaCoordinator;
class ChangeQueue;
class HaStatusSource;
class LeaseStore;
enum class Role;
}  // namespace tocsin::ha
namespace tocsin::app {

class ChangeRelay;
class GroupRouter;
class StandbySilenceStore;

// The roster as the incidents see it, with the overrides added through the API; null when the
// config has none.
std::shared_ptr<const oncall::Schedule> ScheduleOf(const RuntimeConfig& cfg,
                                                   const std::vector<oncall::Override>& added = {});

struct App::Impl {
  // Constructor and destructor live in app.cpp, where every member's type is complete.
  Impl(boost::asio::io_context& io_context, const Clock& c, AppOptions opts);
  ~Impl();

  std::shared_ptr<const http::Router> BuildRouter();  // routes.cpp
  Result<void> StartRules();                          // module_wiring.cpp
  void ApplyRules();                                  // module_wiring.cpp
  Result<void> StartNotify();                         // notify_wiring.cpp
  void ConfigureNotify();                             // notify_wiring.cpp
  void ScheduleWatchdog();                            // app.cpp
  // A pool whose tasks that throw are counted in tocsin_task_failures_total{thread=name}.
  std::unique_ptr<WorkerPool> MakePool(std::size_t threads, const std::string& name);  // app.cpp
  void WaitForSignals();                                                               // app.cpp
  void StopWhenDrained();                                                              // app.cpp
  void FinishStop();                                                                   // app.cpp
  // ---- High availability (issue 14), ha_wiring.cpp ------------------------------------------
  // On PostgreSQL the instance starts as a standby: it serves the API, takes alert intake and
  // webhooks, but evaluates no rule, walks no ladder and sends nothing until the coordinator
  // gives it the lease (OnRoleChange). On SQLite it is the only instance, active from the start.
  Result<void> StartHa();
  void OnRoleChange(ha::Role role, std::int64_t epoch, const std::string& why);
  Result<void> StartActiveParts();
  const ha::HaStatusSource& ha_status() const;
  // What a standby answers to a change it may not make.
  std::string StandbyRefusal() const;
  void FenceAsStandby();
  // A standby's incident changes go to the active through the database (after StartIncidents).
  void WireChangeRelay();
  void ScheduleStandbyReads();
  // A standby reads the silence list on `oncall_pool` over `silence_reader` and takes it on
  // the loop (unless it became the active meanwhile, which read it afresh); `done` on the loop.
  void ReloadStandbySilences(std::function<void(Result<void>)> done);
  // The same for the on-call overrides added through the API (over `override_reader`).
  void ReloadStandbyOverrides(std::function<void(Result<void>)> done);
  template <typename T>
  void StandbyRead(std::function<Result<T>()> read, std::function<void(T)> take,
                   std::function<void(Result<void>)> done);
  // Puts `loaded` (every stored override) in force on top of the roster file, unless it is
  // what is in force already.
  void TakeOverrides(std::vector<oncall::RecordedOverride> loaded);
  bool active = true;
  int exit_code = 0;

  boost::asio::io_context& io;
  const Clock& clock;
  AppOptions options;
  AsioScheduler scheduler;
  std::shared_ptr<prometheus::Registry> registry;
  SystemdNotifier notifier;
  // SIGTERM, SIGINT and SIGHUP (a boost::asio::signal_set, defined in app.cpp so that only
  // that file compiles Asio's signal handling).
  struct Signals;
  std::unique_ptr<Signals> signals;
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Gauge& reload_ok;
  prometheus::Gauge& reload_time;
  prometheus::Gauge& uptime;
  prometheus::Gauge& start_time;
  prometheus::Family<prometheus::Counter>& task_failures;
  // Made at start (0), so that the first failure is an increase a rule can see.
  prometheus::Counter& loop_task_failures;
  log::RepeatLimiter loop_throws;  // the loop's task failures, in the log
  void LoopTaskFailed(const char* what);
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
  // Post-mortem reminders and the on-call figures on /metrics (issue 17), after `incidents`
  // (destroyed before it). The figures are computed on `oncall_pool` over a read connection
  // of their own; the refresher goes first, then the pool is joined, then what it read.
  std::unique_ptr<report::PostmortemReminder> postmortem_reminder;
  std::unique_ptr<store::Database> oncall_database;
  std::unique_ptr<store::SqliteIncidentStore> oncall_store;
  // A standby's reads of the silences and overrides the active writes, on `oncall_pool` over
  // `oncall_database` (ha_wiring.cpp).
  std::unique_ptr<dispatch::SqliteSilenceStore> silence_reader;
  std::unique_ptr<store::SqliteOverrideStore> override_reader;
  std::unique_ptr<report::OncallMetrics> oncall_metrics;
  std::unique_ptr<WorkerPool> oncall_pool;
  std::unique_ptr<report::OncallMetricsRefresher> oncall_refresher;
  Result<void> StartReports();    // module_wiring.cpp
  Result<void> OpenDatabase();    // module_wiring.cpp
  Result<void> StartIncidents();  // module_wiring.cpp
  // On-call overrides added through the API (issue 16), durable in `database`, in force on
  // top of the roster file's across reloads; and the outbox's deliveries as a log to read.
  std::unique_ptr<store::SqliteOverrideStore> override_store;
  std::vector<oncall::Override> added_overrides;
  std::vector<oncall::RecordedOverride> recorded_overrides;  // the same, as GET lists them
  // Overrides checked but not yet durable, shared by the API's and the panel's routes.
  std::shared_ptr<std::vector<oncall::Override>> overrides_in_flight =
      std::make_shared<std::vector<oncall::Override>>();
  // What POST /api/v1/oncall/overrides does, for an override a standby forwarded (routes.cpp).
  oncall::OverrideAdder override_adder;
  std::unique_ptr<store::SqliteDeliveryLog> delivery_log;
  Result<void> OpenPanelStores();  // module_wiring.cpp
  // --------------------------------------------------------------------------------------------

  // ---- dispatch (issue 4): silences, the alert pipeline and its Alertmanager-compatible API.
  // Declared before `server` so that the server (whose handlers refer to these) goes first,
  // and after `incidents`, which receives the flushed groups.
  std::unique_ptr<dispatch::SqliteSilenceStore> silence_store;
  std::unique_ptr<StandbySilenceStore> silence_gate;  // refuses writes on a standby (issue 14)
  std::unique_ptr<dispatch::Silences> silences;
  std::unique_ptr<GroupRouter> group_router;
  std::unique_ptr<dispatch::Dispatcher> dispatcher;
  // Posted alert batches: a bounded queue into the dispatcher, applied in chunks.
  std::unique_ptr<dispatch::AlertIntake> alert_intake;
  // One thread parses posted alert batches off the loop (in order); declared after the
  // dispatcher and the intake so that it is joined before they go.
  std::unique_ptr<WorkerPool> alert_parser;
  Result<void> StartDispatch();  // module_wiring.cpp
  // When this instance becomes active (at start, or a standby's promotion, after the incidents
  // started): the alerts open incidents announced as firing go back to the dispatcher
  // (Dispatcher::Recall), so that a resolve received after a restart resolves them. A promoted
  // standby recalls only the groups it has not heard of (it holds the others' latest flush, or
  // its dispatcher has them). module_wiring.cpp.
  void RecallOpenIncidents();
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
  std::unique_ptr<http::TwilioInbound> twilio_inbound;  // SMS replies and keypresses
  Result<void> StartInbound();                          // inbound_wiring.cpp
  void ReconfigureInbound();                            // inbound_wiring.cpp
  // --------------------------------------------------------------------------------------------

  std::unique_ptr<http::Server> server;
  std::shared_ptr<const http::Router> http_router;  // what `server` routes with
  // The /api/v1 routes, on `server` and on the panel's listener (with the panel's guard).
  void AddApiRoutes(http::Router& router);  // routes.cpp

  // ---- The web panel (issue 16): its own listener, after everything its handlers use, so it
  // goes first. Null without a `panel:` section.
  std::unique_ptr<panel::Panel> panel;
  std::shared_ptr<prometheus::Registry> panel_registry;
  std::unique_ptr<http::Server> panel_server;
  Result<void> StartPanel();  // panel_wiring.cpp
  void ReconfigurePanel();    // panel_wiring.cpp

  // ---- Rules engine (issue 3) -----------------------------------------------------------
  // Declared in this order (after `database`) so that destruction runs the evaluator, then the
  // pools (joined: no query or state write still running), then the state store; the shared
  // database goes last.
  std::unique_ptr<rules::SqliteAlertStateStore> rules_state_store;
  std::unique_ptr<WorkerPool> query_pool;
  std::unique_ptr<WorkerPool> state_write_pool;  // one thread: writes stay in order
  std::unique_ptr<rules::Evaluator> evaluator;
  std::unique_ptr<rules::RuleMetrics> rule_metrics;
  std::shared_ptr<HttpClient> source_http;  // one curl client shared by the SLI sources
  TimePoint started_at;
  bool ready = false;
  bool stopping = false;
  App* owner = nullptr;

  // ---- notify (issue 6) -------------------------------------------------------------------
  // The outbox is the incidents' Pager and reports deliveries back to them (DeliveryObserver);
  // its tables live in the shared database.
  std::unique_ptr<notify::OutboxStore> outbox_store;
  // PagerDuty responder requests accepted, so a restart does not page a person twice.
  std::unique_ptr<notify::ResponderRequestStore> responder_requests;
  std::unique_ptr<notify::Outbox> outbox;
  // Receives groups of receivers without an escalation policy (notices only).
  std::unique_ptr<notify::NoticeSink> notice_sink;
  std::unique_ptr<notify::HeartbeatPinger> heartbeat;
  // In-flight and queued deliveries finish while the outbox and its database still exist
  // (declared after them), and while the HA coordinator the send gate asks still exists: the
  // HA members are declared after this pool, so ~Impl joins it first.
  std::unique_ptr<WorkerPool> notify_workers;

  // ---- High availability (issue 14): after everything the role change acts on, so they go
  // first. The pool is joined before the lease store it calls goes.
  std::unique_ptr<ha::HaStatusSource> single_instance;  // SQLite
  std::unique_ptr<ha::LeaseStore> lease_store;          // PostgreSQL
  std::unique_ptr<WorkerPool> ha_pool;
  std::unique_ptr<ha::HaCoordinator> ha_coordinator;
  // Changes people ask a standby for, carried to the active (ChangeRelay). The relay goes
  // first, then its pool is joined, then the queue it calls.
  std::unique_ptr<ha::ChangeQueue> change_queue;
  std::unique_ptr<WorkerPool> change_pool;
  std::unique_ptr<ChangeRelay> change_relay;
};

}  // namespace tocsin::app
