// End to end, as scripts/demo shows it, unattended: "deposits failing at PSP-A in DE".
//
// Real processes only: the provider simulator, the SLI exporter, Prometheus scraping it every
// second, and `tocsin serve` on the shipped config/, rules/, roster and runbooks/, through
// scripts/demo-config (the demo's own transformation: ports, paths, the simulator as every
// provider, the ladder at 0s/10s/20s instead of 0/5m/10m, burn-rate windows divided by 60).
// Every wait polls a real process and is bounded; a failure names its step and dumps the logs.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/http/signatures.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using Clock = std::chrono::steady_clock;

constexpr int kStep2Seconds = 10;  // the ladder's 5m, for this test
constexpr int kStep3Seconds = 20;  // the ladder's 10m: the Duty Manager

using testing::ReadFile;
constexpr auto Trim = testing::TrimEnd;

std::string Tail(const std::string& path, std::size_t lines) {
  std::string text = ReadFile(path);
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// The value after `key: ` on the roster line of `person` (e.g. slack_user_id).
std::string RosterField(const std::string& roster, const std::string& person,
                        const std::string& key) {
  std::istringstream in(roster);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  " + person + ":", 0) != 0) continue;
    auto at = line.find(key + ": ");
    if (at == std::string::npos) return {};
    at += key.size() + 2;
    auto end = line.find_first_of(",}", at);
    return Trim(line.substr(at, end - at));
  }
  return {};
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class E2e : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    std::string dump;
    for (const char* f : {"tocsin.log", "sim.log", "exporter.log", "prometheus.log"}) {
      std::string p = dir_.path() + "/" + f;
      if (!std::filesystem::exists(p)) continue;
      dump += std::string("\n--- last lines of ") + f + " ---\n" + Tail(p, 40);
    }
    ADD_FAILURE() << "failed at step: " << step_ << dump;
  }

  // Names the step for failure messages; returns the message prefix.
  void Step(const std::string& name) {
    step_ = name;
    std::printf("[T+%5.1fs] %s\n", Since(t0_), name.c_str());
    std::fflush(stdout);
  }
  static double Since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

  // Polls `ok` every 250 ms until it holds or `limit` passes.
  bool WaitFor(std::chrono::seconds limit, const std::function<bool()>& ok) {
    for (auto until = Clock::now() + limit; Clock::now() < until;
         std::this_thread::sleep_for(250ms)) {
      if (ok()) return true;
    }
    return ok();
  }

  HttpClientResponse Send(const std::string& method, const std::string& url,
                          const std::string& body = "",
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpClientRequest r;
    r.method = method;
    r.url = url;
    r.body = body;
    r.headers = std::move(headers);
    r.timeout = 5s;
    auto resp = client_.Send(r);
    return resp ? *resp : HttpClientResponse{};
  }
  json GetJson(const std::string& url) {
    auto r = Send("GET", url);
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  std::string Tocsin() const { return "http://127.0.0.1:" + std::to_string(tocsin_port_); }

  // Recorded simulator requests under `path`, bodies parsed.
  std::vector<json> SimBodies(const std::string& path) {
    std::vector<json> out;
    json all = GetJson(sim_ + "/_sim/requests?path=" + UrlEncode(path));
    if (!all.is_array()) return out;
    for (const auto& r : all) {
      json b = json::parse(r.value("body", ""), nullptr, false);
      if (!b.is_discarded()) {
        b["_time_ms"] = r.value("time_ms", 0.0);
        out.push_back(b);
      }
    }
    return out;
  }
  std::vector<json> PagerDuty(const std::string& action) {
    std::vector<json> out;
    for (auto& e : SimBodies("/v2/enqueue")) {
      if (e.value("event_action", "") == action) out.push_back(e);
    }
    return out;
  }
  json IncidentApi() { return GetJson(Tocsin() + "/api/v1/incidents/" + incident_id_); }

  // What Slack sends when `slack_user` presses a button on the incident message.
  HttpClientResponse SlackClick(const std::string& slack_user, const std::string& action) {
    std::string ts = std::to_string(std::time(nullptr));
    json payload = {{"type", "block_actions"},
                    {"user", {{"id", slack_user}, {"username", "oncall"}, {"team_id", "T0CASINO"}}},
                    {"team", {{"id", "T0CASINO"}}},
                    {"channel", {{"id", "C0INCIDENTS"}}},
                    {"container", {{"type", "message"}, {"message_ts", ts + ".000100"}}},
                    {"response_url", sim_ + "/slack/response/e2e"},
                    {"trigger_id", ts + ".e2e"},
                    {"actions",
                     {{{"action_id", action},
                       {"block_id", "tocsin_incident"},
                       {"value", incident_id_},
                       {"action_ts", ts}}}}};
    std::string body = "payload=" + UrlEncode(payload.dump());
    std::string secret = Trim(ReadFile(demo_ + "/secrets/slack_signing_secret"));
    return Send("POST", Tocsin() + "/slack/interactivity", body,
                {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"X-Slack-Request-Timestamp", ts},
                 {"X-Slack-Signature", "v0=" + HmacSha256Hex(secret, "v0:" + ts + ":" + body)}});
  }

  static std::string Paging(const json& trigger) {
    std::string out;
    for (const auto& p : trigger["payload"]["custom_details"].value("paging", json::array())) {
      out += p.get<std::string>() + "; ";
    }
    return out;
  }

  testing::TempDir dir_;
  std::string step_ = "setup";
  Clock::time_point t0_ = Clock::now();
  std::string sim_;
  std::string demo_;
  std::string incident_id_;
  unsigned short tocsin_port_ = 0;
  CurlHttpClient client_;
};

