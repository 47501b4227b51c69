// Jira Service Management Operations against the real processes: `tocsin serve` and the
// tocsin-provider-sim binary on loopback. An incident pages its L1 in JSM with the integration
// key from a file (never in the log); the L1 acknowledges in JSM, whose outgoing webhook (with
// the custom X-Tocsin-Token header) acknowledges it in tocsin, as that person, from JSM. The
// test only polls the processes (bounded): no timer is involved.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;

constexpr const char* kJsmKey = "0b5c7e4a-1d2f-4a6b-9c8d-7e6f5a4b3c2d";
constexpr const char* kJsmToken = "jsm-webhook-token-for-the-daemon-test";
constexpr const char* kToken = "responder-token-0123456789abcdef";

class JsmDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string port_file = dir_.path() + "/sim.ports";
    sim_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--smtp-listen",
                                 "off", "--port-file", port_file},
        std::vector<std::string>{}, dir_.path() + "/sim.log");
    auto ports = testing::ReadPortFile(port_file);
    ASSERT_FALSE(ports.empty()) << "simulator did not write its port file";
    sim_port_ = ports[0];
    dir_.Write("jsm.key", std::string(kJsmKey) + "\n");
    dir_.Write("roster.yaml", R"(
people:
  olena: {name: Olena Kovalenko, time_zone: UTC, jsm_username: olena@example.com}
  marco: {name: Marco Rossi, time_zone: UTC, jsm_username: marco@example.com}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [olena]}
  l2: {role: l2-sre-platform, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
  comms: {role: comms, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
)");
    std::string config = R"(
log: {level: debug}
roster_file: roster.yaml
providers:
  jsm:
    api_url: http://127.0.0.1:SIM
    api_key_file: jsm.key
    webhook_token: TOKEN
escalation_policies:
  default:
    steps:
      - {after: 0s, targets: [{role: l1}], channels: [jsm]}
      - {after: 5m, targets: [{role: "l2-{domain}"}, {role: comms}], channels: [jsm]}
      - {after: 10m, targets: [{role: duty-manager}], channels: [jsm]}
api:
  tokens:
    - {name: olena-laptop, sha256: SHA, role: responder, person: olena}
)";
    config.replace(config.find("SIM"), 3, std::to_string(sim_port_));
    config.replace(config.find("TOKEN"), 5, kJsmToken);
    config.replace(config.find("SHA"), 3, Sha256Hex(kToken));
    const std::string path = dir_.Write("tocsin.yaml", config);
    port_ = testing::FreePort();
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", path, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 dir_.path() + "/data"},
        std::vector<std::string>{}, dir_.path() + "/tocsin.log");
    ASSERT_TRUE(testing::WaitForPort(port_, 10s));
  }

  HttpClientResponse Call(unsigned short port, const std::string& method, const std::string& path,
                          const std::string& body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpClientRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(port) + path;
    r.body = body;
    r.headers = std::move(headers);
    r.timeout = 15s;
    auto res = client_.Send(r);
    EXPECT_TRUE(res) << res.error().message();
    return res ? *res : HttpClientResponse{};
  }
  json Api(const std::string& method, const std::string& path, const json& body = nullptr) {
    std::vector<std::pair<std::string, std::string>> h = {
        {"Authorization", std::string("Bearer ") + kToken}};
    if (!body.is_null()) h.emplace_back("Content-Type", "application/json");
    return json::parse(Call(port_, method, path, body.is_null() ? "" : body.dump(), h).body,
                       nullptr, false);
  }
  json Received() { return json::parse(Call(sim_port_, "GET", "/_sim/jsm/received").body); }
  std::string Log() {
    std::ifstream in(dir_.path() + "/tocsin.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  testing::TempDir dir_;
  unsigned short sim_port_ = 0;
  unsigned short port_ = 0;
  std::unique_ptr<Process> sim_;
  std::unique_ptr<Process> daemon_;
  CurlHttpClient client_;
};

TEST_F(JsmDaemonTest, PagesL1InJsmAndTheirAckInJsmAcknowledgesInTocsin) {
  auto created = Api("POST", "/api/v1/incidents",
                     {{"title", "Deposit success 97.2 % at PSP-A"}, {"severity", "critical"}});
  ASSERT_TRUE(created.contains("incident")) << created.dump();
  const std::string id = created["incident"]["id"];
  // The outbox delivers off the loop: poll the simulator (bounded).
  json got;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
    got = Received();
    if (!got.empty()) break;
  }
  ASSERT_EQ(got.size(), 1u) << got.dump();
  EXPECT_EQ(got[0]["username"], "olena@example.com");
  EXPECT_EQ(got[0]["alias"], "tocsin/" + id);
  // JSM's priority is the incident's SEV: SEV-1 is P1, SEV-2 is P2.
  const std::string sev = created["incident"]["sev"];
  EXPECT_EQ(got[0]["priority"], "P" + sev.substr(sev.size() - 1)) << sev;

  // Olena acknowledges in JSM; JSM's outgoing webhook tells tocsin.
  json act = {{"url", "http://127.0.0.1:" + std::to_string(port_) + "/webhooks/jsm"},
              {"token", kJsmToken},
              {"alias", "tocsin/" + id},
              {"action", "Acknowledge"},
              {"username", "olena@example.com"}};
  auto answer = json::parse(Call(sim_port_, "POST", "/_sim/jsm/act", act.dump()).body);
  EXPECT_EQ(answer["status"], 200) << answer.dump();
  auto tocsin_said = json::parse(answer["attempts"][0]["body"].get<std::string>());
  EXPECT_EQ(tocsin_said["outcome"], "acted") << tocsin_said.dump();
  auto inc = Api("GET", "/api/v1/incidents/" + id);
  EXPECT_EQ(inc["incident"]["state"], "acknowledged");
  bool found = false;
  for (const auto& e : inc["timeline"]) {
    if (e["kind"] != "acknowledged") continue;
    found = true;
    EXPECT_EQ(e["actor"], "jsm:olena@example.com");
    EXPECT_EQ(e["data"]["origin"], "jsm");
  }
  EXPECT_TRUE(found) << inc.dump();

  // A webhook without the token JSM was told to send does nothing.
  act["token"] = "guessed-token-guessed-token";
  act["action"] = "Close";
  auto forged = json::parse(Call(sim_port_, "POST", "/_sim/jsm/act", act.dump()).body);
  EXPECT_EQ(forged["status"], 403) << forged.dump();
  EXPECT_EQ(Api("GET", "/api/v1/incidents/" + id)["incident"]["state"], "acknowledged");

  // The integration key went to JSM in the header, and never into tocsin's log.
  auto sent = json::parse(
      Call(sim_port_, "GET", "/_sim/requests?path=/jsm/ops/integration/v2/alerts").body);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0]["headers"]["Authorization"], std::string("GenieKey ") + kJsmKey);
  EXPECT_EQ(Log().find(kJsmKey), std::string::npos);
  EXPECT_EQ(Log().find(kJsmToken), std::string::npos);
}

}  // namespace
}  // namespace tocsin
