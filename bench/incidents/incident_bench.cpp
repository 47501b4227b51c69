// Incidents on SQLite through the API, tocsin only (Alertmanager has no incidents):
//  1. storm (seeding): N critical alerts, each its own group, posted in batches of 64 by 4
//     intake connections; each opens an incident (group_wait 0s) whose first step pages
//     PagerDuty at a local sink (the shipped 120 events a minute: most pages wait in the
//     outbox). Prints the incidents opened per second (polled once a second through the viewer
//     API). This phase runs with `store.synchronous: normal` unless --storm-synchronous full:
//     with an fsync per commit, 10,000 incidents take minutes on a slow disk, and it only
//     prepares the restart.
//  2. restart: SIGKILL, then `tocsin serve` again on the same data dir; times exec to /readyz
//     answering 200, and to the viewer's listing of every open incident (checked: all N).
//  3. transitions: acknowledgements and notes through POST /api/v1/incidents/{id}/ack|note
//     with a responder token (a roster person), 4 connections, for a fixed time; each is
//     answered 200 only once durable. Prints transitions per second.
// tocsin runs the shipped config with group_wait 0s and PagerDuty at the sink, behind the
// tokens a user configures (bench_support.h). bench/run runs it; by hand:
//
//   incident_bench [--incidents 10000] [--transition-seconds 10] [--json] [--keep-after-storm DIR]
// --settle-seconds N waits N s between the restart and the transitions (default 0).
// --keep-after-storm copies the config and the data dir as the SIGKILL left them to DIR, to
// profile a restart by hand (`tocsin serve --config DIR/shipped/config/tocsin.yaml --data-dir
// DIR/tocsin-data` under valgrind --tool=callgrind).
#include <signal.h>

#include <fmt/format.h>
#include <atomic>
#include <chrono>
#include <filesystem>
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
  int incidents = 10000;
  int transition_seconds = 10;
  int settle_seconds = 0;
  int threads = 4;
  std::string storm_synchronous = "normal";
  std::string keep_after_storm;
  bool json = false;
  std::string tocsin = TOCSIN_BINARY;
  std::string source_dir = TOCSIN_SOURCE_DIR;
};

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<std::string> StormBatches(int n) {
  auto now = std::chrono::system_clock::now();
  std::string starts = tocsin::bench::Rfc3339(now);
  std::string ends = tocsin::bench::Rfc3339(now + std::chrono::hours(2));
  std::vector<std::string> out;
  std::string body;
  for (int i = 0; i < n; ++i) {
    body += body.empty() ? "[" : ",";
    body +=
        fmt::format(R"({{"labels":{{"alertname":"Storm{}","service":"checkout","region":"eu-1",)"
                    R"("severity":"critical"}},"annotations":{{"summary":"storm {}"}},)"
                    R"("startsAt":"{}","endsAt":"{}"}})",
                    i, i, starts, ends);
    if ((i + 1) % 64 == 0 || i == n - 1) {
      out.push_back(tocsin::bench::Request("POST", "/api/v2/alerts", Tokens::kIntake, body + "]"));
      body.clear();
    }
  }
  return out;
}

// Open incidents as the viewer API lists them (nullopt: no 200 answer).
std::optional<nlohmann::json> OpenIncidents(unsigned short port) {
  Connection c(port, 60);
  std::string body;
  if (!c.ok() || c.Exchange(tocsin::bench::Request(
                                "GET", "/api/v1/incidents?state=open&limit=10000", Tokens::kViewer),
                            &body) != 200) {
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("incidents")) return std::nullopt;
  return j["incidents"];
}

struct Ran {
  int sent = 0;
  int ok = 0;  // answered 2xx
};

