// `tocsin test rules` and `tocsin backtest` as library calls.
#include "tocsin/rules/rule_test_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "fake_sli_source.h"
#include "support/temp_dir.h"
#include "tocsin/rules/backtest.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::rules {
namespace {

namespace fs = std::filesystem;

TEST(SeriesValuesTest, ExpandsPromtoolNotation) {
  auto v = ExpandSeriesValues("1 0+10x3 5x2 _ _x2 NaN -Inf 3-1x2 1e-3");
  ASSERT_TRUE(v) << v.error().message();
  std::vector<std::optional<double>> want = {1, 0, 10,           20,           30,          5,
                                             5, 5, std::nullopt, std::nullopt, std::nullopt};
  ASSERT_EQ(v->size(), 17u);
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*v)[i], want[i]) << i;
  EXPECT_TRUE(std::isnan(*(*v)[11]));
  EXPECT_TRUE(std::isinf(*(*v)[12]));
  EXPECT_DOUBLE_EQ(*(*v)[13], 3);
  EXPECT_DOUBLE_EQ(*(*v)[15], 1);
  EXPECT_DOUBLE_EQ(*(*v)[16], 0.001);
  for (const char* bad : {"abc", "1x", "1+x3", "1xx", "1x-2"}) {
    EXPECT_FALSE(ExpandSeriesValues(bad)) << bad;
  }
}

const char* kRules = R"(
groups:
  - name: live
    interval: 30s
    rules:
      - alert: ws_rtt_p95
        expr: ws_p95
        threshold: 0.12
        severity: critical
        service: live-betting
        domain: game-gateway
        runbook: ws-rtt.md
)";

TEST(RuleTestRunnerTest, AWrongExpectationFailsWithWhatFired) {
  testing::TempDir dir;
  dir.Write("rules.yaml", kRules);
  auto path = dir.Write("t.yaml", R"(
rule_files: [rules.yaml]
tests:
  - name: fires at the third violation
    interval: 30s
    input:
      - rule: ws_rtt_p95
        series:
          - labels: {region: eu}
            values: "0.2x10"
    alert_rule_test:
      - eval_time: 1m
        alertname: ws_rtt_p95
        exp_alerts:
          - exp_labels: {region: eu}
  - name: wrongly expects it after two
    interval: 30s
    input:
      - rule: ws_rtt_p95
        series:
          - labels: {region: eu}
            values: "0.2x10"
    alert_rule_test:
      - eval_time: 30s
        alertname: ws_rtt_p95
        exp_alerts:
          - exp_labels: {region: eu}
)");
  config::Diagnostics diags;
  auto report = RunRuleTestFile(path, diags);
  EXPECT_FALSE(report.invalid) << diags.ToString();
  EXPECT_EQ(report.tests, 2u);
  EXPECT_EQ(report.failed, 1u);
  ASSERT_EQ(report.failures.size(), 1u);
  // At 30 s the alert has seen two of its three violations: pending, shown next to the
  // expectation with the one key that differs.
  const auto& f = report.failures[0];
  EXPECT_EQ(f.test, "wrongly expects it after two");
  EXPECT_EQ(f.test_file, path);
  EXPECT_EQ(f.test_line, 27);  // the exp_alerts entry
  EXPECT_EQ(f.eval_time, std::chrono::seconds(30));
  EXPECT_EQ(f.rule, "ws_rtt_p95");
  EXPECT_EQ(f.rule_file, dir.path() + "/rules.yaml");
  EXPECT_EQ(f.rule_line, 6);  // "- alert: ws_rtt_p95" in kRules
  ASSERT_TRUE(f.got);
  EXPECT_EQ(f.got->state, "pending");
  ASSERT_EQ(f.differences.size(), 1u);
  EXPECT_EQ(f.differences[0].key, "state");
  EXPECT_EQ(f.differences[0].expected, "firing");
  EXPECT_EQ(f.differences[0].got, "pending");
  EXPECT_EQ(f.same, std::vector<std::string>{"labels.region"});
}

