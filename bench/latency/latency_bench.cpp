// Alert to provider request, tocsin against the real Alertmanager, one after the other on the
// same machine: one critical alert at a time (each its own group, so each is flushed at once
// with group_wait 0s on both) is posted, and the clock stops when the provider's request for
// it arrives at a sink in this process (bench_support.h's RequestSink). tocsin runs the shipped
// config with group_wait 0s and PagerDuty pointed at the sink; the alert opens an incident
// whose first step pages PagerDuty (durably queued in the outbox before it is sent).
// Alertmanager delivers the same alert to a webhook receiver at the sink. Prints p50 and p99
// for both and their ratio. Before each server's samples it waits for the disk's flushes to be
// back at their idle pace (SettleDisk, bench_support.h) and prints how long. The shipped PagerDuty
// rate limit (120 events a minute) is kept, so a run takes at most 110 samples. bench/run runs it;
// by hand:
//
//   latency_bench [--samples 100] [--gap-ms 20] [--json]
#include <signal.h>

#include <fmt/format.h>
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
using tocsin::bench::RequestSink;
using tocsin::bench::Tokens;

struct Options {
  int samples = 100;
  int warmup = 3;
  int gap_ms = 20;
  bool json = false;
  std::string alertmanager = "/usr/bin/prometheus-alertmanager";
  std::string tocsin = TOCSIN_BINARY;
  std::string source_dir = TOCSIN_SOURCE_DIR;
};

struct Latencies {
  std::vector<double> ms;
  int lost = 0;                 // no provider request within the timeout
  tocsin::bench::Settled disk;  // the wait for the disk before the first sample
};

// Before a server's samples: the disk's flushes back at their idle pace (tocsin's page is
// durable before it is sent, so a flush still slowed by the previous benchmark's burst would
// be measured as tocsin's latency; Alertmanager, measured second, would not pay it).
tocsin::bench::Settled Settle(const std::string& dir, const char* who) {
  auto s = tocsin::bench::SettleDisk(dir);
  fmt::print("{}: disk flushes {} after {:.1f} s (slowest in the last 2 s {:.1f} ms)\n", who,
             s.settled ? "settled" : "still slow, measuring anyway", s.waited_s,
             s.last_window_max_ms);
  std::fflush(stdout);
  return s;
}

std::string Marker(int i) { return fmt::format("LatencyProbe_{:06}", i); }

std::string AlertBatch(int i, const std::string& token) {
  auto now = std::chrono::system_clock::now();
  // Critical, a service no team route claims: the shipped config's oncall-critical receiver
  // (the default escalation policy: PagerDuty at T0).
  std::string body = fmt::format(
      R"([{{"labels":{{"alertname":"{0}","service":"checkout","region":"eu-1",)"
      R"("severity":"critical","instance":"10.0.0.1:9100"}},)"
      R"("annotations":{{"summary":"probe {0}"}},"startsAt":"{1}","endsAt":"{2}",)"
      R"("generatorURL":"http://prometheus:9090/graph"}}])",
      Marker(i), tocsin::bench::Rfc3339(now), tocsin::bench::Rfc3339(now + std::chrono::hours(2)));
  return tocsin::bench::Request("POST", "/api/v2/alerts", token, body);
}

// Posts one alert at a time and waits for the request that carries its marker.
Latencies Measure(unsigned short port, RequestSink& sink, const Options& o,
                  const std::string& token) {
  Latencies out;
  Connection c(port, 10);
  for (int i = 0; i < o.warmup + o.samples; ++i) {
    std::string req = AlertBatch(i, token);
    std::string marker = Marker(i);
    auto t0 = Clock::now();
    if (c.Exchange(req) / 100 != 2) {
      ++out.lost;
      continue;
    }
    auto got = sink.Await(
        [&](const RequestSink::Received& r) { return r.body.find(marker) != std::string::npos; },
        t0 + std::chrono::seconds(5));
    std::optional<Clock::time_point> arrived;
    if (got) arrived = got->at;
    sink.Take();  // a late request of an earlier sample
    if (!arrived) {
      ++out.lost;
    } else if (i >= o.warmup) {
      out.ms.push_back(std::chrono::duration<double, std::milli>(*arrived - t0).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.gap_ms));
  }
  return out;
}

