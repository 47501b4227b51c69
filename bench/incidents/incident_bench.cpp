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
//  3. what waits while the store commits: a small alert POST (intake token) every 10 ms, and
//     a Slack "Acknowledge" click (signed as Slack signs it, by a roster person's Slack user,
//     on an incident of its own) every 50 ms; timed for --probe-seconds with nothing else
//     running, then as long again while acks and notes come through the API at a steady
//     --paced-rate a second (4 connections), then idle once more. For the click: until its
//     200 (what Slack's 3-second timer sees) and until tocsin's answer, "INC-n acknowledged",
//     reaches its response_url at the sink (what the person sees: the ack is durable by
//     then). Prints each p50/p99 under load against idle (both idle windows together).
//  4. transitions: acknowledgements and notes through POST /api/v1/incidents/{id}/ack|note
//     with a responder token (a roster person), 4 connections, as fast as they are answered,
//     for a fixed time; each is answered 200 only once durable. Prints transitions per second.
// tocsin runs the shipped config with group_wait 0s, PagerDuty and Slack's incoming webhook at
// the sink and a Slack signing secret, behind the tokens a user configures (bench_support.h).
// bench/run runs it; by hand:
//
//   incident_bench [--incidents 10000] [--transition-seconds 10] [--probe-seconds 6]
//                  [--paced-rate 1200] [--json] [--keep-after-storm DIR]
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
#include <tuple>
#include <vector>

#include "bench_support.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/json.h"
#include "tocsin/common/url.h"

namespace {

using tocsin::bench::Clock;
using tocsin::bench::Connection;
using tocsin::bench::RequestSink;
using tocsin::bench::Tokens;

struct Options {
  int incidents = 10000;
  int transition_seconds = 10;
  int settle_seconds = 0;
  int probe_seconds = 6;
  int paced_rate = 1200;
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

// Runs `requests` in order, from `*next` on, over `threads` keep-alive connections, until all
// are answered or `until` has passed (no request is taken after it, and one taken is always
// sent, so those sent run from `*next` to the new `*next`). With `per_second` > 0, the k-th
// request of this call is sent no earlier than k / per_second after the start (a steady load,
// not as fast as answered).
Ran RunAll(unsigned short port, const std::vector<std::string>& requests, int threads,
           std::size_t* next, Clock::time_point until = Clock::time_point::max(),
           int per_second = 0) {
  const std::size_t first = *next;
  std::atomic<std::size_t> cursor{first};
  std::atomic<int> sent{0}, ok{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      Connection c(port, 60);
      if (!c.ok()) return;
      while (Clock::now() < until) {
        std::size_t i = cursor++;
        if (i >= requests.size()) return;
        if (per_second > 0) {
          std::this_thread::sleep_until(
              t0 + std::chrono::microseconds((i - first) * 1000000 / per_second));
        }
        ++sent;
        if (c.Exchange(requests[i]) / 100 == 2) ++ok;
      }
    });
  }
  for (auto& th : pool) th.join();
  *next = first + static_cast<std::size_t>(sent.load());
  return {sent, ok};
}

constexpr const char* kSlackSecret = "8f742231b10e8888abcd99yyyzzz85a5";

