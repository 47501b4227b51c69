// `tocsin report sla` against the real Prometheus, loaded with October 2026 of synthetic
// per-minute series (OpenMetrics backfilled with promtool before Prometheus starts). Every
// downtime, the DST change (Kyiv leaves UTC+3 for UTC+2 on Sunday 25 October at 01:00 UTC)
// and the maintenance windows are placed by hand below, and the expected figures are worked
// out by hand in the comments.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "support/files.h"
#include "support/process.h"
#include "support/prometheus_harness.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/report/sla_telemetry.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::report {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TimePoint T(const char* rfc3339) { return *ParseTime(rfc3339); }

bool In(TimePoint m, const char* from, const char* to) { return m >= T(from) && m < T(to); }

// The Kyiv month is [2026-09-30T21:00Z, 2026-10-31T22:00Z): 31 * 1440 + 60 = 44,700 minutes.
// Series run an hour beyond either end, so the boundaries are decided by the report.
//
// psp-a (a minute with >= 5 % errors is down):
//   probe_requests 100 a minute, probe_errors where below:
//   A 2026-09-30 20:30-21:10Z 100 % errors: 30 min in September, 10 in October   -> 10 down
//   B 2026-10-10 12:00-12:20Z no probe_requests at all (no answer)               -> 20 down
//   C 2026-10-12 09:00-09:30Z 4 % errors (under 5 %)                             ->  0
//   D 2026-10-14 01:00-01:45Z 100 % errors inside the agreed window (announced
//     2026-10-05, 8 days 16 h ahead)                                             -> 45 excluded
//   E 2026-10-15 08:00-08:05Z exactly 5 % errors                                 ->  5 down
//   F 2026-10-20 10:00-10:10Z the provider's own figures: 200 of 200 failed,
//     the probe saw nothing wrong (the worse counts)                             -> 10 down
//   G 2026-10-25 00:30-01:30Z 10 % errors, across the DST change: 03:30 EEST to
//     03:30 EET local, an hour a wall-clock count would call zero minutes        -> 60 down
//   H 2026-10-27 02:00-02:30Z 100 % errors in an emergency window (26 h notice):
//     not agreed, so counted, and flagged                                        -> 30 down
//   I 2026-10-31 21:50-22:10Z 100 % errors: 10 min in October, 10 in November    -> 10 down
//   downtime = 10 + 20 + 5 + 10 + 60 + 30 + 10 = 145 minutes of 44,700 - 45 = 44,655
//   availability = 1 - 145 / 44,655 = 99.6753 % -> 99.675; below 99.9 % and not below
//   99.5 % (145 * 200 = 29,000 <= 44,655) -> 5 %
//   DSR: deposits 50 a minute, 1 failed every minute -> 98.000 % (maintenance minutes drop
//   out of both sums); the provider's own: 500 failed (F, 50 a minute for 10 min) of
//   50 * 44,655 = 2,232,750 -> 99.978 %. The worse, 98.000 %, is 1.0 pp = 2 full 0.5 pp
//   below 99.0 % -> 4 %
//   webhook delay p95 20 s a minute, 90 s on 2026-10-08 15:00-15:30Z (30 min over the 60 s
//   SLO) and 150 s on 2026-10-25 00:00-01:10Z (70 min over 2x SLO, across the DST change)
//   -> over SLO 100 minutes, over 2x SLO 70 > 60 -> 5 %; month p95 = 20.0 s (100 high
//   minutes of 44,655)
//   credits 5 + 4 + 5 = 14 %
// game-x (a minute with >= 10 % errors is down):
//   J 2026-10-03 00:00-04:00Z no probe_requests and no TTFS (no answer)          -> 240 down
//   K 2026-10-05 10:00-10:30Z 8 % errors: under game-x's 10 % (psp-a's 5 % would count) -> 0
//   availability = 1 - 240 / 44,700 = 99.4631 % -> 99.463; 240 * 200 = 48,000 > 44,700:
//   below 99.5 % -> 10 %
//   TTFS p95 500 ms a minute, 1200 ms on 2026-10-18 18:00-20:30Z: 150 > 120 minutes over
//   800 ms -> 5 %; month p95 of 44,460 minutes = 500 ms
//   credits 10 + 5 = 15 %
// August has no series: no telemetry, so no chronic failure. September has only its last
// hour (the series start at 2026-09-30T20:00Z): its other 43,140 minutes got no answer and
// are downtime, which puts September at 10 % for availability (plus 4 % DSR for psp-a).
struct Series {
  std::string metric;
  std::string provider;
  std::function<std::optional<double>(TimePoint)> value;  // per minute; none: no sample
};