nlohmann::json ToJson(Latencies l) {
  return {{"samples", l.ms.size()},
          {"lost", l.lost},
          {"p50_ms", tocsin::bench::Percentile(l.ms, 50)},
          {"p99_ms", tocsin::bench::Percentile(l.ms, 99)},
          {"max_ms", l.ms.empty() ? 0.0 : l.ms.back()},
          {"disk_settle_s", l.disk.waited_s},
          {"disk_settled", l.disk.settled}};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!tocsin::bench::ParseFlags(argc, argv,
                                 {.ints = {{"--samples", &o.samples}, {"--gap-ms", &o.gap_ms}},
                                  .strings = {{"--alertmanager", &o.alertmanager},
                                              {"--tocsin", &o.tocsin},
                                              {"--source-dir", &o.source_dir}},
                                  .bools = {{"--json", &o.json}}})) {
    return 2;
  }
  if (o.samples + o.warmup > 110) {
    fmt::print(stderr, "--samples: at most {} (PagerDuty's 120 events a minute)\n", 110 - o.warmup);
    return 2;
  }
  tocsin::testing::TempDir dir;
  fmt::print(
      "{} alerts, one at a time, each its own group (group_wait 0s): post -> provider request. "
      "tocsin: shipped config, intake token, PagerDuty at a local sink; Alertmanager: webhook "
      "to the same sink\n",
      o.samples);
  std::fflush(stdout);

  RequestSink sink;
  std::string sink_url = fmt::format("http://127.0.0.1:{}", sink.port());
  Latencies t, a;
  {
    auto cfg = tocsin::bench::ShippedConfig(o.source_dir, dir.path() + "/shipped",
                                            {.group_wait = "0s",
                                             .pagerduty_url = sink_url,
                                             .synchronous = {},
                                             .slack_webhook_url = {},
                                             .slack_signing_secret = {}});
    auto server = tocsin::bench::StartTocsin(o.tocsin, cfg, dir.path() + "/tocsin-data",
                                             dir.path() + "/tocsin.log");
    if (!server) return 1;
    auto disk = Settle(dir.path(), "tocsin");
    t = Measure(server.port, sink, o, Tokens::kIntake);
    t.disk = disk;
    server.Stop(SIGTERM);
  }
  sink.Take();
  {
    auto server = tocsin::bench::StartAlertmanager(
        o.alertmanager, dir.path() + "/alertmanager",
        tocsin::bench::AlertmanagerConfig("0s", sink_url + "/webhook"));
    if (!server) return 1;
    auto disk = Settle(dir.path(), "alertmanager");
    a = Measure(server.port, sink, o, "");
    a.disk = disk;
    server.Stop(SIGTERM);
  }
  auto tj = ToJson(t), aj = ToJson(a);
  fmt::print("\n{:<14} {:>8} {:>6} {:>9} {:>9} {:>9}\n", "server", "samples", "lost", "p50 ms",
             "p99 ms", "max ms");
  for (auto& [name, j] : {std::pair{"tocsin", tj}, std::pair{"alertmanager", aj}}) {
    fmt::print("{:<14} {:>8} {:>6} {:>9.2f} {:>9.2f} {:>9.2f}\n", name, j["samples"].get<int>(),
               j["lost"].get<int>(), j["p50_ms"].get<double>(), j["p99_ms"].get<double>(),
               j["max_ms"].get<double>());
  }
  if (t.lost > 0)
    fmt::print("tocsin lost requests:\n{}", tocsin::bench::Tail(dir.path() + "/tocsin.log"));
  if (o.json) {
    tocsin::bench::PrintJson({{"bench", "latency"}, {"tocsin", tj}, {"alertmanager", aj}});
  }
  return t.lost || a.lost ? 1 : 0;
}