TEST(RuleTestRunnerTest, InvalidTestFilesAreReportedWithPositions) {
  testing::TempDir dir;
  dir.Write("rules.yaml", kRules);
  auto path = dir.Write("t.yaml", R"(rule_files: [rules.yaml]
tests:
  - name: x
    input:
      - rule: nope
        series: [{labels: {}, values: "1 2 zz"}]
)");
  config::Diagnostics diags;
  auto report = RunRuleTestFile(path, diags);
  EXPECT_TRUE(report.invalid);
  EXPECT_NE(diags.ToString().find("bad series value \"zz\""), std::string::npos)
      << diags.ToString();
}

// A rule test can show what a gap in the data does: the 5m window falls silent while the 1h
// one still answers; the page stays firing and tocsin_absent_data joins it.
TEST(RuleTestRunnerTest, AGapInTheShortWindowKeepsThePageFiringAndRaisesAbsentData) {
  testing::TempDir dir;
  dir.Write("rules.yaml", R"(
groups:
  - name: payments
    interval: 30s
    slos:
      - name: deposit_success
        service: payments-api
        domain: payments
        objective: 99.85
        sli: {error: "err[{{window}}]", total: "all[{{window}}]"}
        absent_after: 10m
        runbook: deposit-psp.md
)");
  auto path = dir.Write("t.yaml", R"(
rule_files: [rules.yaml]
tests:
  - name: a 40-minute gap during a page
    interval: 1m
    input:
      - slo: deposit_success
        windows: [5m]
        series: [{labels: {}, values: "0.05x9 _x40 0.05x20"}]
      - slo: deposit_success
        windows: [1h]
        series: [{labels: {}, values: "0.05x70"}]
    alert_rule_test:
      - eval_time: 5m
        alertname: tocsin_absent_data
        exp_alerts: []
      - eval_time: 30m
        alertname: deposit_success
        exp_alerts: [{exp_labels: {tier: page_fast}}]
      - eval_time: 30m
        alertname: tocsin_absent_data
        exp_alerts: [{exp_labels: {rule: deposit_success}}]
      - eval_time: 55m
        alertname: deposit_success
        exp_alerts: [{exp_labels: {tier: page_fast}}]
      - eval_time: 55m
        alertname: tocsin_absent_data
        exp_alerts: []
)");
  config::Diagnostics diags;
  auto report = RunRuleTestFile(path, diags);
  EXPECT_FALSE(report.invalid) << diags.ToString();
  EXPECT_EQ(report.tests, 1u);
  EXPECT_EQ(report.failed, 0u) << (report.failures.empty() ? "" : report.failures[0].test);
}

// Every rule and SLO shipped in rules/ appears in a test under rules/tests/.
TEST(ShippedRulesTest, EveryShippedRuleHasAUnitTest) {
  auto rules_dir = fs::path(TOCSIN_SOURCE_DIR) / "rules";
  config::Diagnostics diags;
  RuleLoadOptions options;
  auto set = LoadRuleFiles(ExpandGlob((rules_dir / "*.yaml").string()), options, diags);
  ASSERT_TRUE(set) << diags.ToString();
  std::string tests;
  for (const auto& f : ExpandGlob((rules_dir / "tests" / "*.yaml").string())) {
    std::ifstream in(f);
    tests += std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::size_t n = 0;
  for (const auto& g : set->groups) {
    for (const auto& s : g.slos) {
      ++n;
      EXPECT_NE(tests.find("slo: " + s.name), std::string::npos) << s.name << " has no test";
    }
    for (const auto& r : g.rules) {
      ++n;
      EXPECT_NE(tests.find("rule: " + r.name), std::string::npos) << r.name << " has no test";
    }
  }
  EXPECT_GE(n, 9u);  // login, deposit, ws, game launch, ttfs + four causes
}

TEST(BacktestTest, ReplaysHistoryAndCountsPages) {
  testing::TempDir dir;
  auto file = dir.Write("rules.yaml", kRules);
  config::Diagnostics diags;
  RuleLoadOptions options;
  auto set = LoadRuleFiles({file}, options, diags);
  ASSERT_TRUE(set) << diags.ToString();
  testing::FakeSliSource prom("prometheus");
  // p95 above 120 ms between minute 10 and minute 20 of history, in one region.
  prom.Set("ws_p95", [](TimePoint t) {
    source::QueryResult r;
    auto min = ToUnixMillis(t) / 60000;
    r.vector.push_back({Labels{{"region", "eu"}}, t, (min >= 10 && min < 20) ? 0.3 : 0.05});
    r.vector.push_back({Labels{{"region", "us"}}, t, 0.05});
    return r;
  });
  auto report = RunBacktest(*set, prom, {FromUnixMillis(0), FromUnixMillis(3600000), std::nullopt});
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->pages, 1u);
  EXPECT_EQ(report->firings, 1u);
  EXPECT_EQ(report->range_queries, 1u);
  ASSERT_EQ(report->transitions.size(), 3u);
  EXPECT_EQ(report->transitions[0].to, AlertState::kPending);
  EXPECT_EQ(report->transitions[0].at, FromUnixMillis(10 * 60000));
  EXPECT_EQ(report->transitions[1].to, AlertState::kFiring);
  EXPECT_EQ(report->transitions[1].at, FromUnixMillis(11 * 60000));
  EXPECT_EQ(report->transitions[2].to, AlertState::kResolved);
  EXPECT_EQ(report->transitions[2].at, FromUnixMillis(21 * 60000));
  // A source error is reported, not hidden.
  prom.SetDown(true);
  EXPECT_FALSE(RunBacktest(*set, prom, {FromUnixMillis(0), FromUnixMillis(60000), std::nullopt}));
}