// Runs `requests` in order over `threads` keep-alive connections, until all are answered or
// `until` has passed (no new request is sent after it).
Ran RunAll(unsigned short port, const std::vector<std::string>& requests, int threads,
           Clock::time_point until = Clock::time_point::max()) {
  std::atomic<std::size_t> next{0};
  std::atomic<int> sent{0}, ok{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      Connection c(port, 60);
      if (!c.ok()) return;
      for (std::size_t i = next++; i < requests.size() && Clock::now() < until; i = next++) {
        ++sent;
        if (c.Exchange(requests[i]) / 100 == 2) ++ok;
      }
    });
  }
  for (auto& th : pool) th.join();
  return {sent, ok};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!tocsin::bench::ParseFlags(argc, argv,
                                 {.ints = {{"--incidents", &o.incidents},
                                           {"--transition-seconds", &o.transition_seconds},
                                           {"--settle-seconds", &o.settle_seconds}},
                                  .strings = {{"--storm-synchronous", &o.storm_synchronous},
                                              {"--keep-after-storm", &o.keep_after_storm},
                                              {"--tocsin", &o.tocsin},
                                              {"--source-dir", &o.source_dir}},
                                  .bools = {{"--json", &o.json}}})) {
    return 2;
  }
  if (o.incidents < 1 || o.incidents > 10000) {
    fmt::print(stderr, "--incidents: 1..10000 (the listing's limit)\n");
    return 2;
  }
  tocsin::testing::TempDir dir;
  RequestSink sink;
  std::string sink_url = fmt::format("http://127.0.0.1:{}", sink.port());
  auto cfg = tocsin::bench::ShippedConfig(
      o.source_dir, dir.path() + "/shipped",
      {.group_wait = "0s", .pagerduty_url = sink_url, .synchronous = {}});
  auto storm_cfg = tocsin::bench::ShippedConfig(
      o.source_dir, dir.path() + "/storm",
      {.group_wait = "0s",
       .pagerduty_url = sink_url,
       .synchronous = o.storm_synchronous == "full" ? "" : o.storm_synchronous});
  std::string data = dir.path() + "/tocsin-data";
  std::string log = dir.path() + "/tocsin.log";
  nlohmann::json out = {{"bench", "incidents"}, {"incidents", o.incidents}};

  // 1. Storm. The first start, on an empty data dir, is the baseline for the restart.
  auto s0 = Clock::now();
  auto first = tocsin::bench::StartTocsin(o.tocsin, storm_cfg, data, log);
  if (!first) return 1;
  double empty_ready_s = Since(s0);
  unsigned short port = first.port;
  auto batches = StormBatches(o.incidents);
  auto t0 = Clock::now();
  int accepted = RunAll(port, batches, o.threads).ok;
  double posted_s = Since(t0);
  std::size_t open = 0;
  double storm_s = 0;
  while (Since(t0) < 600) {
    auto list = OpenIncidents(port);
    open = list ? list->size() : 0;
    storm_s = Since(t0);
    if (open >= static_cast<std::size_t>(o.incidents)) break;
    // Polling once a second: the viewer token has a person's budget (120 a minute).
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  fmt::print(
      "storm (store.synchronous: {}): {} alerts posted ({}/{} batches 2xx) in {:.2f} s; {} "
      "incidents open after {:.1f} s: {:.0f} incidents/s\n",
      o.storm_synchronous, o.incidents, accepted, batches.size(), posted_s, open, storm_s,
      static_cast<double>(open) / storm_s);
  out["storm"] = {{"synchronous", o.storm_synchronous},
                  {"open", open},
                  {"seconds", storm_s},
                  {"incidents_per_s", static_cast<double>(open) / storm_s}};
  if (open < static_cast<std::size_t>(o.incidents)) {
    fmt::print(stderr, "only {} of {} incidents opened:\n{}", open, o.incidents,
               tocsin::bench::Tail(log));
    return 1;
  }

  // 2. Restart after SIGKILL, on the shipped config (synchronous: full) from here on.
  first.Stop(SIGKILL);
  if (!o.keep_after_storm.empty()) {
    std::filesystem::copy(dir.path(), o.keep_after_storm, std::filesystem::copy_options::recursive);
  }
  auto r0 = Clock::now();
  auto second =
      tocsin::bench::StartTocsin(o.tocsin, cfg, data, log + ".2", port, std::chrono::seconds(60));
  if (!second) return 1;
  double ready_s = Since(r0);
  auto list = OpenIncidents(port);
  double listed_s = Since(r0);
  std::size_t reopened = list ? list->size() : 0;
  fmt::print(
      "restart with {} open incidents: /readyz 200 after {:.3f} s, all {} listed after "
      "{:.3f} s (first start, empty data dir: {:.3f} s)\n",
      open, ready_s, reopened, listed_s, empty_ready_s);
  out["restart"] = {{"ready_s", ready_s},
                    {"listed_s", listed_s},
                    {"open_after", reopened},
                    {"empty_ready_s", empty_ready_s}};
  if (reopened != open) {
    fmt::print(stderr, "{} incidents open after the restart, {} before\n", reopened, open);
    return 1;
  }

  // 3. Transitions: an ack, then a note, on incident after incident.
  std::vector<std::string> requests;
  // More than any run sends: it stops at the deadline.
  for (int i = 0; requests.size() < 100000; ++i) {
    std::string id = (*list)[static_cast<std::size_t>(i) % list->size()]["id"].get<std::string>();
    std::string path = "/api/v1/incidents/" + id;
    if (i < static_cast<int>(list->size())) {
      requests.push_back(tocsin::bench::Request("POST", path + "/ack", Tokens::kResponder, "{}"));
    }
    requests.push_back(tocsin::bench::Request(
        "POST", path + "/note", Tokens::kResponder,
        fmt::format(R"({{"text":"bench note {}: PSP-A answers again"}})", i)));
  }
  // --settle-seconds: let the restart's replay (re-sent pages, steps due) drain first, to tell
  // its cost from the transitions' own (bench/run does not wait).
  std::this_thread::sleep_for(std::chrono::seconds(o.settle_seconds));
  auto x0 = Clock::now();
  Ran ran = RunAll(port, requests, o.threads, x0 + std::chrono::seconds(o.transition_seconds));
  double x_s = Since(x0);
  fmt::print(
      "transitions (acks and notes through the API): {} of {} answered 2xx in {:.2f} s: "
      "{:.0f}/s\n",
      ran.ok, ran.sent, x_s, ran.ok / x_s);
  out["transitions"] = {{"done", ran.ok}, {"seconds", x_s}, {"per_s", ran.ok / x_s}};
  second.Stop(SIGTERM);
  if (o.json) tocsin::bench::PrintJson(out);
  return ran.ok == ran.sent ? 0 : 1;
}