TEST_F(E2e, DepositsFailingAtPspAInDePageEscalateAckRecoverResolve) {
  const std::string src = TOCSIN_SOURCE_DIR;

  // --- setup: simulator, exporter, Prometheus, tocsin on the demo copy of the shipped config
  Step("start the provider simulator");
  Process sim({TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0",
               "--port-file", dir_.path() + "/sim.ports"},
              {}, dir_.path() + "/sim.log");
  std::string http_port, smtp_port;
  ASSERT_TRUE(WaitFor(10s, [&] {
    std::istringstream in(ReadFile(dir_.path() + "/sim.ports"));
    return std::getline(in, http_port) && std::getline(in, smtp_port) && !smtp_port.empty();
  }));
  sim_ = "http://127.0.0.1:" + http_port;

  Step("start the SLI exporter");
  const unsigned short exporter_port = testing::FreePort();
  const std::string exporter = "http://127.0.0.1:" + std::to_string(exporter_port);
  Process exporter_process(
      {TOCSIN_EXPORTER, "--listen", "127.0.0.1:" + std::to_string(exporter_port)}, {},
      dir_.path() + "/exporter.log");
  ASSERT_TRUE(testing::WaitForPort(exporter_port, 10s));

  Step("start Prometheus");
  testing::PrometheusHarness::Options popts;
  popts.scrape_targets = {"127.0.0.1:" + std::to_string(exporter_port)};
  popts.work_dir = dir_.path();
  testing::PrometheusHarness prometheus(popts);
  std::string error;
  ASSERT_TRUE(prometheus.Start(&error)) << error;
  ASSERT_TRUE(prometheus.WaitForTargetsUp(1, 30s));

  Step("scripts/demo-config");
  tocsin_port_ = testing::FreePort();
  demo_ = dir_.path() + "/demo";
  std::string cmd = src + "/scripts/demo-config " + demo_ + " --sim " + sim_ + " --smtp-port " +
                    smtp_port + " --prometheus " + prometheus.url() +
                    " --listen 127.0.0.1:" + std::to_string(tocsin_port_) + " --step2 " +
                    std::to_string(kStep2Seconds) + "s --step3 " + std::to_string(kStep3Seconds) +
                    "s 2>" + dir_.path() + "/demo-config.err";
  int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << ReadFile(dir_.path() + "/demo-config.err");
  const std::string config_text = ReadFile(demo_ + "/tocsin.yaml");
  const std::string roster = ReadFile(src + "/config/roster.yaml");
  const std::string routing_key = Trim(ReadFile(demo_ + "/secrets/pagerduty_routing_key"));
  // The runbook link every page must carry: the shipped runbooks.base_url + deposit-psp.md.
  std::string base_url;
  {
    auto at = config_text.find("base_url: ");
    ASSERT_NE(at, std::string::npos);
    at += 10;
    base_url = config_text.substr(at, config_text.find_first_of(" \n", at) - at);
  }
  const std::string runbook_url = base_url + "deposit-psp.md";

  Step("start tocsin serve");
  Process tocsin({TOCSIN_BINARY, "serve", "--config", demo_ + "/tocsin.yaml"}, {},
                 dir_.path() + "/tocsin.log");
  ASSERT_TRUE(WaitFor(20s, [&] { return Send("GET", Tocsin() + "/readyz").status == 200; }));

  // Who must be paged, and who must not: the shipped roster, now.
  auto holder = [&](const std::string& role) {
    json j = GetJson(Tocsin() + "/api/v1/oncall?role=" + role);
    std::vector<std::pair<std::string, std::string>> out;  // (person, name)
    for (const auto& o : j.value("oncall", json::array())) out.emplace_back(o["person"], o["name"]);
    return out;
  };
  const auto l1 = holder("l1");
  const auto dm = holder("duty-manager");
  ASSERT_FALSE(l1.empty());
  ASSERT_FALSE(dm.empty());

  Step("healthy PSP-A/DE deposits reach Prometheus");
  ASSERT_TRUE(WaitFor(30s, [&] {
    json j =
        GetJson(prometheus.url() + "/api/v1/query?query=" +
                UrlEncode("rate(casino_deposit_requests_total{psp=\"PSP-A\",market=\"DE\"}[5s])"));
    return j.is_object() && !j["data"]["result"].empty();
  }));

  // --- the fault -------------------------------------------------------------------------
  Step("inject: deposits fail at PSP-A in DE");
  t0_ = Clock::now();
  ASSERT_EQ(Send("POST", exporter + "/fault?deposit_error_ratio=0.5&psp=PSP-A&market=DE").status,
            200);

  Step("page to L1 (PagerDuty trigger with the runbook link)");
  ASSERT_TRUE(WaitFor(45s, [&] { return !PagerDuty("trigger").empty(); }));
  const auto first_page_seen = Clock::now();  // the incident opened moments before
  const json first = PagerDuty("trigger").front();
  EXPECT_EQ(first.value("routing_key", ""), routing_key);
  const std::string dedup_key = first.value("dedup_key", "");
  const std::string summary = first["payload"].value("summary", "");
  EXPECT_TRUE(Contains(summary, "PSP-A")) << summary;
  EXPECT_TRUE(Contains(summary, "DE")) << summary;
  bool runbook_linked = false;
  for (const auto& l : first.value("links", json::array())) {
    runbook_linked = runbook_linked || l.value("href", "") == runbook_url;
  }
  EXPECT_TRUE(runbook_linked) << "no link to " << runbook_url << " in " << first.dump();
  for (const auto& [person, name] : l1) {
    EXPECT_TRUE(Contains(Paging(first), name + " (l1)")) << Paging(first);
  }
  // The default ladder: only L1 at T0; the payments L2 comes with the Comms officer.
  EXPECT_FALSE(Contains(Paging(first), "(l2-payments)")) << Paging(first);
  EXPECT_FALSE(Contains(Paging(first), "(comms)")) << Paging(first);

  json open = GetJson(Tocsin() + "/api/v1/incidents?state=open");
  ASSERT_EQ(open["incidents"].size(), 1u) << open.dump();
  incident_id_ = open["incidents"][0]["id"];
  EXPECT_EQ(open["incidents"][0]["policy"], "payments-critical");
  EXPECT_EQ(dedup_key, "tocsin/" + incident_id_);
  ASSERT_TRUE(WaitFor(10s, [&] { return !SimBodies("/api/chat.postMessage").empty(); }));

  Step("nobody acknowledged: the next step of the ladder after the shortened delay");
  ASSERT_TRUE(WaitFor(std::chrono::seconds(kStep2Seconds + 20),
                      [&] { return PagerDuty("trigger").size() >= 2; }));
  const json second = PagerDuty("trigger")[1];
  EXPECT_EQ(second.value("dedup_key", ""), dedup_key);
  EXPECT_TRUE(Contains(Paging(second), "(l2-payments)")) << Paging(second);
  EXPECT_TRUE(Contains(Paging(second), "(comms)")) << Paging(second);
  EXPECT_TRUE(Contains(Paging(second), "(call-manager)")) << Paging(second);
  EXPECT_FALSE(Contains(Paging(second), "(duty-manager)")) << Paging(second);
  const double gap_s = (second["_time_ms"].get<double>() - first["_time_ms"].get<double>()) / 1000;
  EXPECT_GE(gap_s, kStep2Seconds - 1.5) << "step 2 came too early";

  Step("acknowledge with a signed Slack block_actions click by the rostered L1");
  std::string commander = IncidentApi()["incident"].value("commander", "");
  const std::string acker = commander.empty() ? l1.front().first : commander;
  const std::string slack_user = RosterField(roster, acker, "slack_user_id");
  ASSERT_FALSE(slack_user.empty()) << acker;
  auto click = SlackClick(slack_user, "tocsin_ack");
  ASSERT_EQ(click.status, 200) << click.body;
  ASSERT_TRUE(WaitFor(10s, [&] { return IncidentApi()["incident"]["state"] == "acknowledged"; }));
  json inc = IncidentApi();
  EXPECT_EQ(inc["incident"]["acknowledged_by"], acker);
  bool ack_from_slack = false;
  for (const auto& e : inc["timeline"]) {
    ack_from_slack = ack_from_slack || (e["kind"] == "acknowledged" && e["actor"] == acker &&
                                        e["data"].value("origin", "") == "slack");
  }
  EXPECT_TRUE(ack_from_slack) << inc["timeline"].dump();

  Step("the ack is mirrored to PagerDuty (acknowledge, same dedup_key)");
  ASSERT_TRUE(WaitFor(15s, [&] { return !PagerDuty("acknowledge").empty(); }));
  EXPECT_EQ(PagerDuty("acknowledge").front().value("dedup_key", ""), dedup_key);
  EXPECT_EQ(PagerDuty("acknowledge").front().value("routing_key", ""), routing_key);

  Step("the Slack message is updated (chat.update: acknowledged)");
  EXPECT_TRUE(WaitFor(15s, [&] {
    for (const auto& u : SimBodies("/api/chat.update")) {
      if (Contains(u.dump(), "acknowledged by " + acker)) return true;
    }
    return false;
  }));

  // --- recovery --------------------------------------------------------------------------
  Step("clear the fault; the alerts resolve");
  ASSERT_EQ(Send("DELETE", exporter + "/fault").status, 200);
  ASSERT_TRUE(WaitFor(75s, [&] {
    json i = IncidentApi()["incident"];
    if (!i.is_object() || i["alerts"].empty()) return false;
    for (const auto& a : i["alerts"]) {
      if (a["state"] != "resolved") return false;
    }
    return true;
  })) << IncidentApi().dump(1);

  Step("the incident resolves (as its policy says)");
  // payments-critical is `resolve: manual`: a person confirms the green zone; with `auto` it
  // would be resolved by now.
  json now = IncidentApi()["incident"];
  if (now["state"] != "resolved") {
    EXPECT_EQ(now["state"], "acknowledged");
    auto r = Send("POST", Tocsin() + "/api/v1/incidents/" + incident_id_ + "/resolve", "{}",
                  {{"Content-Type", "application/json"}, {"X-Tocsin-Actor", acker}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  ASSERT_TRUE(WaitFor(10s, [&] { return IncidentApi()["incident"]["state"] == "resolved"; }));

  Step("PagerDuty gets the resolve (same dedup_key), Slack the resolved message");
  ASSERT_TRUE(WaitFor(15s, [&] { return !PagerDuty("resolve").empty(); }));
  EXPECT_EQ(PagerDuty("resolve").front().value("dedup_key", ""), dedup_key);
  EXPECT_TRUE(WaitFor(15s, [&] {
    auto updates = SimBodies("/api/chat.update");
    return !updates.empty() && Contains(updates.back().dump(), "resolved");
  }));

  Step("the Duty Manager was never paged");
  const json full = IncidentApi();
  // The Duty Manager's step was due at opened + kStep3Seconds: let it pass (normally long
  // past by now: the alerts take longer than that to resolve).
  while (Since(first_page_seen) < kStep3Seconds + 3.0) std::this_thread::sleep_for(250ms);
  EXPECT_EQ(PagerDuty("trigger").size(), 2u);
  for (const auto& t : PagerDuty("trigger")) {
    EXPECT_FALSE(Contains(Paging(t), "(duty-manager)")) << Paging(t);
    for (const auto& [person, name] : dm) EXPECT_FALSE(Contains(Paging(t), name)) << Paging(t);
  }
  for (const auto& m : SimBodies("/api/chat.")) {
    for (const auto& [person, name] : dm) {
      std::string slack_dm = RosterField(roster, person, "slack_user_id");
      EXPECT_FALSE(Contains(m.dump(), "<@" + slack_dm + ">")) << m.dump();
    }
  }
  for (const auto& e : full.value("timeline", json::array())) {
    EXPECT_FALSE(e["kind"] == "escalated" && Contains(e.value("text", ""), "step 3")) << e.dump();
  }

  Step("the timeline's hash chain verifies");
  json verify = GetJson(Tocsin() + "/api/v1/incidents/" + incident_id_ + "/verify");
  EXPECT_TRUE(verify.value("ok", false)) << verify.dump();

  Step("no configured secret appears in anything tocsin produced");
  // Everything tocsin wrote or answered in this run: its log, and every read endpoint a
  // person or a scraper would look at, including the incident's timeline.
  std::string produced = ReadFile(dir_.path() + "/tocsin.log");
  for (const char* path :
       {"/metrics", "/api/v1/incidents", "/api/v2/status", "/api/v2/alerts", "/api/v2/silences",
        "/api/v1/slos", "/api/v1/groups", "/api/v1/oncall"}) {
    produced += Send("GET", Tocsin() + path).body;
  }
  produced += IncidentApi().dump();
  produced += verify.dump();
  std::size_t secrets_checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(demo_ + "/secrets")) {
    const std::string secret = Trim(ReadFile(entry.path().string()));
    ASSERT_GE(secret.size(), 16u) << entry.path();  // a real secret, not an empty file
    ++secrets_checked;
    EXPECT_FALSE(Contains(produced, secret))
        << "the secret in " << entry.path().filename() << " appears in tocsin's output";
  }
  EXPECT_GE(secrets_checked, 6u);
  Step("done");
}

}  // namespace
}  // namespace tocsin
