// End to end: the real Prometheus evaluates an always-firing alerting rule every second and
// posts to a real `tocsin serve` through a stock `alerting.alertmanagers` entry; the alert
// shows in GET /api/v2/alerts. Then amtool (when installed) lists it and adds and expires a
// silence against tocsin, and `tocsin silence` sees the same silences.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command to completion (bounded) and returns its exit code and output.
std::pair<int, std::string> RunCommand(std::vector<std::string> argv, const std::string& log) {
  std::filesystem::remove(log);
  Process p(std::move(argv), {}, log);
  auto rc = p.Wait(20s);
  return {rc.value_or(-1), ReadFile(log)};
}

const char* kRules = R"yaml(groups:
  - name: integration
    interval: 1s
    rules:
      - alert: DepositAlwaysFiring
        expr: vector(1)
        labels: {severity: critical, service: deposit, psp: A}
        annotations: {summary: "Deposit success 97.2 % (SLO 99.85 %)"}
)yaml";

const char* kConfig = R"(log: {level: warn}
route:
  receiver: slack
  group_wait: 1s
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
  - {name: oncall, escalation_policy: default}
escalation_policies: {default: {steps: [{after: 0s, targets: [{role: l1}]}]}}
)";

class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  std::string Get(const std::string& path) {
    HttpClientRequest req;
    req.url = url_ + path;
    req.timeout = 5s;
    auto r = client_.Send(req);
    return r && r->status == 200 ? r->body : "";
  }
  TempDir dir_;
  CurlHttpClient client_;
  std::string url_;
};