std::vector<Series> October() {
  auto probe_psp = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-10T12:00:00Z", "2026-10-10T12:20:00Z")) return std::nullopt;
    return 100;
  };
  auto errors_psp = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-09-30T20:30:00Z", "2026-09-30T21:10:00Z")) return 100;
    if (In(m, "2026-10-12T09:00:00Z", "2026-10-12T09:30:00Z")) return 4;
    if (In(m, "2026-10-14T01:00:00Z", "2026-10-14T01:45:00Z")) return 100;
    if (In(m, "2026-10-15T08:00:00Z", "2026-10-15T08:05:00Z")) return 5;
    if (In(m, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")) return 10;
    if (In(m, "2026-10-27T02:00:00Z", "2026-10-27T02:30:00Z")) return 100;
    if (In(m, "2026-10-31T21:50:00Z", "2026-10-31T22:10:00Z")) return 100;
    return std::nullopt;  // a counter that did not move: Prometheus has no sample
  };
  auto reported_errors = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-20T10:00:00Z", "2026-10-20T10:10:00Z")) return 200;
    return std::nullopt;
  };
  auto reported_failed_deposits = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-20T10:00:00Z", "2026-10-20T10:10:00Z")) return 50;
    return std::nullopt;
  };
  auto webhook = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-08T15:00:00Z", "2026-10-08T15:30:00Z")) return 90;
    if (In(m, "2026-10-25T00:00:00Z", "2026-10-25T01:10:00Z")) return 150;
    return 20;
  };
  auto probe_game = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-03T00:00:00Z", "2026-10-03T04:00:00Z")) return std::nullopt;
    return 100;
  };
  auto errors_game = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-05T10:00:00Z", "2026-10-05T10:30:00Z")) return 8;
    return std::nullopt;
  };
  auto ttfs = [](TimePoint m) -> std::optional<double> {
    if (In(m, "2026-10-03T00:00:00Z", "2026-10-03T04:00:00Z")) return std::nullopt;
    if (In(m, "2026-10-18T18:00:00Z", "2026-10-18T20:30:00Z")) return 1200;
    return 500;
  };
  auto constant = [](double v) { return [v](TimePoint) -> std::optional<double> { return v; }; };
  return {{"probe_requests", "psp-a", probe_psp},
          {"probe_requests", "game-x", probe_game},
          {"probe_errors", "psp-a", errors_psp},
          {"probe_errors", "game-x", errors_game},
          {"psp_reported_requests", "psp-a", constant(200)},
          {"psp_reported_errors", "psp-a", reported_errors},
          {"deposits", "psp-a", constant(50)},
          {"deposits_failed", "psp-a", constant(1)},
          {"psp_reported_deposits", "psp-a", constant(50)},
          {"psp_reported_deposits_failed", "psp-a", reported_failed_deposits},
          {"webhook_delay_p95_seconds", "psp-a", webhook},
          {"ttfs_p95_ms", "game-x", ttfs}};
}

