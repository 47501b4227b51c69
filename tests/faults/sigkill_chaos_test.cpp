// Chaos with real processes: the provider simulator and `tocsin serve` on a ladder in seconds
// (steps at 0 s, 4 s, 8 s). An alert pushed to /api/v2/alerts (re-sent every half second, as
// Prometheus re-sends firing alerts) opens an incident; tocsin is killed with SIGKILL at
// random moments and restarted on the same data directory each time. The pages the simulator
// received, PagerDuty events and Slack messages, must be those of the same scenario without
// kills (each once, as PagerDuty folds events by dedup_key and step), and every step must be paged
// on time: deadlines are durable, so a restart must not start the ladder again. Kill moments come
// from a seeded generator; the seed is printed and TOCSIN_CHAOS_SEED replays one.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/alert_json.h"
#include "support/process.h"
#include "support/sanitizer.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRoutingKey = "0123456789abcdef0123456789abcdef";
// The ladder, in seconds after the incident opened.
const std::vector<int> kStepAfter = {0, 4, 8};
constexpr int kKills = 12;
// Kills fall in [kFirstKill, kLastKill] after the alert is first pushed: from before the
// incident opens until after the last step was due.
constexpr auto kFirstKill = 200ms;
constexpr auto kLastKill = 9500ms;

constexpr const char* kRoster = R"(
people:
  olena: {name: Olena Kovalenko, time_zone: UTC, pagerduty_user_id: PO1, slack_user_id: UO1}
  marco: {name: Marco Rossi, time_zone: UTC, pagerduty_user_id: PM2, slack_user_id: UM2}
  dana: {name: Dana Duty, time_zone: UTC, pagerduty_user_id: PD3, slack_user_id: UD3}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [olena]}
  l2: {role: l2-sre-platform, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [dana]}
)";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& path, std::size_t bytes) {
  std::string text = ReadFile(path);
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// A PagerDuty event as PagerDuty holds it, and when the simulator received it.
struct Page {
  std::string what;  // "trigger tocsin/INC-1 step 2 paging [...]" or "acknowledge ..."
  int step = 0;      // 1-based for triggers, 0 otherwise
  double at_ms = 0;
};

double WallMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How long tocsin was down between `from` and `to` (wall-clock ms).
double DownBetween(const std::vector<std::pair<double, double>>& down, double from, double to) {
  double total = 0;
  for (const auto& [a, b] : down) total += std::max(0.0, std::min(b, to) - std::max(a, from));
  return total;
}

