// Exit codes of `tocsin test rules` and `tocsin backtest`, through the real binary:
// 0 ok, 1 findings (failed tests, invalid rules), 2 usage or I/O.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/process.h"
#include "support/temp_dir.h"

namespace tocsin::rules {
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

}  // namespace
}  // namespace tocsin::rules
