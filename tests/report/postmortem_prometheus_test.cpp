// The post-mortem's impact figure from the real Prometheus, loaded (promtool backfill) with
// per-minute counters around a known incident: 100 deposits a minute throughout, 2 of them
// failing every minute from 10:00 to 10:31, none before or after.
#include <gtest/gtest.h>

#include <fstream>

#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/report/postmortem.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::report {
namespace {

using namespace std::chrono_literals;

TimePoint T(const char* rfc3339) { return *ParseTime(rfc3339); }

TEST(PostmortemPrometheusTest, ImpactIsTheErrorRatioOverTheIncidentAndTheBudgetItBurned) {
  testing::TempDir dir;
  const std::string om = dir.path() + "/deposits.om";
  {
    std::ofstream out(om);
    const TimePoint start = T("2026-11-23T09:00:00Z");
    const TimePoint end = T("2026-11-23T11:30:00Z");
    const TimePoint bad_from = T("2026-11-23T10:00:00Z");
    const TimePoint bad_to = T("2026-11-23T10:31:00Z");
    auto seconds = [](TimePoint t) { return ToUnixMillis(t) / 1000; };
    out << "# TYPE deposit_attempts counter\n";
    long total = 0;
    for (TimePoint m = start; m <= end; m += 1min, total += 100) {
      out << "deposit_attempts_total " << total << " " << seconds(m) << "\n";
    }
    out << "# TYPE deposit_errors counter\n";
    long errors = 0;
    for (TimePoint m = start; m <= end; m += 1min) {
      // The minute ending at m failed 2 deposits when it lies inside the incident.
      if (m > bad_from && m <= bad_to) errors += 2;
      out << "deposit_errors_total " << errors << " " << seconds(m) << "\n";
    }
    out << "# EOF\n";
  }
  const std::string data = dir.path() + "/prometheus-data";
  auto r = testing::RunCommand({"promtool", "tsdb", "create-blocks-from", "openmetrics",
                                "--max-block-duration=1000h", "--quiet", om, data});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  testing::PrometheusHarness::Options o;
  o.work_dir = dir.path();
  o.extra_args = {"--storage.tsdb.retention.time=100y"};
  testing::PrometheusHarness prometheus(o);
  std::string error;
  ASSERT_TRUE(prometheus.Start(&error)) << error;

  config::SourceConfig src;
  src.name = "prometheus";
  src.url = prometheus.url();
  source::PrometheusClient client(src, std::make_shared<CurlHttpClient>());

  rules::RuleSet set;
  rules::RuleGroup g;
  g.source = "prometheus";
  rules::SloRule slo;
  slo.name = "deposit-success";
  slo.objective = 99.9;
  slo.window = 720h;
  slo.error_query = "sum(rate(deposit_errors_total[{{window}}]))";
  slo.total_query = "sum(rate(deposit_attempts_total[{{window}}]))";
  g.slos.push_back(slo);
  set.groups.push_back(g);

  incident::Incident inc;
  inc.id = "INC-1";
  inc.state = incident::IncidentState::kResolved;
  inc.opened_at = T("2026-11-23T10:00:00Z");
  inc.resolved_at = T("2026-11-23T10:31:00Z");
  Alert a;
  a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"slo", "deposit-success"}};
  inc.alerts.push_back(a);

  auto impact = MeasureImpact(
      inc, set, [&](const std::string&) -> source::SliSource* { return &client; },
      T("2026-11-24T10:00:00Z"));
  ASSERT_EQ(impact.size(), 1u);
  ASSERT_TRUE(impact[0].error_ratio) << impact[0].unavailable;
  // Every minute of the 31-minute range failed 2 of 100: 0.02 (both rates extrapolate alike).
  EXPECT_NEAR(*impact[0].error_ratio, 0.02, 1e-12);
  // 0.02 x 1860 s / (0.001 x 2,592,000 s) = 37.2 / 2592.
  EXPECT_NEAR(*impact[0].budget_burned, 37.2 / 2592.0, 1e-12);

  // An hour later the range holds no errors at all.
  inc.opened_at = T("2026-11-23T11:00:00Z");
  inc.resolved_at = T("2026-11-23T11:20:00Z");
  auto calm = MeasureImpact(
      inc, set, [&](const std::string&) -> source::SliSource* { return &client; },
      T("2026-11-24T10:00:00Z"));
  ASSERT_TRUE(calm[0].error_ratio) << calm[0].unavailable;
  EXPECT_EQ(*calm[0].error_ratio, 0.0);
}

}  // namespace
}  // namespace tocsin::report