class SigkillChaos : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    std::string dump;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
      if (entry.path().extension() != ".log") continue;
      dump += "\n--- end of " + entry.path().filename().string() + " ---\n" +
              Tail(entry.path().string(), 3000);
    }
    ADD_FAILURE() << dump;
  }

  HttpClientResponse Send(const std::string& method, const std::string& url,
                          const std::string& body = "") {
    HttpClientRequest r;
    r.method = method;
    r.url = url;
    r.body = body;
    r.headers = {{"Content-Type", "application/json"}};
    r.timeout = 2s;
    auto resp = client_.Send(r);
    return resp ? *resp : HttpClientResponse{};
  }

  void StartSim() {
    sim_process_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--smtp-listen",
                                 "127.0.0.1:0", "--port-file", dir_.path() + "/sim.ports"},
        std::vector<std::string>{}, dir_.path() + "/sim.log");
    std::string port;
    for (auto until = SteadyClock::now() + 10s; SteadyClock::now() < until;
         std::this_thread::sleep_for(50ms)) {
      std::istringstream in(ReadFile(dir_.path() + "/sim.ports"));
      if (std::getline(in, port) && !port.empty()) break;
    }
    ASSERT_FALSE(port.empty()) << "the provider simulator did not start";
    sim_ = "http://127.0.0.1:" + port;
  }

  // One run's config and data directory.
  std::string WriteConfig(const std::string& run) {
    std::string d = dir_.path() + "/" + run;
    std::filesystem::create_directories(d + "/data");
    std::ofstream(d + "/roster.yaml") << kRoster;
    std::ofstream(d + "/tocsin.yaml") << fmt::format(
        R"(
log: {{level: info}}
roster_file: roster.yaml
providers:
  pagerduty: {{events_url: "{sim}", routing_key: {key}}}
  slack: {{api_url: "{sim}", bot_token: xoxb-chaos, channel: "#incidents"}}
escalation_policies:
  default:
    steps:
      - {{after: {s0}s, targets: [{{role: l1}}], channels: [pagerduty, slack]}}
      - {{after: {s1}s, targets: [{{role: "l2-{{domain}}"}}], channels: [pagerduty, slack]}}
      - {{after: {s2}s, targets: [{{role: duty-manager}}], channels: [pagerduty, slack]}}
    default_domain: sre-platform
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: oncall
    escalation_policy: default
)",
        fmt::arg("sim", sim_), fmt::arg("key", kRoutingKey), fmt::arg("s0", kStepAfter[0]),
        fmt::arg("s1", kStepAfter[1]), fmt::arg("s2", kStepAfter[2]));
    return d;
  }

  // Starts `tocsin serve` and waits until it is ready; returns how long that took.
  SteadyClock::duration StartTocsin(const std::string& run_dir, int life) {
    auto begin = SteadyClock::now();
    tocsin_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", run_dir + "/tocsin.yaml",
                                 "--listen", "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 run_dir + "/data"},
        std::vector<std::string>{}, fmt::format("{}/tocsin-{}.log", run_dir, life));
    for (auto until = begin + 15s; SteadyClock::now() < until; std::this_thread::sleep_for(20ms)) {
      if (Send("GET", Tocsin() + "/readyz").status == 200) return SteadyClock::now() - begin;
    }
    ADD_FAILURE() << "tocsin did not become ready (life " << life << ")";
    return SteadyClock::now() - begin;
  }

  std::string Tocsin() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Firing as Prometheus sends it; `resolved`: its resolve, as Prometheus re-sends one (endsAt
  // in the past).
  void PushAlert(bool resolved = false) {
    json alert = {{"labels",
                   {{"alertname", "ChaosDepositSuccessLow"},
                    {"severity", "critical"},
                    {"service", "deposit"}}},
                  {"annotations", {{"summary", "deposit success below SLO"}}}};
    if (resolved) tocsin::testing::AsResolvedNow(alert);
    (void)Send("POST", Tocsin() + "/api/v2/alerts", json::array({alert}).dump());
  }

  // The incidents tocsin lists (all states), or an empty array.
  json Incidents() {
    auto list =
        json::parse(Send("GET", Tocsin() + "/api/v1/incidents?state=all").body, nullptr, false);
    return list.is_object() && list["incidents"].is_array() ? list["incidents"] : json::array();
  }

  // The recorded requests under `path` that got `status`, bodies parsed, with their time.
  std::vector<std::pair<json, double>> Accepted(const std::string& path, int status) {
    std::vector<std::pair<json, double>> out;
    json all = json::parse(Send("GET", sim_ + "/_sim/requests?path=" + UrlEncode(path)).body,
                           nullptr, false);
    if (!all.is_array()) return out;
    for (const auto& req : all) {
      if (req.value("status", 0) != status) continue;
      json b = json::parse(req.value("body", ""), nullptr, false);
      if (!b.is_discarded()) out.emplace_back(b, req.value("time_ms", 0.0));
    }
    return out;
  }

  std::vector<Page> Pages() {
    std::vector<Page> out;
    for (const auto& [b, at] : Accepted("/v2/enqueue", 202)) {
      Page p;
      p.what = b.value("event_action", "") + " " + b.value("dedup_key", "");
      if (b.value("event_action", "") == "trigger") {
        const json& d = b["payload"]["custom_details"];
        p.step = d.value("step", 0);
        p.what += fmt::format(" step {} paging {}", p.step, d.value("paging", json()).dump());
      }
      p.at_ms = at;
      out.push_back(p);
    }
    // Slack: the incident message and its thread replies ("Step 2: paging ...").
    for (const auto& [b, at] : Accepted("/api/chat.postMessage", 200)) {
      Page p;
      p.what = std::string(b.contains("thread_ts") ? "slack thread reply: " : "slack message: ") +
               b.value("text", "");
      p.at_ms = at;
      out.push_back(p);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const Page& a, const Page& b) { return a.at_ms < b.at_ms; });
    return out;
  }

  // Runs the scenario; kills tocsin at each of `kills` (after the first push). Returns the
  // pages and the longest restart; `down_` holds when tocsin was down, in wall-clock ms (the
  // simulator's clock for the pages).
  std::vector<Page> RunScenario(const std::string& run,
                                const std::vector<SteadyClock::duration>& kills,
                                SteadyClock::duration* longest_restart) {
    down_.clear();
    (void)Send("DELETE", sim_ + "/_sim/requests");
    std::string run_dir = WriteConfig(run);
    port_ = testing::FreePort();
    int life = 0;
    StartTocsin(run_dir, life);
    if (::testing::Test::HasFailure()) return {};
    *longest_restart = SteadyClock::duration(0);
    const auto start = SteadyClock::now();
    // Until every step was due plus the longest plausible restart, re-sending the alert.
    const auto end = start + std::chrono::seconds(kStepAfter.back()) + kLastKill - kFirstKill + 3s;
    std::size_t next_kill = 0;
    auto next_push = start;
    while (SteadyClock::now() < end) {
      auto now = SteadyClock::now();
      if (next_kill < kills.size() && now >= start + kills[next_kill]) {
        const double down_from = WallMs();
        EXPECT_TRUE(tocsin_->Signal(SIGKILL));
        EXPECT_TRUE(tocsin_->Wait(5s).has_value()) << "tocsin survived SIGKILL";
        ++next_kill;
        auto took = StartTocsin(run_dir, ++life);
        if (::testing::Test::HasFailure()) return {};
        down_.emplace_back(down_from, WallMs());
        *longest_restart = std::max(*longest_restart, took);
        std::printf("[%5.2fs] SIGKILL #%zu, back after %.0f ms\n",
                    std::chrono::duration<double>(now - start).count(), next_kill,
                    std::chrono::duration<double, std::milli>(took).count());
        std::fflush(stdout);
        continue;
      }
      if (now >= next_push) {
        PushAlert();
        next_push = now + 500ms;
      }
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(next_kill, kills.size());
    // When the ladder started, as tocsin recorded it (durably, at the first open).
    auto list =
        json::parse(Send("GET", Tocsin() + "/api/v1/incidents?state=all").body, nullptr, false);
    opened_at_ms_.reset();
    if (list.is_object() && list["incidents"].is_array() && list["incidents"].size() == 1) {
      auto t = ParseTime(list["incidents"][0].value("opened_at", ""));
      if (t) opened_at_ms_ = static_cast<double>(ToUnixMillis(*t));
    }
    EXPECT_TRUE(opened_at_ms_.has_value()) << "one incident expected: " << list.dump();
    tocsin_->Signal(SIGTERM);
    (void)tocsin_->Wait(5s);
    tocsin_.reset();
    return Pages();
  }

  testing::TempDir dir_;
  CurlHttpClient client_;
  std::unique_ptr<Process> sim_process_;
  std::unique_ptr<Process> tocsin_;
  std::string sim_;
  unsigned short port_ = 0;
  std::optional<double> opened_at_ms_;
  std::vector<std::pair<double, double>> down_;  // [killed, ready again], wall-clock ms
};