// One sample a minute, at half past, from an hour before the month to an hour after.
void WriteOpenMetrics(const std::string& path) {
  std::ofstream out(path);
  std::string last_metric;
  for (const auto& s : October()) {
    if (s.metric != last_metric) out << "# TYPE " << s.metric << " gauge\n";
    last_metric = s.metric;
    for (TimePoint m = T("2026-09-30T20:00:00Z"); m < T("2026-10-31T23:00:00Z"); m += 1min) {
      if (auto v = s.value(m)) {
        out << fmt::format("{}{{provider=\"{}\"}} {:g} {}\n", s.metric, s.provider, *v,
                           ToUnixMillis(m) / 1000 + 30);
      }
    }
  }
  out << "# EOF\n";
}

std::string Config(const std::string& prometheus_url) {
  // Each query gives one number for the minute ending at the evaluation time; the series
  // have one sample a minute, so [1m] holds exactly that minute's sample.
  return fmt::format(R"(sources:
  - name: prom
    url: {}
providers_sla:
  time_zone: Europe/Kyiv
  source: prom
  providers:
    - name: psp-a
      downtime_error_percent: 5
      availability:
        synthetic:
          errors: 'sum(sum_over_time(probe_errors{{provider="psp-a"}}[1m]))'
          total: 'sum(sum_over_time(probe_requests{{provider="psp-a"}}[1m]))'
        provider:
          errors: 'sum(sum_over_time(psp_reported_errors{{provider="psp-a"}}[1m]))'
          total: 'sum(sum_over_time(psp_reported_requests{{provider="psp-a"}}[1m]))'
      dsr:
        synthetic:
          errors: 'sum(sum_over_time(deposits_failed{{provider="psp-a"}}[1m]))'
          total: 'sum(sum_over_time(deposits{{provider="psp-a"}}[1m]))'
        provider:
          errors: 'sum(sum_over_time(psp_reported_deposits_failed{{provider="psp-a"}}[1m]))'
          total: 'sum(sum_over_time(psp_reported_deposits{{provider="psp-a"}}[1m]))'
      webhook_p95_s:
        synthetic: 'max(max_over_time(webhook_delay_p95_seconds{{provider="psp-a"}}[1m]))'
        slo: 60
      maintenance:
        - {{start: '2026-10-14T01:00:00Z', duration: 45m, announced: '2026-10-05T09:00:00Z'}}
        - {{start: '2026-10-27T02:00:00Z', duration: 30m, announced: '2026-10-26T00:00:00Z', emergency: true}}
    - name: game-x
      downtime_error_percent: 10
      availability:
        synthetic:
          errors: 'sum(sum_over_time(probe_errors{{provider="game-x"}}[1m]))'
          total: 'sum(sum_over_time(probe_requests{{provider="game-x"}}[1m]))'
      ttfs_p95_ms:
        synthetic: 'max(max_over_time(ttfs_p95_ms{{provider="game-x"}}[1m]))'
        slo: 800
)",
                     prometheus_url);
}

class SlaPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string om = dir_->path() + "/october.om";
    WriteOpenMetrics(om);
    testing::PrometheusHarness::Options o;
    o.work_dir = dir_->path();
    o.backfill_openmetrics = om;
    prometheus_ = new testing::PrometheusHarness(o);
    std::string error;
    ASSERT_TRUE(prometheus_->Start(&error)) << error;
    config_path_ = dir_->Write("tocsin.yaml", Config(prometheus_->url()));
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    delete dir_;
  }
  static SlaConfig LoadedConfig();

  static testing::TempDir* dir_;
  static testing::PrometheusHarness* prometheus_;
  static std::string config_path_;
};

testing::TempDir* SlaPrometheusTest::dir_ = nullptr;
testing::PrometheusHarness* SlaPrometheusTest::prometheus_ = nullptr;
std::string SlaPrometheusTest::config_path_;

SlaConfig SlaPrometheusTest::LoadedConfig() {
  auto main = config::LoadConfig(config_path_);
  EXPECT_TRUE(main.config) << main.diagnostics.ToString();
  config::Diagnostics diags;
  auto sla = LoadSlaConfig(*main.config, diags);
  EXPECT_FALSE(diags.has_errors()) << diags.ToString();
  return sla;
}