// A click on an incident message's "Acknowledge" button, as Slack sends it: a form body with
// the block_actions payload, signed with the app's signing secret (v0, HMAC-SHA256 of
// "v0:<timestamp>:<body>"). Olena is U01OLENA in the shipped roster.
std::string SlackAck(const std::string& incident_id, const std::string& response_url) {
  nlohmann::json payload = {
      {"type", "block_actions"},
      {"user", {{"id", "U01OLENA"}, {"username", "olena"}, {"team_id", "T0CASINO"}}},
      {"team", {{"id", "T0CASINO"}}},
      {"channel", {{"id", "C0INCIDENTS"}}},
      {"container", {{"message_ts", "1733480000.000100"}}},
      {"response_url", response_url},
      {"actions", {{{"action_id", "tocsin_ack"}, {"value", incident_id}, {"action_ts", "1"}}}}};
  std::string body = "payload=" + tocsin::UrlEncode(tocsin::DumpJson(payload));
  std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  std::string sig = "v0=" + tocsin::HmacSha256Hex(kSlackSecret, "v0:" + ts + ":" + body);
  return fmt::format(
      "POST /slack/interactivity HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: {}\r\n"
      "X-Slack-Signature: {}\r\nContent-Length: {}\r\n\r\n{}",
      ts, sig, body.size(), body);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What the probes measured in one window.
struct ProbeTimes {
  std::vector<double> intake_ms;        // POST /api/v2/alerts of one alert, to its answer
  std::vector<double> slack_answer_ms;  // the click, to its 200
  std::vector<double> slack_done_ms;    // the click, to "acknowledged" at its response_url
  int failed = 0;                       // a probe not answered 2xx, or no "acknowledged"

  void Add(ProbeTimes&& o) {
    for (auto [to, from] :
         {std::pair{&intake_ms, &o.intake_ms}, std::pair{&slack_answer_ms, &o.slack_answer_ms},
          std::pair{&slack_done_ms, &o.slack_done_ms}}) {
      to->insert(to->end(), from->begin(), from->end());
    }
    failed += o.failed;
  }
};

// Runs both probes for `seconds`: a small alert POST every 10 ms on one connection, a Slack
// ack click every 50 ms on another, each click on the next incident of `slack_ids` (from
// `*next_slack`), its response_url at the sink.
ProbeTimes Probe(unsigned short port, RequestSink& sink, const std::string& sink_url,
                 const std::vector<std::string>& slack_ids, std::size_t* next_slack, int seconds) {
  ProbeTimes out;
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::seconds(seconds);
  std::string starts = tocsin::bench::Rfc3339(std::chrono::system_clock::now());
  // Prometheus sends its firing alerts again every evaluation: the same alert, deduplicated.
  std::string alert = tocsin::bench::Request(
      "POST", "/api/v2/alerts", Tokens::kIntake,
      fmt::format(R"([{{"labels":{{"alertname":"BenchProbe","service":"checkout",)"
                  R"("region":"eu-1","severity":"info"}},"annotations":{{"summary":"probe"}},)"
                  R"("startsAt":"{}"}}])",
                  starts));
  int intake_failed = 0;
  std::thread intake([&] {
    Connection c(port, 10);
    for (int k = 0; c.ok(); ++k) {
      std::this_thread::sleep_until(t0 + std::chrono::milliseconds(10 * k));
      if (Clock::now() >= until) return;
      auto s = Clock::now();
      if (c.Exchange(alert) / 100 != 2) {
        ++intake_failed;
        continue;
      }
      out.intake_ms.push_back(Ms(Clock::now() - s));
    }
  });
  Connection c(port, 10);
  for (int k = 0; c.ok(); ++k) {
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(50 * k));
    if (Clock::now() >= until) break;
    if (*next_slack == slack_ids.size()) {
      fmt::print(stderr,
                 "no incident left for a Slack click: fewer --probe-seconds, or more "
                 "--incidents\n");
      ++out.failed;
      break;
    }
    const std::string& id = slack_ids[(*next_slack)++];
    std::string path = "/slack-response/" + id;
    std::string click = SlackAck(id, sink_url + path);
    auto s = Clock::now();
    int status = c.Exchange(click);
    auto answered = Clock::now();
    auto done = status == 200 ? sink.Await(path, answered + std::chrono::seconds(5)) : std::nullopt;
    if (!done || done->body.find(id + " acknowledged") == std::string::npos) {
      if (status == 200 && done) fmt::print(stderr, "slack click on {}: {}\n", id, done->body);
      ++out.failed;
      continue;
    }
    out.slack_answer_ms.push_back(Ms(answered - s));
    out.slack_done_ms.push_back(Ms(done->at - s));
  }
  intake.join();
  out.failed += intake_failed;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!tocsin::bench::ParseFlags(argc, argv,
                                 {.ints = {{"--incidents", &o.incidents},
                                           {"--transition-seconds", &o.transition_seconds},
                                           {"--settle-seconds", &o.settle_seconds},
                                           {"--probe-seconds", &o.probe_seconds},
                                           {"--paced-rate", &o.paced_rate}},
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
  if (o.probe_seconds < 1 || o.paced_rate < 1) {
    fmt::print(stderr, "--probe-seconds and --paced-rate: at least 1\n");
    return 2;
  }
  tocsin::testing::TempDir dir;
  RequestSink sink;
  std::string sink_url = fmt::format("http://127.0.0.1:{}", sink.port());
  tocsin::bench::ConfigEdits edits{.group_wait = "0s",
                                   .pagerduty_url = sink_url,
                                   .synchronous = {},
                                   .slack_webhook_url = sink_url + "/slack-webhook",
                                   .slack_signing_secret = kSlackSecret};
  auto cfg = tocsin::bench::ShippedConfig(o.source_dir, dir.path() + "/shipped", edits);
  edits.synchronous = o.storm_synchronous == "full" ? "" : o.storm_synchronous;
  auto storm_cfg = tocsin::bench::ShippedConfig(o.source_dir, dir.path() + "/storm", edits);
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
  std::size_t first_batch = 0;
  int accepted = RunAll(port, batches, o.threads, &first_batch).ok;
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

  // The Slack clicks' incidents, from the end of the list: the transitions start at its front.
  const std::size_t slack_count = std::min<std::size_t>(500, list->size() / 4);
  std::vector<std::string> slack_ids;
  for (std::size_t i = list->size() - slack_count; i < list->size(); ++i) {
    slack_ids.push_back((*list)[i]["id"].get<std::string>());
  }
  const std::size_t acked = list->size() - slack_count;
  // Transitions: an ack, then a note, on incident after incident.
  std::vector<std::string> requests;
  // More than any run sends: it stops at the deadline.
  for (std::size_t i = 0; requests.size() < 100000; ++i) {
    std::string id = (*list)[i % acked]["id"].get<std::string>();
    std::string path = "/api/v1/incidents/" + id;
    if (i < acked) {
      requests.push_back(tocsin::bench::Request("POST", path + "/ack", Tokens::kResponder, "{}"));
    }
    requests.push_back(tocsin::bench::Request(
        "POST", path + "/note", Tokens::kResponder,
        fmt::format(R"({{"text":"bench note {}: PSP-A answers again"}})", i)));
  }
  // --settle-seconds: let the restart's replay (re-sent pages, steps due) drain first, to tell
  // its cost from the transitions' own (bench/run does not wait).
  std::this_thread::sleep_for(std::chrono::seconds(o.settle_seconds));

  // 3. The probes: idle, under a steady load of transitions, idle again.
  std::size_t next_request = 0;
  std::size_t next_slack = 0;
  ProbeTimes idle = Probe(port, sink, sink_url, slack_ids, &next_slack, o.probe_seconds);
  ProbeTimes busy;
  auto p0 = Clock::now();
  Ran paced;
  {
    std::thread load([&] {
      paced = RunAll(port, requests, o.threads, &next_request,
                     p0 + std::chrono::seconds(o.probe_seconds), o.paced_rate);
    });
    busy = Probe(port, sink, sink_url, slack_ids, &next_slack, o.probe_seconds);
    load.join();
  }
  double paced_s = Since(p0);
  idle.Add(Probe(port, sink, sink_url, slack_ids, &next_slack, o.probe_seconds));
  nlohmann::json probes = {{"paced_rate", o.paced_rate},
                           {"transitions_per_s", paced.ok / paced_s},
                           {"transitions_failed", paced.sent - paced.ok},
                           {"probes_failed", idle.failed + busy.failed}};
  fmt::print("probes while {} acks and notes a second are committed (paced at {}/s; {} failed):\n",
             static_cast<long>(paced.ok / paced_s), o.paced_rate, paced.sent - paced.ok);
  for (auto [name, what, b, i] :
       {std::tuple{"intake", "small alert POST", &busy.intake_ms, &idle.intake_ms},
        std::tuple{"slack_answer", "Slack ack click, to its 200", &busy.slack_answer_ms,
                   &idle.slack_answer_ms},
        std::tuple{"slack_done", "Slack ack click, to \"acknowledged\" at its response_url",
                   &busy.slack_done_ms, &idle.slack_done_ms}}) {
    double bp50 = tocsin::bench::Percentile(*b, 50), bp99 = tocsin::bench::Percentile(*b, 99);
    double ip50 = tocsin::bench::Percentile(*i, 50), ip99 = tocsin::bench::Percentile(*i, 99);
    fmt::print(
        "  {}: p50 {:.3f} ms, p99 {:.3f} ms under load ({} samples); idle p50 {:.3f} ms, "
        "p99 {:.3f} ms ({} samples)\n",
        what, bp50, bp99, b->size(), ip50, ip99, i->size());
    probes[name] = {{"busy_p50_ms", bp50}, {"busy_p99_ms", bp99}, {"busy_samples", b->size()},
                    {"idle_p50_ms", ip50}, {"idle_p99_ms", ip99}, {"idle_samples", i->size()}};
  }
  out["probes"] = probes;
  if (idle.failed + busy.failed > 0 || paced.ok != paced.sent) {
    fmt::print(stderr, "{} probes and {} paced transitions failed:\n{}", idle.failed + busy.failed,
               paced.sent - paced.ok, tocsin::bench::Tail(log + ".2"));
    return 1;
  }

  // 4. Transitions as fast as they are answered.
  auto x0 = Clock::now();
  Ran ran = RunAll(port, requests, o.threads, &next_request,
                   x0 + std::chrono::seconds(o.transition_seconds));
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