// The replayed history looked back a whole step, so the last point of a series that stopped was
// seen once more: absent data and gone series were reported one step late.
TEST(BacktestTest, NoDataIsReportedAtTheFirstStepWithoutAPointNotOneStepLate) {
  testing::TempDir dir;
  auto file = dir.Write("rules.yaml", R"(
groups:
  - name: q
    interval: 1m
    rules:
      - {alert: queue_lag, expr: lag, threshold: 30, absent_after: 2m, severity: warning,
         service: wallet, domain: db-wallet}
)");
  config::Diagnostics diags;
  auto set = LoadRuleFiles({file}, RuleLoadOptions{}, diags);
  ASSERT_TRUE(set) << diags.ToString();
  testing::FakeSliSource prom("prometheus");
  // A point each minute up to minute 10, none after.
  prom.Set("lag", [](TimePoint t) {
    source::QueryResult r;
    if (ToUnixMillis(t) <= 10 * 60000) r.vector.push_back({Labels{{"queue", "q"}}, t, 1});
    return r;
  });
  auto report =
      RunBacktest(*set, prom, {FromUnixMillis(0), FromUnixMillis(20 * 60000), std::nullopt});
  ASSERT_TRUE(report) << report.error().message();
  // No point from minute 11: absent since 11m, tocsin_absent_data after 2m, at 13m.
  ASSERT_EQ(report->transitions.size(), 1u);
  EXPECT_EQ(report->transitions[0].alert.Name(), "tocsin_absent_data");
  EXPECT_EQ(report->transitions[0].reason, TransitionReason::kNoData);
  EXPECT_EQ(report->transitions[0].at, FromUnixMillis(13 * 60000));
}

// The default description of an SLO alert said "of the 30-day budget" whatever the SLO's
// window: a 1d SLO's alert spoke of a budget it does not have.
TEST(RuleLoaderTest, DefaultSloDescriptionNamesTheSlosOwnWindowNotThirtyDays) {
  testing::TempDir dir;
  auto file = dir.Write("rules.yaml", R"(
groups:
  - name: g
    slos:
      - name: deposits
        service: payments-api
        domain: payments
        objective: 99
        window: 1d
        sli:
          error: errors[{{window}}]
          total: requests[{{window}}]
        burn_rate_alerts:
          page_fast: {factor: 10, long_window: 10m, short_window: 2m, severity: critical}
          page_slow: {enabled: false}
          ticket: {enabled: false}
        runbook: deposit-psp.md
)");
  config::Diagnostics diags;
  auto set = LoadRuleFiles({file}, RuleLoadOptions{}, diags);
  ASSERT_TRUE(set) << diags.ToString();
  const auto* slo = set->FindSlo("deposits");
  ASSERT_NE(slo, nullptr);
  TemplateData data;
  data.numbers = {{"burn_rate", 15}, {"factor", 10}, {"budget_consumed", 0.1042}};
  data.strings = {{"window", "10m"}};
  EXPECT_EQ(slo->alert.description.Render(data),
            "Error budget burn over 10m is 15x (alert above 10x); 10.42% of the 1d budget spent "
            "in that window.");
}

}  // namespace
}  // namespace tocsin::rules