// Mid-November: October is over.
const TimePoint kAfterOctober = T("2026-11-15T00:00:00Z");

// A month not yet over would count its minutes to come (no telemetry yet) as downtime and
// charge the provider for them.
TEST_F(SlaPrometheusTest, AMonthNotOverIsRefused) {
  config::SourceConfig src;
  src.name = "prom";
  src.url = prometheus_->url();
  source::PrometheusClient client(src, std::make_shared<CurlHttpClient>());
  auto report = BuildSlaReport(client, LoadedConfig(), "2026-10", "", T("2026-10-16T00:00:00Z"));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind(), Error::Kind::kInvalid);
  EXPECT_NE(report.error().message().find("2026-10 is not over: it ends at "), std::string::npos)
      << report.error().message();
}

TEST_F(SlaPrometheusTest, EveryFigureOfTheHandWorkedOctober) {
  config::SourceConfig src;
  src.name = "prom";
  src.url = prometheus_->url();
  source::PrometheusClient client(src, std::make_shared<CurlHttpClient>());
  auto report = BuildSlaReport(client, LoadedConfig(), "2026-10", "", kAfterOctober);
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_EQ(report->providers.size(), 2u);
  const auto& psp = report->providers[0];
  EXPECT_EQ(psp.minutes_in_month, 44700);
  EXPECT_EQ(psp.excluded_minutes, 45);
  EXPECT_EQ(psp.downtime_minutes, 145);
  EXPECT_DOUBLE_EQ(*psp.availability, 1 - 145.0 / 44655);
  ASSERT_EQ(psp.downtime.size(), 7u);
  EXPECT_EQ(psp.downtime[0].start, T("2026-09-30T21:00:00Z"));  // A, from the month's start
  EXPECT_EQ(psp.downtime[0].minutes, 10);
  EXPECT_EQ(psp.downtime[1].cause, "no answer");  // B
  EXPECT_EQ(psp.downtime[1].minutes, 20);
  EXPECT_EQ(psp.downtime[2].minutes, 5);                                  // E: exactly 5 %
  EXPECT_EQ(psp.downtime[3].cause, "provider's figures: errors >= 5 %");  // F
  EXPECT_EQ(psp.downtime[4].start, T("2026-10-25T00:30:00Z"));  // G, across the DST change
  EXPECT_EQ(psp.downtime[4].minutes, 60);
  EXPECT_TRUE(psp.downtime[5].in_emergency_maintenance);      // H
  EXPECT_EQ(psp.downtime[6].end, T("2026-10-31T22:00:00Z"));  // I, to the month's end
  EXPECT_EQ(psp.downtime[6].minutes, 10);
  EXPECT_DOUBLE_EQ(*psp.dsr_synthetic, 0.98);
  EXPECT_DOUBLE_EQ(*psp.dsr_provider, 1 - 500.0 / 2232750);
  EXPECT_DOUBLE_EQ(*psp.dsr, 0.98);
  EXPECT_EQ(psp.webhook_minutes_over_slo, 100);
  EXPECT_EQ(psp.webhook_minutes_over_twice_slo, 70);
  EXPECT_EQ(psp.webhook_p95_s, 20);
  EXPECT_FALSE(psp.ttfs_p95_ms);
  ASSERT_EQ(psp.credits.size(), 3u);
  EXPECT_EQ(psp.credits[0].percent, 5);  // availability 99.9-99.5 %
  EXPECT_EQ(psp.credits[1].percent, 4);  // DSR two full 0.5 pp below 99.0 %
  EXPECT_EQ(psp.credits[2].percent, 5);  // webhook over 2x SLO for 70 min
  EXPECT_EQ(psp.credit_percent, 14);
  ASSERT_EQ(psp.history.size(), 2u);
  EXPECT_EQ(psp.history[0].first, "2026-08");
  EXPECT_FALSE(psp.history[0].second);  // no telemetry
  EXPECT_EQ(psp.history[1].first, "2026-09");
  EXPECT_EQ(psp.history[1].second, 14);
  EXPECT_FALSE(psp.chronic);

  const auto& game = report->providers[1];
  EXPECT_EQ(game.downtime_minutes, 240);
  EXPECT_EQ(game.excluded_minutes, 0);
  ASSERT_EQ(game.downtime.size(), 1u);  // K's 8 % is under game-x's 10 %
  EXPECT_DOUBLE_EQ(*game.availability, 1 - 240.0 / 44700);
  EXPECT_EQ(game.ttfs_minutes_over_slo, 150);
  EXPECT_EQ(game.ttfs_p95_ms, 500);
  EXPECT_FALSE(game.dsr);
  EXPECT_FALSE(game.webhook_p95_s);
  EXPECT_EQ(game.credit_percent, 15);  // 10 (availability below 99.5 %) + 5 (TTFS)
}

