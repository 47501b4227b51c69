// `tocsin backtest` (the real binary) against the real Prometheus, loaded with two hours of
// per-minute gauges backfilled with promtool before it starts (as report/sla_prometheus_test
// does). Every sample is placed by hand below, at half past each minute so that no sample sits
// on the edge of a range selector, and every figure the backtest must print is worked out by
// hand in the comments: the expectations are not copied from the output.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>

#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/duration.h"

namespace tocsin::rules {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = FromUnixMillis(1793491200000);  // 2026-11-01T00:00:00Z

std::string At(Duration since_t0) { return FormatRfc3339(kT0 + since_t0); }

// Line numbers matter: the backtest names the rule's file:line (the SLO at 5, the rule at 23).
const char* kRules = R"(groups:
  - name: backtest
    interval: 1m
    slos:
      - name: deposit_success
        service: payments-api
        domain: payments
        objective: 99
        window: 1d
        sli:
          error: sum by (psp) (sum_over_time(deposit_errors[{{window}}]))
          total: sum by (psp) (sum_over_time(deposit_requests[{{window}}]))
        by: [psp]
        absent_after: 5m
        burn_rate_alerts:
          page_fast: {factor: 10, long_window: 10m, short_window: 2m, severity: critical}
          page_slow: {enabled: false}
          ticket: {enabled: false}
        annotations:
          summary: "Deposit success {{ $value | percent }} at {{ $labels.psp }} over {{ $window }}"
        runbook: deposit-psp.md
    rules:
      - alert: queue_lag
        expr: max by (queue) (max_over_time(queue_lag[1m]))
        threshold: 30
        consecutive: 2
        resolve_after: 2
        absent_after: 3m
        severity: warning
        service: wallet
        domain: db-wallet
        annotations:
          summary: "Queue {{ $labels.queue }} lag {{ $value }}s"
        runbook: queue-lag.md
)";

struct Gauge {
  std::string metric;
  std::string labels;
  // Minute m (sample at m:30 after T0; negative before) -> value, or nullopt for no sample.
  std::function<std::optional<double>(int)> value;
};

// The history, by minute after T0 (a sample at m:30):
// - psp a: 100 requests a minute throughout; 50 errors in minutes 20..29, else 0.
// - psp b: 100 requests a minute and 50 errors in minutes 50..59, 0 errors before; both of
//   its series end after minute 59 while psp a goes on.
// - queue q1 lag: 10, but 60 in minutes 10..14; no samples after minute 24.
std::vector<Gauge> History() {
  auto always = [](double v) { return [v](int) -> std::optional<double> { return v; }; };
  return {
      {"deposit_requests", R"(psp="a")", always(100)},
      {"deposit_errors", R"(psp="a")",
       [](int m) -> std::optional<double> { return m >= 20 && m < 30 ? 50 : 0; }},
      {"deposit_requests", R"(psp="b")",
       [](int m) -> std::optional<double> {
         if (m >= 60) return std::nullopt;
         return 100;
       }},
      {"deposit_errors", R"(psp="b")",
       [](int m) -> std::optional<double> {
         if (m >= 60) return std::nullopt;
         return m >= 50 ? 50 : 0;
       }},
      {"queue_lag", R"(queue="q1")",
       [](int m) -> std::optional<double> {
         if (m >= 25) return std::nullopt;
         return m >= 10 && m < 15 ? 60 : 10;
       }},
  };
}

void WriteOpenMetrics(const std::string& path) {
  std::ofstream out(path);
  std::string last;
  for (const auto& g : History()) {
    if (g.metric != last) out << "# TYPE " << g.metric << " gauge\n";
    last = g.metric;
    for (int m = -60; m < 120; ++m) {
      if (auto v = g.value(m)) {
        out << fmt::format("{}{{{}}} {:g} {}\n", g.metric, g.labels, *v,
                           ToUnixMillis(kT0) / 1000 + m * 60 + 30);
      }
    }
  }
  out << "# EOF\n";
}

class BacktestPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::access(testing::PrometheusHarness::Binary().c_str(), X_OK) != 0) return;
    dir_ = new testing::TempDir();
    std::string om = dir_->path() + "/history.om";
    WriteOpenMetrics(om);
    testing::PrometheusHarness::Options o;
    o.work_dir = dir_->path();
    o.backfill_openmetrics = om;
    prometheus_ = new testing::PrometheusHarness(o);
    std::string error;
    ASSERT_TRUE(prometheus_->Start(&error)) << error;
    rules_ = dir_->Write("rules.yaml", kRules);
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    delete dir_;
  }
  void SetUp() override {
    if (prometheus_ == nullptr) GTEST_SKIP() << "no prometheus binary (Debian package prometheus)";
  }

  static testing::CommandResult Backtest(const std::string& output) {
    return testing::RunCommand({TOCSIN_BINARY, "backtest", "--rules", rules_, "--from", At(0min),
                                "--to", At(70min), "--source", prometheus_->url(), "--output",
                                output});
  }

  static testing::TempDir* dir_;
  static testing::PrometheusHarness* prometheus_;
  static std::string rules_;
};

