// Alert ingest and alert listing, tocsin against the real Alertmanager (Debian
// prometheus-alertmanager), one after the other on the same machine with the same load:
// a burst of alerts over many distinct label sets, posted in batches by several threads on
// keep-alive connections. tocsin runs the SHIPPED config (config/tocsin.yaml with its rules,
// roster and runbooks, copied to a temp dir) behind the same API guard a user has: Prometheus
// posts with an `intake` token, the listing reads with a `viewer` token (bench_support.h).
// Alertmanager gets the same grouping and inhibition rules. A 503 (intake queue full) is sent
// again after 100 ms, as a sender honouring Retry-After would, and counted. Prints alerts/s
// accepted, p99 POST latency and peak RSS (VmHWM) for both and the ratios, then times
// GET /api/v2/alerts with every alert active (wall time, and the CPU time the server spent on
// it, which the machine's load changes far less). bench/run runs it; by hand:
//
//   alertmanager_bench [--alerts 100000] [--batch 64] [--threads 4] [--get-timeout 60]
//                      [--no-get] [--json]
#include <signal.h>

#include <fmt/format.h>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "support/temp_dir.h"

namespace {

using tocsin::bench::Clock;
using tocsin::bench::Connection;
using tocsin::bench::Tokens;

struct Options {
  int alerts = 100000;
  int batch = 64;  // Prometheus' default max batch size
  int threads = 4;
  int get_timeout_s = 60;
  bool no_get = false;
  bool json = false;
  std::string alertmanager = "/usr/bin/prometheus-alertmanager";
  std::string tocsin = TOCSIN_BINARY;
  std::string source_dir = TOCSIN_SOURCE_DIR;  // config/, rules/, runbooks/ come from here
};

// Distinct label sets: 50 alert names x 100 services x 5 regions x unique instance; a
// RegionDown source per region makes the inhibition rule do work for every warning.
std::vector<std::string> Batches(const Options& o) {
  auto now = std::chrono::system_clock::now();
  std::string starts = tocsin::bench::Rfc3339(now);
  std::string ends = tocsin::bench::Rfc3339(now + std::chrono::hours(2));
  std::vector<std::string> out;
  std::string body;
  int in_batch = 0;
  for (int i = 0; i < o.alerts; ++i) {
    std::string alert;
    if (i < 5) {
      alert = fmt::format(
          R"({{"labels":{{"alertname":"RegionDown","region":"r{}","severity":"critical"}},)"
          R"("annotations":{{"summary":"region down"}},"startsAt":"{}","endsAt":"{}",)"
          R"("generatorURL":"http://prometheus:9090/graph?g0.expr=up"}})",
          i, starts, ends);
    } else {
      alert = fmt::format(
          R"({{"labels":{{"alertname":"Alert{}","service":"svc{}","region":"r{}",)"
          R"("instance":"10.{}.{}.{}:9100","severity":"{}","job":"node"}},)"
          R"("annotations":{{"summary":"Deposit success 97.2 % (SLO 99.85 %) on {}",)"
          R"("runbook":"deposit-psp"}},"startsAt":"{}","endsAt":"{}",)"
          R"("generatorURL":"http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29"}})",
          i % 50, i % 100, i % 5, (i >> 16) & 255, (i >> 8) & 255, i & 255,
          i % 10 == 0 ? "critical" : "warning", i, starts, ends);
    }
    body += in_batch ? "," : "[";
    body += alert;
    if (++in_batch == o.batch || i == o.alerts - 1) {
      body += "]";
      out.push_back(tocsin::bench::Request("POST", "/api/v2/alerts", Tokens::kIntake, body));
      body.clear();
      in_batch = 0;
    }
  }
  return out;
}

struct Result {
  std::string name;
  double alerts_per_s = 0;
  double p99_ms = 0;
  long rss_kb = 0;            // VmHWM after the burst
  long rss_after_get_kb = 0;  // VmHWM after GET /api/v2/alerts as well
  int failed = 0;
  int retried = 0;              // 503 + Retry-After answers, sent again
  std::optional<double> get_s;  // nullopt: no answer within the timeout (or not asked)
  double get_first_byte_s = 0;  // until the answer's first byte: the server built it
  double get_cpu_s = 0;         // the server's CPU time during the GET
  std::size_t get_bytes = 0;
};

Result Measure(const std::string& name, unsigned short port, pid_t pid, const Options& o,
               const std::vector<std::string>& batches) {
  Result r;
  r.name = name;
  std::atomic<std::size_t> next{0};
  std::atomic<int> failed{0};
  std::atomic<int> retried{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(o.threads));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      Connection c(port, 120);
      if (!c.ok()) {
        failed += 1;
        return;
      }
      for (std::size_t i = next++; i < batches.size(); i = next++) {
        auto t0 = Clock::now();
        int status = c.Exchange(batches[i]);
        // Back-pressure: the alerts come again (Prometheus' next re-send); here the same batch,
        // a bounded number of times.
        for (int again = 0; status == 503 && again < 100; ++again) {
          retried += 1;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          status = c.Exchange(batches[i]);
        }
        latencies[static_cast<std::size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (status / 100 != 2) failed += 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  r.alerts_per_s = o.alerts / seconds;
  r.p99_ms = tocsin::bench::Percentile(all, 99);
  r.failed = failed;
  r.retried = retried;

  r.rss_kb = tocsin::bench::PeakRssKb(pid);
  if (!o.no_get) {
    Connection c(port, o.get_timeout_s);
    std::string body;
    double cpu0 = tocsin::bench::CpuSeconds(pid);
    auto g0 = Clock::now();
    Clock::time_point first{};
    int status = c.ok()
                     ? c.Exchange(tocsin::bench::Request("GET", "/api/v2/alerts", Tokens::kViewer),
                                  &body, &first)
                     : 0;
    if (status == 200) {
      r.get_s = std::chrono::duration<double>(Clock::now() - g0).count();
      r.get_first_byte_s = std::chrono::duration<double>(first - g0).count();
      r.get_cpu_s = tocsin::bench::CpuSeconds(pid) - cpu0;
      r.get_bytes = body.size();
    }
  }
  r.rss_after_get_kb = tocsin::bench::PeakRssKb(pid);
  return r;
}

nlohmann::json ToJson(const Result& r, bool asked) {
  nlohmann::json j = {{"alerts_per_s", r.alerts_per_s},
                      {"p99_post_ms", r.p99_ms},
                      {"peak_rss_mib", static_cast<double>(r.rss_kb) / 1024},
                      {"peak_rss_incl_get_mib", static_cast<double>(r.rss_after_get_kb) / 1024},
                      {"failed", r.failed},
                      {"retried_503", r.retried}};
  if (!asked) return j;
  if (r.get_s) {
    j["get_s"] = *r.get_s;
    j["get_first_byte_s"] = r.get_first_byte_s;
    j["get_cpu_s"] = r.get_cpu_s;
    j["get_mib"] = static_cast<double>(r.get_bytes) / (1 << 20);
  } else {
    j["get_s"] = nullptr;
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!tocsin::bench::ParseFlags(argc, argv,
                                 {.ints = {{"--alerts", &o.alerts},
                                           {"--batch", &o.batch},
                                           {"--threads", &o.threads},
                                           {"--get-timeout", &o.get_timeout_s}},
                                  .strings = {{"--alertmanager", &o.alertmanager},
                                              {"--tocsin", &o.tocsin},
                                              {"--source-dir", &o.source_dir}},
                                  .bools = {{"--json", &o.json}, {"--no-get", &o.no_get}}})) {
    return 2;
  }
  if (!std::filesystem::exists(o.alertmanager)) {
    fmt::print(stderr, "{} not found (scripts/bootstrap installs prometheus-alertmanager)\n",
               o.alertmanager);
    return 2;
  }
  tocsin::testing::TempDir dir;
  fmt::print(
      "{} alerts in batches of {} from {} keep-alive connections; tocsin on the shipped "
      "config/tocsin.yaml behind its API guard (intake token; viewer token for the GET), "
      "Alertmanager with the same grouping and inhibition rules\n",
      o.alerts, o.batch, o.threads);
  std::fflush(stdout);
  auto batches = Batches(o);  // built before timing: the generator only writes bytes

  std::vector<Result> results;
  {
    auto cfg = tocsin::bench::ShippedConfig(o.source_dir, dir.path() + "/shipped");
    auto server = tocsin::bench::StartTocsin(o.tocsin, cfg, dir.path() + "/tocsin-data",
                                             dir.path() + "/tocsin.log");
    if (!server) return 1;
    results.push_back(Measure("tocsin", server.port, server.pid(), o, batches));
    server.Stop(SIGTERM);
  }
  {
    auto server = tocsin::bench::StartAlertmanager(o.alertmanager, dir.path() + "/alertmanager",
                                                   tocsin::bench::AlertmanagerConfig("30s", ""));
    if (!server) return 1;
    results.push_back(Measure("alertmanager", server.port, server.pid(), o, batches));
    server.Stop(SIGKILL);  // it may still be busy with the GET; nothing to keep
  }

  fmt::print("\n{:<14} {:>10} {:>12} {:>14} {:>16} {:>7} {:>8}   {}\n", "server", "alerts/s",
             "p99 POST ms", "peak RSS MiB", "(incl. GET) MiB", "failed", "503s",
             "GET /api/v2/alerts (all active)");
  for (const auto& r : results) {
    std::string get =
        o.no_get  ? std::string("not asked")
        : r.get_s ? fmt::format("{:.3f} s ({:.1f} MiB; first byte {:.3f} s; server CPU {:.2f} s)",
                                *r.get_s, static_cast<double>(r.get_bytes) / (1 << 20),
                                r.get_first_byte_s, r.get_cpu_s)
                  : fmt::format("no answer within {} s", o.get_timeout_s);
    fmt::print("{:<14} {:>10.0f} {:>12.2f} {:>14.1f} {:>16.1f} {:>7} {:>8}   {}\n", r.name,
               r.alerts_per_s, r.p99_ms, static_cast<double>(r.rss_kb) / 1024,
               static_cast<double>(r.rss_after_get_kb) / 1024, r.failed, r.retried, get);
  }
  const auto& t = results[0];
  const auto& a = results[1];
  fmt::print(
      "\ntocsin / alertmanager: throughput x{:.1f} (target >= 5), p99 latency x{:.2f}, "
      "peak memory x{:.2f} after the burst (target <= 0.33), x{:.2f} including the GET\n",
      t.alerts_per_s / a.alerts_per_s, t.p99_ms / a.p99_ms,
      static_cast<double>(t.rss_kb) / static_cast<double>(a.rss_kb),
      static_cast<double>(t.rss_after_get_kb) / static_cast<double>(a.rss_after_get_kb));
  if (o.json) {
    tocsin::bench::PrintJson({{"bench", "ingest"},
                              {"alerts", o.alerts},
                              {"tocsin", ToJson(t, !o.no_get)},
                              {"alertmanager", ToJson(a, !o.no_get)}});
  }
  return t.failed || a.failed ? 1 : 0;
}
