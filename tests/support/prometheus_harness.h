#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace tocsin::testing {

// The real Prometheus server (Debian package `prometheus`), started on a free loopback port
// with a generated config: it scrapes the given targets every `scrape_interval`, evaluates the
// given rule files, and sends alerts to the given Alertmanager-API targets (e.g. tocsin).
// Stopped (SIGTERM, then SIGKILL) on destruction.
class PrometheusHarness {
 public:
  struct Options {
    std::vector<std::string> scrape_targets;        // "127.0.0.1:PORT"
    std::vector<std::string> rule_files;            // absolute paths
    std::vector<std::string> alertmanager_targets;  // "127.0.0.1:PORT"
    std::string scrape_interval = "1s";
    std::string evaluation_interval = "1s";
    std::string work_dir;  // where config, data and log go (a TempDir path)
    // More command-line flags, e.g. "--rules.alert.resend-delay=1s" so that alerts fired
    // before the Alertmanager targets are discovered (up to 5 s) are re-sent within a second.
    std::vector<std::string> extra_args;
    // An OpenMetrics file of history to load before starting (promtool tsdb
    // create-blocks-from openmetrics, as one block), kept whatever its age.
    std::string backfill_openmetrics;
  };

  explicit PrometheusHarness(Options options);
  ~PrometheusHarness();

  // Starts and waits until /-/ready answers 200; false (with the log path in `error`) if not.
  bool Start(std::string* error);
  void Stop();  // SIGTERM and wait; for "Prometheus went down" scenarios
  // Waits until at least `n` scrape targets are up (query up == 1).
  bool WaitForTargetsUp(std::size_t n, std::chrono::milliseconds timeout);

  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log_path() const { return options_.work_dir + "/prometheus.log"; }
  static std::string Binary();  // /usr/bin/prometheus or $TOCSIN_PROMETHEUS

 private:
  Options options_;
  unsigned short port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace tocsin::testing
