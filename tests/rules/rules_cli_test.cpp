// Exit codes of `tocsin test rules` and `tocsin backtest`, through the real binary:
// 0 ok, 1 findings (failed tests, invalid rules), 2 usage or I/O.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"

namespace tocsin::rules {
// Its own namespace: this file shares a unity batch with files whose helpers have the same
// names (cmake/TocsinBuildSpeed.cmake).
namespace rules_cli_test {
namespace {

int RunTocsin(const std::string& args) {
  std::string cmd = std::string(TOCSIN_BINARY) + " " + args + " >/dev/null 2>&1";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* kRules = R"(
groups:
  - name: live
    rules:
      - {alert: queue_lag, expr: lag, threshold: 30, severity: warning, service: wallet, domain: db-wallet}
)";

TEST(RulesCliTest, TestRulesExitCodes) {
  testing::TempDir dir;
  dir.Write("rules.yaml", kRules);
  auto passing = dir.Write("pass.yaml", R"(rule_files: [rules.yaml]
tests:
  - interval: 30s
    input: [{rule: queue_lag, series: [{labels: {queue: q}, values: "60x5"}]}]
    alert_rule_test: [{eval_time: 1m, alertname: queue_lag, exp_alerts: [{exp_labels: {queue: q}}]}]
)");
  auto failing = dir.Write("fail.yaml", R"(rule_files: [rules.yaml]
tests:
  - interval: 30s
    input: [{rule: queue_lag, series: [{labels: {queue: q}, values: "60x5"}]}]
    alert_rule_test: [{eval_time: 30s, alertname: queue_lag, exp_alerts: [{exp_labels: {queue: q}}]}]
)");
  EXPECT_EQ(RunTocsin("test rules " + passing), 0);
  EXPECT_EQ(RunTocsin("test rules " + passing + " " + failing), 1);
  EXPECT_EQ(RunTocsin("test rules " + dir.path() + "/missing.yaml"), 2);
  EXPECT_EQ(RunTocsin("test rules"), 2);
}

TEST(RulesCliTest, BacktestExitCodes) {
  testing::TempDir dir;
  dir.Write("rules/live.yaml", kRules);
  std::string closed = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  // Unreachable source: an I/O error.
  EXPECT_EQ(
      RunTocsin("backtest --rules " + dir.path() + "/rules --from 0 --to 3600 --source " + closed),
      2);
  EXPECT_EQ(RunTocsin("backtest --rules " + dir.path() + "/rules --from yesterday --to 3600"), 2);
  EXPECT_EQ(RunTocsin("backtest --rules " + dir.path() + "/none --from 0 --to 3600"), 2);
  dir.Write("bad/x.yaml", "groups: [{name: g, rules: [{alert: x}]}]\n");
  EXPECT_EQ(
      RunTocsin("backtest --rules " + dir.path() + "/bad --from 0 --to 3600 --source " + closed),
      1);
}

// tests/testdata/rules/unit/wrong_expectation_test.yaml expects the payouts alert with severity
// critical (the rule says warning) and does not expect the refunds queue, which fires too. At
// eval_time 1m both queues have violated at 0s and 30s (consecutive: 2): both firing. The
// payouts alert agrees on the state, the queue and the summary, so it stands next to the
// expectation, with only the severity differing; refunds is reported as extra, at the line of
// its alert_rule_test entry. Widths: KEY as wide as "labels.severity", EXPECTED as "EXPECTED".
TEST(RulesCliTest, AFailedExpectationShowsExpectedAndGotSideBySideWithBothLocations) {
  const std::string dir = std::string(TOCSIN_TESTDATA_DIR) + "/rules/unit";
  const std::string test = dir + "/wrong_expectation_test.yaml";
  auto r = testing::RunCommand({TOCSIN_BINARY, "test", "rules", test});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string name = "test \"lag over 30s fires after two evaluations\" at eval_time 1m";
  const std::string want =
      "FAILED " + test + ":18: " + name + ", alert queue_lag\n" + "  rule queue_lag at " + dir +
      "/queue.yaml:5\n"
      "  KEY              EXPECTED  GOT\n"
      "  labels.severity  critical  warning\n"
      "  same: state, labels.queue, annotations.summary\n"
      "  got labels: {alertname=\"queue_lag\", domain=\"db-wallet\", kind=\"symptom\", "
      "queue=\"payouts\", service=\"wallet\", severity=\"warning\"}\n"
      "FAILED " +
      test + ":15: " + name + ", alert queue_lag\n" + "  rule queue_lag at " + dir +
      "/queue.yaml:5\n"
      "  KEY    EXPECTED  GOT\n"
      "  state  (none)    firing\n"
      "  got labels: {alertname=\"queue_lag\", domain=\"db-wallet\", kind=\"symptom\", "
      "queue=\"refunds\", service=\"wallet\", severity=\"warning\"}\n" +
      test +
      ": 1 test(s), 1 failed\n"
      "FAILED: 1 test(s), 1 failed\n";
  EXPECT_EQ(r.out, want);

  auto j = testing::RunCommand({TOCSIN_BINARY, "test", "rules", "--output", "json", test});
  EXPECT_EQ(j.exit_code, 1) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("success"), false);
  EXPECT_EQ(doc.at("tests"), 1);
  EXPECT_EQ(doc.at("failed"), 1);
  const auto& failures = doc.at("files").at(0).at("failures");
  ASSERT_EQ(failures.size(), 2u);
  const auto& f = failures[0];
  EXPECT_EQ(f.at("test_file"), test);
  EXPECT_EQ(f.at("test_line"), 18);
  EXPECT_EQ(f.at("rule_file"), dir + "/queue.yaml");
  EXPECT_EQ(f.at("rule_line"), 5);
  EXPECT_EQ(f.at("eval_time"), "1m");
  EXPECT_EQ(f.at("differences"),
            nlohmann::json::parse(
                R"([{"key": "labels.severity", "expected": "critical", "got": "warning"}])"));
  EXPECT_EQ(f.at("same"),
            nlohmann::json::parse(R"(["state", "labels.queue", "annotations.summary"])"));
  EXPECT_EQ(f.at("expected").at("state"), "firing");
  EXPECT_EQ(f.at("got").at("state"), "firing");
  EXPECT_EQ(f.at("got").at("annotations").at("summary"), "Queue payouts lag 45s");
  const auto& extra = failures[1];
  EXPECT_EQ(extra.at("test_line"), 15);
  EXPECT_TRUE(extra.at("expected").is_null());
  EXPECT_EQ(extra.at("got").at("labels").at("queue"), "refunds");
}

}  // namespace
}  // namespace rules_cli_test
}  // namespace tocsin::rules
