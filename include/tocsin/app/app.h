#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/app/runtime_config.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/config/config.h"
#include "tocsin/http/router.h"

namespace boost::asio {
class io_context;
}
namespace tocsin::dispatch {
class GroupSink;
}
namespace tocsin::incident {
class DeliveryObserver;
}
namespace tocsin::store {
class Database;
}

namespace tocsin::app {

struct AppOptions {
  std::string config_file;
  config::Overrides overrides;
  // Logs go to stderr unless a test captures them.
  bool setup_logging = true;
  // `serve --instance`: this instance's name in a cluster, overriding ha.instance.
  std::string instance = {};
};

// The composition root of `tocsin serve`: loads the config, builds every component, owns the
// event loop, the HTTP server, signals, reloads and the systemd conversation. Reload rebuilds
// what the config defines and swaps it in; what lives across reloads (HTTP server, metrics
// registry, store) stays. Thread-safety: App's methods are called on the loop thread (signal
// and HTTP handlers run there); the threads it owns are listed in docs/development.md.
class App {
 public:
  App(boost::asio::io_context& io, const Clock& clock, AppOptions options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Loads the config, opens the data directory, binds the listener and installs signal
  // handlers. On error nothing is left running and the diagnostics say why.
  Result<void> Start();
  // Validates the config file whole; on success swaps it in, otherwise keeps the running one.
  // Either way the outcome is logged and exported as tocsin_config_last_reload_successful.
  Result<void> Reload();
  // Runs the event loop on the calling thread until it stops (Stop(), or io.stop()). A task on
  // the loop that throws does not end the process, whose other incidents would then go unpaged
  // until a restart: the exception is logged with what it said, counted in
  // tocsin_task_failures_total{thread="loop"}, and the loop goes on with the next task. What that
  // task had written to the store stays; what it had still to do is not done.
  void Run();
  // Graceful stop: stop accepting, let in-flight work finish within server.shutdown_timeout,
  // then stop the loop.
  void Stop();

  const RuntimeConfig& config() const;
  unsigned short http_port() const;
  // Where dispatched groups go to become incidents (receivers with an escalation policy), and
  // where the outbox reports deliveries. Null before Start().
  dispatch::GroupSink* incident_sink();
  incident::DeliveryObserver* delivery_observer();
  // The one database of the process (store.path), null before Start().
  store::Database* database();
  bool ready() const;
  // Every HTTP route with the access it declares (empty before Start()).
  std::vector<http::Router::RouteInfo> routes() const;
  // What `tocsin serve` exits with once the loop has stopped: 0, or kExitSteppedDown when this
  // instance lost the lease and stopped so that its service manager restarts it as a standby.
  int exit_code() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// EX_TEMPFAIL: the shipped systemd unit (Restart=on-failure) starts the instance again.
inline constexpr int kExitSteppedDown = 75;

// Makes sure `dir` exists and is writable; returns a message naming what to fix otherwise.
Result<void> PrepareDataDir(const std::string& dir);

}  // namespace tocsin::app
