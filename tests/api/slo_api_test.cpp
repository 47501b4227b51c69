// GET /api/v1/slos/{name} on the real HTTP server (loopback): an SLO's status now from the
// evaluator, its alerts, and its error budget over 30 days from the source's range query.
#include "tocsin/api/slo_api.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "fake_sli_source.h"
#include "support/loopback_server.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::rules {
namespace {

using json = nlohmann::json;
using std::chrono::hours;

const char* kRules = R"(
groups:
  - name: payments
    interval: 30s
    slos:
      - name: deposit_success
        service: payments-api
        domain: payments
        objective: 99.85
        sli:
          error: sum by (psp) (rate(dep_total{outcome="error"}[{{window}}]))
          total: sum by (psp) (rate(dep_total[{{window}}]))
        by: [psp]
        burn_rate_alerts:
          page_slow: {enabled: false}
          ticket: {enabled: false}
        annotations:
          summary: "Deposit success {{ $value | percent }} at {{ $labels.psp }}"
        runbook: deposit-psp.md
)";

// Every query runs at once on the loop thread, and its answer is handed back there.
class SloApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto path = dir_.Write("rules.yaml", kRules);
    config::Diagnostics diags;
    RuleLoadOptions options;
    options.evaluation.default_source = "prometheus";
    auto set = LoadRuleFiles({path}, options, diags);
    ASSERT_TRUE(set) << diags.ToString();
    rules_ = std::make_shared<const RuleSet>(std::move(*set));
    evaluator_ = std::make_unique<Evaluator>(scheduler_, executor_, sink_);
    evaluator_->SetSources({{"prometheus", source_}});
    evaluator_->SetRules(rules_);
    const auto& slo = rules_->groups[0].slos[0];
    // PSP-A burns 33x over the paging windows; over the SLO window it has spent half its
    // budget, all of it in the last ten days.
    Labels a{{"psp", "PSP-A"}};
    source_->SetValues(slo.ErrorRatioQuery(hours(1)), {{a, 0.05}});
    source_->SetValues(slo.ErrorRatioQuery(std::chrono::minutes(5)), {{a, 0.05}});
    TimePoint now = scheduler_.clock().Now();
    source_->Set(slo.ErrorRatioQuery(slo.window), [a, now](TimePoint t) {
      source::QueryResult r;
      r.vector.push_back({a, t, t >= now - hours(24 * 10) ? 0.00075 : 0.0});
      return r;
    });
    evaluator_->EvaluateAllNow();
    scheduler_.RunPending();

    SloApiDeps deps;
    deps.evaluator = [this] { return evaluator_.get(); };
    deps.rules = [this] { return rules_.get(); };
    deps.source = [this](const std::string& name) -> std::shared_ptr<source::SliSource> {
      return name == "prometheus" ? source_ : nullptr;
    };
    deps.query_executor = [this] { return &executor_; };
    deps.post = [](std::function<void()> cb) { cb(); };
    deps.clock = &scheduler_.clock();
    deps_ = deps;
    Serve(std::move(deps));
  }
  // (Re)starts the server on these dependencies (deps_: the complete ones of SetUp).
  void Serve(SloApiDeps deps) {
    auto router = dispatch::testutil::RouterForEveryCaller();
    RegisterSloApi(*router, std::move(deps));
    server_.reset();
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  json Get(const std::string& path, int status = 200) {
    auto r = server_->Call(client_, "GET", path);
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  testing::TempDir dir_;
  SimulatedScheduler scheduler_{ParseTime("2026-11-30T12:00:00Z").value()};
  InlineExecutor executor_;
  class NullSink final : public AlertSink {
    void OnAlerts(const std::vector<Alert>&, TimePoint) override {}
  } sink_;
  std::shared_ptr<testing::FakeSliSource> source_ = std::make_shared<testing::FakeSliSource>();
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<Evaluator> evaluator_;
  prometheus::Registry registry_;
  SloApiDeps deps_;
  std::unique_ptr<testing::LoopbackServer> server_;
  CurlHttpClient client_;
};

TEST_F(SloApiTest, StatusAlertsAndThirtyDaysOfBudget) {
  auto j = Get("/api/v1/slos/deposit_success?step=1d");
  EXPECT_EQ(j["objective"], 99.85);
  EXPECT_EQ(j["window"], "30d");
  ASSERT_EQ(j["status"]["series"].size(), 1u) << j.dump();
  const auto& now = j["status"]["series"][0];
  EXPECT_EQ(now["labels"]["psp"], "PSP-A");
  EXPECT_NEAR(now["sli"].get<double>(), 1 - 0.00075, 1e-12);
  EXPECT_NEAR(now["budget_remaining"].get<double>(), 0.5, 1e-9);
  EXPECT_NEAR(now["burn_rates"]["page_fast"].get<double>(), 0.05 / 0.0015, 1e-6);
  ASSERT_EQ(j["alerts"].size(), 1u) << j.dump();
  EXPECT_EQ(j["alerts"][0]["labels"]["psp"], "PSP-A");
  EXPECT_EQ(j["alerts"][0]["severity"], "critical");
  // One point a day over 30 days, both ends included: untouched, then half spent.
  ASSERT_EQ(j["budget"]["series"].size(), 1u) << j.dump();
  const auto& points = j["budget"]["series"][0]["points"];
  ASSERT_EQ(points.size(), 31u);
  EXPECT_EQ(points[0][0], ToUnixMillis(scheduler_.clock().Now() - hours(24 * 30)) / 1000);
  EXPECT_NEAR(points[0][1].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(points[30][1].get<double>(), 0.5, 1e-9);
  EXPECT_EQ(j["budget"]["step"], "1d");
}

TEST_F(SloApiTest, SourceDownStillAnswersStatusAndSaysWhyTheChartIsEmpty) {
  source_->SetDown(true);
  auto j = Get("/api/v1/slos/deposit_success");
  EXPECT_EQ(j["status"]["series"].size(), 1u);
  EXPECT_NE(j["budget"]["error"].get<std::string>().find("unreachable"), std::string::npos);
  EXPECT_FALSE(j["budget"].contains("series"));
}

// Regression: a missing query executor or loop was reported as "source prometheus is not
// configured", sending the operator to a config that was fine.
TEST_F(SloApiTest, BudgetErrorNamesWhatIsMissingNotAlwaysTheSource) {
  SloApiDeps deps = deps_;
  deps.query_executor = [] { return static_cast<Executor*>(nullptr); };
  Serve(deps);
  auto j = Get("/api/v1/slos/deposit_success");
  std::string error = j["budget"]["error"].get<std::string>();
  EXPECT_EQ(error.find("not configured"), std::string::npos) << error;
  EXPECT_NE(error.find("executor"), std::string::npos) << error;
  deps = deps_;
  deps.post = nullptr;
  Serve(deps);
  error = Get("/api/v1/slos/deposit_success")["budget"]["error"].get<std::string>();
  EXPECT_EQ(error.find("not configured"), std::string::npos) << error;
  EXPECT_NE(error.find("event loop"), std::string::npos) << error;
  deps = deps_;
  deps.source = [](const std::string&) -> std::shared_ptr<source::SliSource> { return nullptr; };
  Serve(deps);
  error = Get("/api/v1/slos/deposit_success")["budget"]["error"].get<std::string>();
  EXPECT_EQ(error, "source prometheus is not configured");
}

TEST_F(SloApiTest, UnknownSloAndBadStepAreRefused) {
  auto missing = Get("/api/v1/slos/nope", 404);
  EXPECT_EQ(missing["error"], "no SLO named \"nope\"");
  auto fine = Get("/api/v1/slos/deposit_success?step=1m", 400);
  EXPECT_NE(fine["error"].get<std::string>().find("more than 1000 points"), std::string::npos);
  Get("/api/v1/slos/deposit_success?days=91", 400);
}

}  // namespace
}  // namespace tocsin::rules