TEST_F(SlaPrometheusTest, TheCommandPrintsTheCsvOfTheOperatingModel) {
  auto r = testing::RunCommand({TOCSIN_BINARY, "report", "sla", "--month", "2026-10", "-c",
                                config_path_, "--output", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Provider,Month,Availability,DSR,TTFS_p95_ms,Webhook_p95_s,Credits%\n"
            "psp-a,2026-10,99.675,98.000,--,20.0,14\n"
            "game-x,2026-10,99.463,--,500,--,15\n");
  auto one = testing::RunCommand({TOCSIN_BINARY, "report", "sla", "--month", "2026-10",
                                  "--provider", "game-x", "-c", config_path_, "--output", "csv"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out,
            "Provider,Month,Availability,DSR,TTFS_p95_ms,Webhook_p95_s,Credits%\n"
            "game-x,2026-10,99.463,--,500,--,15\n");
}

// docs/reports.md shows this month's report; it must be what the command prints.
TEST_F(SlaPrometheusTest, TheReportInTheDocsIsWhatTheCommandPrints) {
  auto r = testing::RunCommand(
      {TOCSIN_BINARY, "report", "sla", "--month", "2026-10", "-c", config_path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = testing::FencedBlockAfter(std::string(TOCSIN_SOURCE_DIR) + "/docs/reports.md",
                                         "$ tocsin report sla --month 2026-10");
  EXPECT_EQ(shown, r.out) << "paste the command's output into docs/reports.md";
}

// Found before any query, so no Prometheus is needed (nothing listens on port 1).
TEST(SlaCommandTest, MistakesAreNamedWithTheFix) {
  testing::TempDir dir;
  std::string config_path = dir.Write("tocsin.yaml", Config("http://127.0.0.1:1"));
  auto month = testing::RunCommand(
      {TOCSIN_BINARY, "report", "sla", "--month", "2026-13", "-c", config_path});
  EXPECT_EQ(month.exit_code, 2);
  EXPECT_THAT(month.err, HasSubstr("\"2026-13\" is not a month"));
  auto provider = testing::RunCommand({TOCSIN_BINARY, "report", "sla", "--month", "2026-10",
                                       "--provider", "psp-b", "-c", config_path});
  EXPECT_EQ(provider.exit_code, 2);
  EXPECT_THAT(provider.err,
              HasSubstr("no provider \"psp-b\" in providers_sla (declared: psp-a, game-x)"));
  // A month not over yet, as docs/reports.md shows it.
  auto future = testing::RunCommand(
      {TOCSIN_BINARY, "report", "sla", "--month", "2099-01", "-c", config_path});
  EXPECT_EQ(future.exit_code, 2);
  EXPECT_EQ(future.out, "");
  EXPECT_EQ(future.err,
            testing::FencedBlockAfter(std::string(TOCSIN_SOURCE_DIR) + "/docs/reports.md",
                                      "$ tocsin report sla --month 2099-01"));
}

}  // namespace
}  // namespace tocsin::report