testing::TempDir* BacktestPrometheusTest::dir_ = nullptr;
testing::PrometheusHarness* BacktestPrometheusTest::prometheus_ = nullptr;
std::string BacktestPrometheusTest::rules_;

// Evaluations run each minute from T0 (the group's interval). What each one sees:
//
// queue_lag (> 30, 2 in a row to fire, 2 good to resolve; [1m] holds the sample of the minute
// before):
//   11m sees 60 (minute 10): pending. 12m sees 60 again: firing. 16m and 17m see 10: resolved
//   at 17m. From 26m the query returns nothing; after absent_after (3m), at 29m,
//   tocsin_absent_data fires for it.
// deposit_success, budget 1 % (objective 99), page_fast: both windows above 10x, i.e. an
// error ratio above 0.1:
//   psp a at 22m: 10m window holds minutes 12..21 (two of 50 errors) -> 100/1000 = 0.1, burn
//   exactly 10, not above: nothing. At 23m: 150/1000 = 0.15 (burn 15), 2m window minutes
//   21..22 -> 100/200 = 0.5 (burn 50): firing. At 32m the 2m window holds minutes 30..31 ->
//   0 (burn 0), the 10m one minutes 22..31 -> 400/1000 = 0.4 (burn 40): resolved, the short
//   window at or below 10.
//   psp b the same 30 minutes later: firing at 53m (0.15 and 0.5). Its last samples are at
//   minute 59; the 2m window still holds one at 61m (50/100), none from 62m, while psp a still
//   answers. Last seen at 61m, it is resolved as gone at 66m (absent_after 5m), when the 10m
//   window holds minutes 56..59 -> 200/400 = 0.5 (burn 50) and the 2m window nothing.
TEST_F(BacktestPrometheusTest, JsonGivesEachTransitionItsWindowsThresholdAndReason) {
  auto r = Backtest("json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& ts = j.at("transitions");
  ASSERT_EQ(ts.size(), 8u) << r.out;

  struct Want {
    Duration at;
    std::string alertname, label, from, to, reason;
    std::vector<std::pair<std::optional<double>, std::optional<double>>> windows;  // ratio, burn
  };
  const std::vector<Want> want = {
      {11min, "queue_lag", "q1", "inactive", "pending", "threshold_crossed", {{60, {}}}},
      {12min, "queue_lag", "q1", "pending", "firing", "threshold_crossed", {{60, {}}}},
      {17min, "queue_lag", "q1", "firing", "resolved", "recovered", {{10, {}}}},
      {23min,
       "deposit_success",
       "a",
       "inactive",
       "firing",
       "threshold_crossed",
       {{0.15, 15}, {0.5, 50}}},
      {29min, "tocsin_absent_data", "", "inactive", "firing", "no_data", {}},
      {32min, "deposit_success", "a", "firing", "resolved", "recovered", {{0.4, 40}, {0, 0}}},
      {53min,
       "deposit_success",
       "b",
       "inactive",
       "firing",
       "threshold_crossed",
       {{0.15, 15}, {0.5, 50}}},
      {66min,
       "deposit_success",
       "b",
       "firing",
       "resolved",
       "series_gone",
       {{0.5, 50}, {std::nullopt, std::nullopt}}},
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& t = ts[i];
    const auto& w = want[i];
    EXPECT_EQ(t.at("time"), At(w.at));
    EXPECT_EQ(t.at("alertname"), w.alertname);
    EXPECT_EQ(t.at("from"), w.from);
    EXPECT_EQ(t.at("to"), w.to);
    EXPECT_EQ(t.at("reason"), w.reason);
    if (w.alertname == "deposit_success") {
      EXPECT_EQ(t.at("labels").at("psp"), w.label);
      EXPECT_EQ(t.at("labels").at("tier"), "page_fast");
      EXPECT_EQ(t.at("rule_line"), 5);
      EXPECT_EQ(t.at("threshold"), 10.0);
      EXPECT_EQ(t.at("comparison"), ">");
    } else {
      if (w.alertname == "queue_lag") {
        EXPECT_EQ(t.at("labels").at("queue"), w.label);
      }
      EXPECT_EQ(t.at("rule"), "queue_lag");
      EXPECT_EQ(t.at("rule_line"), 23);
    }
    EXPECT_EQ(t.at("rule_file"), rules_);
    const auto& windows = t.at("windows");
    ASSERT_EQ(windows.size(), w.windows.size());
    for (std::size_t k = 0; k < windows.size(); ++k) {
      SCOPED_TRACE(k);
      const auto& [ratio, burn] = w.windows[k];
      if (ratio) {
        EXPECT_NEAR(windows[k].at("value").get<double>(), *ratio, 1e-9);
      } else {
        EXPECT_TRUE(windows[k].at("value").is_null());
      }
      if (w.alertname != "deposit_success") continue;
      EXPECT_EQ(windows[k].at("window"), k == 0 ? "10m" : "2m");
      if (burn) {
        EXPECT_NEAR(windows[k].at("burn_rate").get<double>(), *burn, 1e-9);
      } else {
        EXPECT_TRUE(windows[k].at("burn_rate").is_null());
      }
    }
  }
  // Rendered annotations, worked out from the templates: success = 1 - the 10m error ratio.
  EXPECT_EQ(ts[3].at("annotations").at("summary"), "Deposit success 85% at a over 10m");
  EXPECT_EQ(ts[5].at("annotations").at("summary"), "Deposit success 60% at a over 10m");
  EXPECT_EQ(ts[1].at("annotations").at("summary"), "Queue q1 lag 60s");
  EXPECT_EQ(ts[4].at("annotations").at("summary"),
            "No data for queue_lag: its query returns no series");
  // The gone series keeps what it last showed (61m: 0.5) and says why it resolved.
  EXPECT_EQ(ts[7].at("annotations").at("summary"), "Deposit success 50% at b over 10m");
  EXPECT_NE(ts[7].at("annotations").at("description").get<std::string>().find("series disappeared"),
            std::string::npos);
  EXPECT_EQ(ts[3].at("explanation"), "threshold crossed: burn rate above 10 over both 10m and 2m");
  EXPECT_EQ(ts[5].at("explanation"), "fell below: burn rate at or below 10 over 2m");
  EXPECT_EQ(ts[2].at("explanation"), "fell below: value 10 not > 30, 2 evaluation(s) in a row");
  EXPECT_EQ(ts[4].at("explanation"), "no data: no series for 3m (absent_after)");
  EXPECT_EQ(j.at("firings"), 4);       // queue_lag, psp a, tocsin_absent_data, psp b
  EXPECT_EQ(j.at("pages"), 2);         // the two critical deposit pages
  EXPECT_EQ(j.at("evaluations"), 71);  // 0m..70m
}

TEST_F(BacktestPrometheusTest, TextAlignsTheSummaryAndEachTransitionsWindows) {
  auto r = Backtest("text");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The summary: columns as wide as their widest cell (ALERT: "tocsin_absent_data", 18;
  // LABELS: {psp="a", tier="page_fast"}, 27), two blanks between columns.
  EXPECT_NE(r.out.find("#  TIME                  ALERT               LABELS                       "
                       "FROM      TO        REASON\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("4  " + At(23min) +
                       "  deposit_success     {psp=\"a\", tier=\"page_fast\"}  inactive  firing"
                       "    threshold_crossed\n"),
            std::string::npos)
      << r.out;
  // Transition 4's detail: the reason, then its windows against the threshold.
  EXPECT_NE(r.out.find("#4 " + At(23min) + " deposit_success inactive -> firing (critical)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  reason  threshold crossed: burn rate above 10 over both 10m and 2m\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  WINDOW  ERROR RATIO  BURN RATE  THRESHOLD\n"
                       "  10m     0.15         15         > 10\n"
                       "  2m      0.5          50         > 10\n"),
            std::string::npos)
      << r.out;
  // The gone series: no sample in the short window.
  EXPECT_NE(r.out.find("  10m     0.5          50         > 10\n"
                       "  2m      none         none       > 10\n"),
            std::string::npos)
      << r.out;
  // The SLO gives no description: tocsin's default one, with the burn over the 10m window and
  // the budget share it spent, 15 x 10m / 1d = 10.42 %. Keys are as wide as "description".
  EXPECT_NE(r.out.find("  description  Error budget burn over 10m is 15x (alert above 10x); 10.42% "
                       "of the 1d budget spent in that window.\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  summary      Deposit success 85% at a over 10m\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("71 evaluations, 3 range queries: 4 alert(s) would have fired, 2 page(s)"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace tocsin::rules
