// The ladder through the real `tocsin serve` and the real provider simulator process, once per
// paging provider: L1 at once, the L2 of payments and the Comms officer at the second step, and
// an acknowledgement before the Duty Manager's step stops it. The steps are seconds apart here
// (the acceptance tests in tests/notify run the real 5 and 10 minutes on the simulated clock);
// every wait polls a real process and is bounded.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/failure_logs.h"
#include "support/files.h"
#include "support/ladder_roster.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kRoutingKey = "0123456789abcdef0123456789abcdef";
constexpr const char* kPdApiToken = "pd-rest-token-for-the-daemon-test";
constexpr const char* kPdWebhookSecret = "pagerduty-webhook-secret-daemon-test";
constexpr const char* kApiToken = "responder-token-0123456789abcdef";

class ProviderLadderDaemon : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) testing::AddLogsToFailure(dir_.path(), {"tocsin.log", "sim.log"});
  }

  void StartSim() {
    auto sim = testing::StartProviderSim(TOCSIN_PROVIDER_SIM, dir_.path());
    ASSERT_FALSE(sim.url.empty()) << "the simulator did not write its port file";
    sim_proc_ = std::move(sim.process);
    sim_ = sim.url;
  }

  // The provider's section of tocsin.yaml and the channel name the ladder uses.
  void StartTocsin(const std::string& providers, const std::string& channel) {
    dir_.Write("roster.yaml", testing::kLadderRoster);
    std::string config = "log: {level: info}\nroster_file: roster.yaml\nproviders:\n" + providers +
                         "api:\n  tokens:\n    - {name: t, sha256: " + Sha256Hex(kApiToken) +
                         ", role: responder, person: l1a}\n"
                         "escalation_policies:\n  default:\n    steps:\n"
                         "      - {after: 0s, targets: [{role: l1}], channels: [" +
                         channel +
                         "]}\n"
                         "      - {after: 3s, targets: [{role: \"l2-{domain}\"}, {role: comms}], "
                         "channels: [" +
                         channel +
                         "]}\n"
                         "      - {after: 120s, targets: [{role: duty-manager}], channels: [" +
                         channel + "]}\n    default_domain: payments\n";
    config_path_ = dir_.Write("tocsin.yaml", config);
    port_ = testing::FreePort();
    LaunchTocsin();
  }
  // `tocsin serve` on the config, port and data directory StartTocsin chose (again after a
  // kill: same database).
  void LaunchTocsin() {
    tocsin_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config_path_, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 dir_.path() + "/data"},
        std::vector<std::string>{}, dir_.path() + "/tocsin.log");
    ASSERT_TRUE(testing::WaitForPort(port_, 10s));
  }

  // The simulator's PagerDuty account with the ladder's people, then tocsin paging through it
  // with the REST API configured.
  void StartPagerDuty(const std::string& faults = "") {
    StartSim();
    json account = {
        {"api_token", kPdApiToken},
        {"users",
         {{{"id", "PBOT001"}, {"email", "tocsin@example.com"}},
          {{"id", "PL1A001"}, {"email", "l1a@example.com"}, {"name", "L1 Day"}},
          {{"id", "PPAY001"}, {"email", "pay@example.com"}, {"name", "Payments L2"}},
          {{"id", "PCOM001"}, {"email", "comms@example.com"}},
          {{"id", "PDMG001"}, {"email", "dm@example.com"}}}},
    };
    account["services"][kRoutingKey] = json::array({"PL1A001"});
    ASSERT_EQ(Send("POST", sim_ + "/_sim/pagerduty/account", account.dump()).status, 200);
    if (!faults.empty()) {
      ASSERT_EQ(Send("POST", sim_ + "/_sim/faults", faults).status, 200);
    }
    dir_.Write("pd-api-token", std::string(kPdApiToken) + "\n");
    StartTocsin(std::string("  pagerduty:\n    events_url: ") + sim_ +
                    "\n    routing_key: " + kRoutingKey +
                    "\n    webhook_secret: " + kPdWebhookSecret + "\n    api_url: " + sim_ +
                    "\n    api_token_file: pd-api-token\n    from: tocsin@example.com\n"
                    "    requester_id: PBOT001\n",
                "pagerduty");
  }
  // Whom the simulated PagerDuty paged and how, in order.
  std::vector<std::string> PagerDutyPages() {
    std::vector<std::string> out;
    for (const auto& p : Get(sim_ + "/_sim/pagerduty/pages")) {
      out.push_back(p["user_id"].get<std::string>() + " " + p["how"].get<std::string>());
    }
    return out;
  }

  HttpClientResponse Send(const std::string& method, const std::string& url,
                          const std::string& body = "", Headers headers = {}) {
    HttpClientRequest r;
    r.method = method;
    r.url = url;
    r.body = body;
    r.headers = std::move(headers);
    r.timeout = 5s;
    auto resp = client_.Send(r);
    return resp ? *resp : HttpClientResponse{};
  }
  json Get(const std::string& url, Headers headers = {}) {
    auto r = Send("GET", url, "", std::move(headers));
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  std::string Tocsin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  json Incident() {
    return Get(Tocsin() + "/api/v1/incidents/INC-1",
               {{"Authorization", std::string("Bearer ") + kApiToken}});
  }
  std::vector<std::string> TimelineTexts(const std::string& kind) {
    std::vector<std::string> out;
    const json incident = Incident();
    for (const auto& e : incident["timeline"]) {
      if (e["kind"] == kind) out.push_back(e["text"]);
    }
    return out;
  }
  void OpenIncident() {
    json body = {{"title", "Deposit success 97.2 % at PSP-A"},
                 {"severity", "critical"},
                 {"labels", {{"domain", "payments"}}}};
    auto r = Send("POST", Tocsin() + "/api/v1/incidents", body.dump(),
                  {{"Authorization", std::string("Bearer ") + kApiToken},
                   {"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 201) << r.body;
  }
  bool WaitFor(std::chrono::seconds limit, const std::function<bool()>& ok) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
      if (ok()) return true;
    }
    return ok();
  }

  testing::TempDir dir_;
  std::string sim_;
  std::string config_path_;
  unsigned short port_ = 0;
  std::unique_ptr<Process> sim_proc_;
  std::unique_ptr<Process> tocsin_;
  CurlHttpClient client_;
};

TEST_F(ProviderLadderDaemon, PagerDutyAddsEachPersonAndAnAckInPagerDutyComesBackWithWhoDidIt) {
  StartPagerDuty();
  OpenIncident();
  ASSERT_TRUE(WaitFor(20s, [&] { return PagerDutyPages().size() >= 3; }))
      << json(PagerDutyPages()).dump();
  EXPECT_EQ(PagerDutyPages(),
            (std::vector<std::string>{"PL1A001 escalation_policy", "PPAY001 responder_request",
                                      "PCOM001 responder_request"}));
  // The L2 acknowledges in PagerDuty: the V3 webhook names them as the agent.
  json incidents = Get(sim_ + "/_sim/pagerduty/incidents");
  ASSERT_EQ(incidents.size(), 1u);
  json event = {
      {"event",
       {{"id", "01EVENTACK0001"},
        {"event_type", "incident.acknowledged"},
        {"resource_type", "incident"},
        {"occurred_at", "2026-12-04T21:00:00Z"},
        {"agent", {{"id", "PPAY001"}, {"type", "user_reference"}, {"summary", "Payments L2"}}},
        {"data",
         {{"id", incidents[0]["id"]},
          {"type", "incident"},
          {"incident_key", incidents[0]["incident_key"]},
          {"status", "acknowledged"}}}}}};
  json send = {{"url", Tocsin() + "/webhooks/pagerduty"},
               {"kind", "pagerduty"},
               {"secret", kPdWebhookSecret},
               {"body", event.dump()}};
  auto answer = json::parse(Send("POST", sim_ + "/_sim/send-webhook", send.dump()).body);
  ASSERT_LT(answer.value("status", 0), 300) << answer.dump();
  ASSERT_TRUE(WaitFor(10s, [&] { return Incident()["incident"]["state"] == "acknowledged"; }));
  auto acks = TimelineTexts("acknowledged");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_NE(acks[0].find("pagerduty:Payments L2"), std::string::npos) << acks[0];
  bool said = false;
  for (const auto& t : TimelineTexts("sent")) {
    said = said || t.find("paged by responder request: pay (PPAY001), comms (PCOM001)") !=
                       std::string::npos;
    EXPECT_EQ(t.find(kPdApiToken), std::string::npos) << t;
  }
  EXPECT_TRUE(said);
  EXPECT_EQ(testing::ReadFile(dir_.path() + "/tocsin.log").find(kPdApiToken), std::string::npos)
      << "the REST key never reaches the log";
  for (const auto& r : Get(sim_ + "/_sim/requests?path=/incidents")) {
    EXPECT_EQ(r["headers"]["Accept"], "application/vnd.pagerduty+json;version=2");
    EXPECT_EQ(r["headers"]["Authorization"], std::string("Token token=") + kPdApiToken);
  }
}

// Regression: accepted responder requests were remembered in memory only, so a step retried
// after a restart paged its people again. Here the second step's request for the L2 is
// accepted and the Comms officer's fails (500) until tocsin is killed with SIGKILL; after the
// restart the step is retried and reaches the Comms officer, and the L2 is not paged twice.
TEST_F(ProviderLadderDaemon, PagerDutyResponderRequestIsSentOnceAcrossASigkillRestart) {
  StartPagerDuty(json{{"path", "/incidents/"}, {"status", 500}, {"skip", 1}, {"count", -1}}.dump());
  OpenIncident();
  auto failed_requests = [&] {
    int n = 0;
    for (const auto& r : Get(sim_ + "/_sim/requests?path=/incidents/")) {
      n += r["status"] == 500 ? 1 : 0;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor(20s, [&] { return failed_requests() >= 1; }));
  ASSERT_TRUE(tocsin_->Signal(SIGKILL));
  ASSERT_TRUE(tocsin_->Wait(10s).has_value());
  EXPECT_EQ(PagerDutyPages(),
            (std::vector<std::string>{"PL1A001 escalation_policy", "PPAY001 responder_request"}));
  ASSERT_EQ(Send("DELETE", sim_ + "/_sim/faults").status, 200);
  LaunchTocsin();
  ASSERT_TRUE(WaitFor(30s, [&] { return PagerDutyPages().size() >= 3; }))
      << json(PagerDutyPages()).dump();
  EXPECT_EQ(PagerDutyPages(),
            (std::vector<std::string>{"PL1A001 escalation_policy", "PPAY001 responder_request",
                                      "PCOM001 responder_request"}));
  // Every request to PagerDuty for the L2 after the kill would have been a second page.
  int for_l2 = 0;
  for (const auto& r : Get(sim_ + "/_sim/requests?path=/incidents/")) {
    for_l2 += r["body"].get<std::string>().find("PPAY001") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(for_l2, 1);
  // The timeline hears of the delivery once tocsin has the simulator's answer.
  EXPECT_TRUE(WaitFor(10s, [&] {
    for (const auto& t : TimelineTexts("sent")) {
      if (t.find("already on it: pay (PPAY001) requested earlier") != std::string::npos) {
        return true;
      }
    }
    return false;
  })) << Incident()["timeline"].dump();
}

TEST_F(ProviderLadderDaemon, OpsgenieAddsEachStepsPeopleAsResponders) {
  StartSim();
  StartTocsin(std::string("  opsgenie:\n    api_url: ") + sim_ + "\n    api_key: genie-key\n",
              "opsgenie");
  OpenIncident();
  auto pages = [&] {
    std::vector<std::string> out;
    const json all = Get(sim_ + "/_sim/opsgenie/pages");
    for (const auto& p : all["pages"]) {
      out.push_back(p["username"].get<std::string>() + " " + p["how"].get<std::string>());
    }
    return out;
  };
  ASSERT_TRUE(WaitFor(20s, [&] { return pages().size() >= 3; })) << json(pages()).dump();
  EXPECT_EQ(pages(),
            (std::vector<std::string>{"l1a@example.com create", "pay@example.com add_responder",
                                      "comms@example.com add_responder"}));
  auto r = Send("POST", Tocsin() + "/api/v1/incidents/INC-1/ack", json{{"actor", "pay"}}.dump(),
                {{"Authorization", std::string("Bearer ") + kApiToken},
                 {"Content-Type", "application/json"}});
  ASSERT_LT(r.status, 300) << r.body;
  ASSERT_TRUE(WaitFor(10s, [&] {
    for (const auto& q : Get(sim_ + "/_sim/requests?path=/v2/alerts/")) {
      if (q["path"].get<std::string>().find("/acknowledge") != std::string::npos) return true;
    }
    return false;
  }));
  bool said = false;
  for (const auto& t : TimelineTexts("sent")) {
    said = said || t.find(
                       "responders accepted: pay (pay@example.com), comms "
                       "(comms@example.com)") != std::string::npos;
  }
  EXPECT_TRUE(said);
}

// Teams through a Workflows webhook: each step's Adaptive Card reaches the channel naming whom it
// pages, and the acknowledgement is a card of its own.
TEST_F(ProviderLadderDaemon, TeamsGetsAnAdaptiveCardPerStepAndTheAck) {
  StartSim();
  StartTocsin("  teams:\n    webhook_url: \"" + sim_ +
                  "/workflows/ops-room/triggers/manual/paths/invoke?api-version=1&sig=s1g\"\n",
              "teams");
  OpenIncident();
  auto cards = [&] { return Get(sim_ + "/_sim/teams/messages"); };
  ASSERT_TRUE(WaitFor(20s, [&] { return cards().size() >= 2; })) << cards().dump();
  json shown = cards();
  EXPECT_EQ(shown[0]["workflow"], "ops-room/triggers/manual/paths/invoke");
  EXPECT_EQ(shown[0]["title"], "[SEV-2] INC-1: Deposit success 97.2 % at PSP-A");
  EXPECT_EQ(shown[0]["facts"]["Paged"], "L1 Day (l1)");
  EXPECT_EQ(shown[1]["title"], "Step 2: [SEV-2] INC-1: Deposit success 97.2 % at PSP-A");
  EXPECT_EQ(shown[1]["facts"]["Escalated to"], "Payments L2 (l2-payments), Comms Officer (comms)");
  // What went over the wire is a Workflows message with one Adaptive Card attachment.
  for (const auto& r : Get(sim_ + "/_sim/requests?path=/workflows/")) {
    json body = json::parse(r["body"].get<std::string>());
    ASSERT_EQ(body["attachments"].size(), 1u);
    EXPECT_EQ(body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
    EXPECT_EQ(body["attachments"][0]["content"]["type"], "AdaptiveCard");
  }
  auto r = Send("POST", Tocsin() + "/api/v1/incidents/INC-1/ack", json{{"actor", "pay"}}.dump(),
                {{"Authorization", std::string("Bearer ") + kApiToken},
                 {"Content-Type", "application/json"}});
  ASSERT_LT(r.status, 300) << r.body;
  ASSERT_TRUE(WaitFor(10s, [&] { return cards().size() >= 3; })) << cards().dump();
  EXPECT_EQ(cards()[2]["title"], "Acknowledged: INC-1 acknowledged by l1a");
  EXPECT_TRUE(WaitFor(10s, [&] {
    for (const auto& t : TimelineTexts("sent")) {
      if (t.find("teams: HTTP 202") != std::string::npos) return true;
    }
    return false;
  })) << Incident()["timeline"].dump();
}

}  // namespace
}  // namespace tocsin
