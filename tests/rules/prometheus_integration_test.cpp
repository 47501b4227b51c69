// The rules engine against the real Prometheus (started by the harness, scraping our casino
// SLI exporter every second) with faults injected into the exporter. Test-only rules use
// second-scale windows so the whole run takes well under a minute. Waiting here is waiting for
// real processes (Prometheus scraping), bounded by deadlines; the evaluator itself runs on a
// SimulatedScheduler that is moved to the wall-clock time before each evaluation, so the test
// decides exactly when each evaluation happens.
#include <gtest/gtest.h>

#include <thread>

#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/rules/backtest.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_loader.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::rules {
namespace {

using namespace std::chrono_literals;

const char* kRules = R"(
groups:
  - name: integration
    interval: 1s
    slos:
      - name: deposit_success_by_psp
        service: payments-api
        domain: payments
        objective: 99
        window: 1h
        sli:
          error: sum by (psp) (rate(casino_deposit_requests_total{outcome="error"}[{{window}}]))
          total: sum by (psp) (rate(casino_deposit_requests_total[{{window}}]))
        by: [psp]
        burn_rate_alerts:
          page_fast: {factor: 14.4, long_window: 12s, short_window: 4s, severity: critical}
          page_slow: {enabled: false}
          ticket: {enabled: false}
        annotations:
          summary: "Deposit success {{ $value | percent }} at {{ $labels.psp }}"
        runbook: deposit-psp.md
    rules:
      - alert: ws_rtt_p95
        expr: histogram_quantile(0.95, sum by (le, region) (rate(casino_ws_rtt_seconds_bucket[4s])))
        threshold: 0.12
        consecutive: 3
        resolve_after: 3
        severity: critical
        service: live-betting
        domain: game-gateway
        runbook: ws-rtt.md
)";

class RecordingSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>& alerts, TimePoint) override {
    for (const auto& a : alerts) received.push_back(a);
  }
  std::size_t Count(std::string_view name, AlertState state, std::string_view psp = {}) const {
    std::size_t n = 0;
    for (const auto& a : received) {
      n += a.Name() == name && a.state == state && (psp.empty() || a.labels.GetOr("psp") == psp);
    }
    return n;
  }
  std::vector<Alert> received;
};

class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(testing::PrometheusHarness::Binary().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no prometheus binary (install the Debian package prometheus)";
    }
    exporter_port_ = testing::FreePort();
    exporter_ = std::make_unique<testing::Process>(
        std::vector<std::string>{TOCSIN_EXPORTER, "--listen",
                                 "127.0.0.1:" + std::to_string(exporter_port_)},
        std::vector<std::string>{}, dir_.path() + "/exporter.log");
    ASSERT_TRUE(testing::WaitForPort(exporter_port_, 10s));
    testing::PrometheusHarness::Options opts;
    opts.scrape_targets = {"127.0.0.1:" + std::to_string(exporter_port_)};
    opts.work_dir = dir_.path();
    prometheus_ = std::make_unique<testing::PrometheusHarness>(opts);
    std::string error;
    ASSERT_TRUE(prometheus_->Start(&error)) << error;
    ASSERT_TRUE(prometheus_->WaitForTargetsUp(1, 20s)) << "see " << prometheus_->log_path();

    config::Diagnostics diags;
    RuleLoadOptions options;
    options.evaluation.default_source = "prometheus";
    auto set = LoadRuleFiles({dir_.Write("rules.yaml", kRules)}, options, diags);
    ASSERT_TRUE(set) << diags.ToString();
    set->source_down_after["prometheus"] = 3;
    rules_ = std::make_shared<const RuleSet>(std::move(*set));

    config::SourceConfig src;
    src.name = "prometheus";
    src.url = prometheus_->url();
    src.timeout = 3s;
    client_ = std::make_shared<source::PrometheusClient>(src, std::make_shared<CurlHttpClient>());
    evaluator_ = std::make_unique<Evaluator>(scheduler_, executor_, sink_);
    evaluator_->SetSources({{"prometheus", client_}});
    evaluator_->SetRules(rules_);
  }

  void Fault(const std::string& query) {
    HttpClientRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(exporter_port_) + "/fault?" + query;
    auto r = http_.Send(req);
    ASSERT_TRUE(r && r->status == 200) << query;
  }

  // One evaluation at the current wall-clock time.
  void Evaluate() {
    scheduler_.AdvanceTo(wall_.Now());
    evaluator_->EvaluateAllNow();
    scheduler_.RunPending();
  }

  std::vector<Alert> Firing(std::string_view name) {
    std::vector<Alert> out;
    for (auto& a : evaluator_->ActiveAlerts()) {
      if (a.firing() && a.Name() == name) out.push_back(a);
    }
    return out;
  }

  // Evaluates about once a second until `done` or the deadline.
  bool EvaluateUntil(const std::function<bool()>& done, std::chrono::seconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      Evaluate();
      if (done()) return true;
      // Prometheus scrapes once a second: there is nothing new to see sooner.
      std::this_thread::sleep_for(1s);
    }
    return false;
  }

  // Polls Prometheus directly until `expr` has a sample with `label`=`value` above `min`.
  bool WaitForValueAbove(const std::string& expr, const std::string& label,
                         const std::string& value, double min, std::chrono::seconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      auto r = client_->Query(expr, wall_.Now());
      if (r) {
        for (const auto& s : r->vector) {
          if (s.metric.GetOr(label) == value && s.value > min) return true;
        }
      }
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }

  testing::TempDir dir_;
  unsigned short exporter_port_ = 0;
  std::unique_ptr<testing::Process> exporter_;
  std::unique_ptr<testing::PrometheusHarness> prometheus_;
  SystemClock wall_;
  SimulatedScheduler scheduler_{SystemClock().Now()};
  InlineExecutor executor_;
  RecordingSink sink_;
  CurlHttpClient http_;
  std::shared_ptr<source::PrometheusClient> client_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<Evaluator> evaluator_;
  TimePoint test_start_{};
};