TEST_F(PrometheusIntegrationTest, RealPrometheusDeliversToTocsinAndAmtoolTalksToIt) {
  if (!std::filesystem::exists(testing::PrometheusHarness::Binary())) {
    GTEST_SKIP() << "prometheus not installed";
  }
  unsigned short port = testing::FreePort();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  auto config = dir_.Write("tocsin.yaml", kConfig);
  Process tocsin({TOCSIN_BINARY, "serve", "--config", config, "--listen",
                  "127.0.0.1:" + std::to_string(port), "--data-dir", dir_.path() + "/data"},
                 {}, dir_.path() + "/tocsin.log");
  ASSERT_TRUE(testing::WaitForPort(port, 10s)) << ReadFile(dir_.path() + "/tocsin.log");

  testing::PrometheusHarness::Options opts;
  opts.rule_files = {dir_.Write("rules.yaml", kRules)};
  opts.alertmanager_targets = {"127.0.0.1:" + std::to_string(port)};
  opts.work_dir = dir_.path() + "/prometheus";
  // Prometheus discovers its Alertmanagers up to 5 s after start and drops what fires before;
  // re-sending every second (instead of every minute) keeps the test well under a minute.
  opts.extra_args = {"--rules.alert.resend-delay=1s"};
  std::filesystem::create_directories(opts.work_dir);
  testing::PrometheusHarness prometheus(opts);
  std::string error;
  ASSERT_TRUE(prometheus.Start(&error)) << error;

  json alert;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200ms)) {
    auto body = Get("/api/v2/alerts?filter=alertname%3D%22DepositAlwaysFiring%22");
    if (body.empty()) continue;
    auto list = json::parse(body);
    if (!list.empty()) {
      alert = list[0];
      break;
    }
  }
  ASSERT_FALSE(alert.is_null()) << "no alert from Prometheus within 30s\n"
                                << ReadFile(prometheus.log_path()) << "\n"
                                << ReadFile(dir_.path() + "/tocsin.log");
  EXPECT_EQ(alert["labels"]["severity"], "critical");
  EXPECT_EQ(alert["labels"]["psp"], "A");
  EXPECT_EQ(alert["annotations"]["summary"], "Deposit success 97.2 % (SLO 99.85 %)");
  EXPECT_NE(alert["generatorURL"].get<std::string>().find("/graph"), std::string::npos);
  EXPECT_EQ(alert["receivers"][0]["name"], "oncall");
  EXPECT_EQ(alert["status"]["state"], "active");
  EXPECT_NE(Get("/metrics").find("tocsin_dispatch_alerts_received_total"), std::string::npos);

  const std::string amtool = "/usr/bin/amtool";
  if (std::filesystem::exists(amtool)) {
    auto log = dir_.path() + "/amtool.log";
    auto am_url = "--alertmanager.url=" + url_;
    auto [rc, out] =
        RunCommand({amtool, am_url, "alert", "query", "alertname=DepositAlwaysFiring"}, log);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("DepositAlwaysFiring"), std::string::npos) << out;

    auto [add_rc, add_out] =
        RunCommand({amtool, am_url, "silence", "add", "alertname=DepositAlwaysFiring",
                    "--comment=integration", "--author=ci", "--duration=1h"},
                   log);
    ASSERT_EQ(add_rc, 0) << add_out;
    // amtool prints the id, and a warning that tocsin's version is not Alertmanager's.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(add_out, m,
                                  std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                             "[0-9a-f]{4}-[0-9a-f]{12}")))
        << add_out;
    std::string id = m.str();

    auto [q_rc, q_out] =
        RunCommand({amtool, am_url, "alert", "query", "alertname=DepositAlwaysFiring"}, log);
    EXPECT_EQ(q_rc, 0);
    EXPECT_EQ(q_out.find("DepositAlwaysFiring"), std::string::npos)
        << "a silenced alert is not active for amtool:\n"
        << q_out;
    auto [sq_rc, sq_out] = RunCommand({amtool, am_url, "silence", "query"}, log);
    EXPECT_NE(sq_out.find(id), std::string::npos) << sq_out;

    // tocsin's own CLI sees the silence amtool created.
    auto [l_rc, l_out] = RunCommand({TOCSIN_BINARY, "silence", "list", "--url", url_}, log);
    EXPECT_EQ(l_rc, 0) << l_out;
    EXPECT_NE(l_out.find(id), std::string::npos) << l_out;

    auto [e_rc, e_out] = RunCommand({amtool, am_url, "silence", "expire", id}, log);
    EXPECT_EQ(e_rc, 0) << e_out;
    auto silence = json::parse(Get("/api/v2/silence/" + id));
    EXPECT_EQ(silence["status"]["state"], "expired");
    auto [q2_rc, q2_out] =
        RunCommand({amtool, am_url, "alert", "query", "alertname=DepositAlwaysFiring"}, log);
    EXPECT_NE(q2_out.find("DepositAlwaysFiring"), std::string::npos) << q2_out;
  }

  // tocsin silence add / expire through the CLI.
  auto log = dir_.path() + "/cli.log";
  auto [a_rc, a_out] = RunCommand({TOCSIN_BINARY, "silence", "add", "--url", url_, "psp=\"A\"",
                                   "-a", "alice", "-c", "PSP-A maintenance", "-d", "30m"},
                                  log);
  ASSERT_EQ(a_rc, 0) << a_out;
  std::string cli_id = a_out.substr(0, 36);
  auto muted = json::parse(Get("/api/v2/alerts?filter=alertname%3D%22DepositAlwaysFiring%22"));
  ASSERT_EQ(muted.size(), 1u);
  EXPECT_EQ(muted[0]["status"]["silencedBy"], json::array({cli_id}));
  auto [x_rc, x_out] = RunCommand({TOCSIN_BINARY, "silence", "expire", "--url", url_, cli_id}, log);
  EXPECT_EQ(x_rc, 0) << x_out;
  auto [x2_rc, x2_out] =
      RunCommand({TOCSIN_BINARY, "silence", "expire", "--url", url_, cli_id}, log);
  EXPECT_EQ(x2_rc, 1) << "expiring twice is reported:\n" << x2_out;
  EXPECT_NE(x2_out.find("already expired"), std::string::npos) << x2_out;

  // The same with -o json: the id as JSON, and what happened to each id expired.
  auto [j_rc, j_out] =
      RunCommand({TOCSIN_BINARY, "silence", "add", "--url", url_, "psp=\"B\"", "-a", "alice", "-c",
                  "PSP-B maintenance", "-d", "30m", "-o", "json"},
                 log);
  ASSERT_EQ(j_rc, 0) << j_out;
  auto added = json::parse(j_out, nullptr, false);
  ASSERT_TRUE(added.is_object()) << j_out;
  const std::string json_id = added.value("silenceID", "");
  EXPECT_EQ(json::parse(Get("/api/v2/silence/" + json_id))["createdBy"], "alice");
  auto [je_rc, je_out] = RunCommand(
      {TOCSIN_BINARY, "silence", "expire", "--url", url_, json_id, cli_id, "-o", "json"}, log);
  EXPECT_EQ(je_rc, 1) << "one of the two was already expired:\n" << je_out;
  auto expired = json::parse(je_out.substr(je_out.find('[')), nullptr, false);
  EXPECT_EQ(expired, json::parse(R"([{"id":")" + json_id + R"(","result":"expired"},{"id":")" +
                                 cli_id + R"(","result":"already expired"}])"))
      << je_out;
}

}  // namespace
}  // namespace tocsin