std::set<std::string> Folded(const std::vector<Page>& pages) {
  std::set<std::string> out;
  for (const auto& p : pages) out.insert(p.what);
  return out;
}

std::string Describe(const std::vector<Page>& pages) {
  std::string out;
  double t0 = pages.empty() ? 0 : pages.front().at_ms;
  for (const auto& p : pages) out += fmt::format("  +{:.0f} ms {}\n", p.at_ms - t0, p.what);
  return out;
}

TEST_F(SigkillChaos, KilledTwelveTimesPagesEachStepOnceAndOnTime) {
  std::uint64_t seed = 20261204;
  if (const char* s = std::getenv("TOCSIN_CHAOS_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("chaos seed %llu (set TOCSIN_CHAOS_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long long> moment(
      std::chrono::duration_cast<std::chrono::milliseconds>(kFirstKill).count(),
      std::chrono::duration_cast<std::chrono::milliseconds>(kLastKill).count());
  std::vector<SteadyClock::duration> kills;
  for (int i = 0; i < kKills; ++i) kills.push_back(std::chrono::milliseconds(moment(rng)));
  std::sort(kills.begin(), kills.end());

  StartSim();
  SteadyClock::duration unused;
  std::vector<Page> calm = RunScenario("calm", {}, &unused);
  // Three PagerDuty triggers, the Slack message and a thread reply for steps 2 and 3.
  ASSERT_EQ(Folded(calm).size(), kStepAfter.size() * 2) << Describe(calm);
  for (const auto& [what, n] : [&] {
         std::map<std::string, int> m;
         for (const auto& p : calm) m[p.what]++;
         return m;
       }()) {
    EXPECT_EQ(n, 1) << what;
  }

  SteadyClock::duration longest_restart;
  std::vector<Page> chaos = RunScenario("chaos", kills, &longest_restart);
  std::printf("pages without kills:\n%spages with %d kills:\n%s", Describe(calm).c_str(), kKills,
              Describe(chaos).c_str());

  // The same pages, each once as PagerDuty folds them (a re-send of the same event after a
  // kill between PagerDuty's 202 and the outbox's write is the documented at-least-once
  // window, and PagerDuty folds it).
  EXPECT_EQ(Folded(chaos), Folded(calm)) << "without kills:\n"
                                         << Describe(calm) << "with kills:\n"
                                         << Describe(chaos);
  // On time: step k at (incident opened + after(k)), never early, and late only by the time
  // tocsin was down after the deadline (a deadline that passed while it was down fires as soon
  // as it is back; two kills in a row around one deadline add both restarts) plus a margin for
  // a loaded machine. A ladder restarted by a kill would be late by whole steps (4 s).
  ASSERT_TRUE(opened_at_ms_.has_value());
  const double t0 = *opened_at_ms_;
#if defined(TOCSIN_ASAN)
  // Under AddressSanitizer every send and restart runs several times slower.
  constexpr double kSlack = 3000.0;
#else
  constexpr double kSlack = 1000.0;
#endif
  std::printf("longest restart %.0f ms\n",
              std::chrono::duration<double, std::milli>(longest_restart).count());
  std::map<int, double> first_at;
  for (const auto& p : chaos) {
    if (p.step > 0 && !first_at.count(p.step)) first_at[p.step] = p.at_ms;
  }
  ASSERT_EQ(first_at.size(), kStepAfter.size()) << Describe(chaos);
  for (const auto& [step, at] : first_at) {
    double due = t0 + kStepAfter[static_cast<std::size_t>(step - 1)] * 1000.0;
    const double down = DownBetween(down_, due, at);
    EXPECT_GE(at, due - 250.0) << "step " << step << " paged early\n" << Describe(chaos);
    EXPECT_LE(at - due, down + kSlack)
        << "step " << step << " paged " << (at - due) << " ms late, of which tocsin was down "
        << down << " ms (margin " << kSlack << " ms)\n"
        << Describe(chaos);
  }
}

// Review finding: after a kill -9 tocsin knew no alert, and dropped a resolve of one it had not
// seen firing since: an incident whose alert resolved before Prometheus sent it again stayed
// open (and walked its ladder). Open incidents' alerts are recalled at start.
TEST_F(SigkillChaos, AResolveSentOnlyAfterARestartResolvesTheIncident) {
  StartSim();
  const std::string run_dir = WriteConfig("resolve");
  port_ = testing::FreePort();
  StartTocsin(run_dir, 0);
  ASSERT_FALSE(HasFailure());
  PushAlert();
  auto paged = [&] {
    for (const auto& p : Pages()) {
      if (p.what.starts_with("trigger") && p.step == 1) return true;
    }
    return false;
  };
  for (auto until = SteadyClock::now() + 10s; SteadyClock::now() < until && !paged();
       std::this_thread::sleep_for(50ms)) {
  }
  ASSERT_TRUE(paged()) << Describe(Pages());
  ASSERT_TRUE(tocsin_->Signal(SIGKILL));
  ASSERT_TRUE(tocsin_->Wait(5s).has_value());
  StartTocsin(run_dir, 1);
  ASSERT_FALSE(HasFailure());
  PushAlert(/*resolved=*/true);
  auto state = [&] {
    json all = Incidents();
    return all.size() == 1 ? all[0].value("state", "") : all.dump();
  };
  // group_interval is 1 s: the resolve is told at the group's next flush.
  for (auto until = SteadyClock::now() + 10s; SteadyClock::now() < until && state() != "resolved";
       std::this_thread::sleep_for(50ms)) {
  }
  EXPECT_EQ(state(), "resolved");
  bool resolve_sent = false;
  for (auto until = SteadyClock::now() + 10s; SteadyClock::now() < until && !resolve_sent;
       std::this_thread::sleep_for(50ms)) {
    for (const auto& p : Pages()) resolve_sent = resolve_sent || p.what.starts_with("resolve ");
  }
  EXPECT_TRUE(resolve_sent) << "PagerDuty is told\n" << Describe(Pages());
  tocsin_->Signal(SIGTERM);
  (void)tocsin_->Wait(5s);
}

}  // namespace
}  // namespace tocsin