TEST_F(PrometheusIntegrationTest,
       DepositBurnPagesAndResolvesWsP95NeedsThreeAndSourceDownNeverResolves) {
  test_start_ = wall_.Now();
  // Healthy: data flows, nothing fires.
  ASSERT_TRUE(EvaluateUntil(
      [&] {
        auto s = evaluator_->SloStatuses();
        return !s.empty() && s[0].series.size() == 2 && !s[0].series[0].burn_rates.empty();
      },
      20s));
  EXPECT_TRUE(Firing("deposit_success_by_psp").empty());

  // 1. PSP-A deposit errors rise: the fast page tier fires for PSP-A only.
  Fault("deposit_error_ratio=0.6&psp=PSP-A");
  ASSERT_TRUE(EvaluateUntil([&] { return !Firing("deposit_success_by_psp").empty(); }, 20s));
  auto firing = Firing("deposit_success_by_psp");
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].labels.GetOr("psp"), "PSP-A");
  EXPECT_EQ(firing[0].labels.GetOr("tier"), "page_fast");
  EXPECT_EQ(firing[0].severity, Severity::kCritical);
  EXPECT_GT(*firing[0].burn_rate, 14.4);
  EXPECT_EQ(sink_.Count("deposit_success_by_psp", AlertState::kFiring, "PSP-B"), 0u);

  // 2. Errors stop: it resolves by itself.
  Fault("deposit_error_ratio=0&psp=PSP-A");
  ASSERT_TRUE(EvaluateUntil([&] { return Firing("deposit_success_by_psp").empty(); }, 20s));
  EXPECT_EQ(sink_.Count("deposit_success_by_psp", AlertState::kResolved, "PSP-A"), 1u);

  // 3. WS p95 above 120 ms: two evaluations are pending, the third fires.
  const std::string ws = rules_->groups[0].rules[0].expr;
  Fault("ws_rtt_ms=250&region=eu");
  ASSERT_TRUE(WaitForValueAbove(ws, "region", "eu", 0.12, 15s));
  Evaluate();
  EXPECT_TRUE(Firing("ws_rtt_p95").empty());
  std::this_thread::sleep_for(1s);
  Evaluate();
  EXPECT_TRUE(Firing("ws_rtt_p95").empty());
  ASSERT_EQ(evaluator_->ActiveAlerts().size(), 1u);
  EXPECT_EQ(evaluator_->ActiveAlerts()[0].state, AlertState::kPending);
  std::this_thread::sleep_for(1s);
  Evaluate();
  ASSERT_EQ(Firing("ws_rtt_p95").size(), 1u);
  EXPECT_EQ(Firing("ws_rtt_p95")[0].labels.GetOr("region"), "eu");

  // 4. Backtest over what Prometheus recorded so far replays the same story with query_range.
  BacktestOptions bt{test_start_, wall_.Now(), std::chrono::seconds(1)};
  auto report = RunBacktest(*rules_, *client_, bt);
  ASSERT_TRUE(report) << report.error().message();
  bool deposit_fired = false, deposit_resolved = false;
  for (const auto& t : report->transitions) {
    if (t.alert.Name() != "deposit_success_by_psp") continue;
    EXPECT_EQ(t.alert.labels.GetOr("psp"), "PSP-A");
    deposit_fired = deposit_fired || t.to == AlertState::kFiring;
    deposit_resolved = deposit_resolved || t.to == AlertState::kResolved;
  }
  EXPECT_TRUE(deposit_fired);
  EXPECT_TRUE(deposit_resolved);
  EXPECT_GE(report->pages, 1u);

  // 5. Prometheus stops: source-down after 3 failed evaluations, and no false resolve.
  prometheus_->Stop();
  Evaluate();
  Evaluate();
  EXPECT_TRUE(Firing("tocsin_source_down").empty());
  Evaluate();
  ASSERT_EQ(Firing("tocsin_source_down").size(), 1u);
  Evaluate();
  EXPECT_EQ(Firing("ws_rtt_p95").size(), 1u);
  EXPECT_EQ(sink_.Count("ws_rtt_p95", AlertState::kResolved), 0u);
  EXPECT_EQ(sink_.Count("deposit_success_by_psp", AlertState::kResolved, "PSP-A"), 1u);
}

}  // namespace
}  // namespace tocsin::rules
