// The pure parts of the SLA report: calendar months in a zone, minute classification, the
// credit table and one small month computed minute by minute.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/report/sla_report.h"

namespace tocsin::report {
namespace {

using std::chrono::minutes;
using ::testing::HasSubstr;

TimePoint T(const char* rfc3339) { return *ParseTime(rfc3339); }

TEST(SlaMonthTest, OctoberInKyivHasTheHourTheClocksGoBack) {
  auto m = CalendarMonth("2026-10", "Europe/Kyiv");
  ASSERT_TRUE(m) << m.error().message();
  // 1 October 00:00 EEST (UTC+3) .. 1 November 00:00 EET (UTC+2); DST ends 25 October.
  EXPECT_EQ(m->start, T("2026-09-30T21:00:00Z"));
  EXPECT_EQ(m->end, T("2026-10-31T22:00:00Z"));
  EXPECT_EQ(m->minutes(), 31 * 1440 + 60);
}

TEST(SlaMonthTest, MarchInKyivLosesAnHourAndUtcLosesNone) {
  auto kyiv = CalendarMonth("2026-03", "Europe/Kyiv");
  ASSERT_TRUE(kyiv);
  EXPECT_EQ(kyiv->start, T("2026-02-28T22:00:00Z"));
  EXPECT_EQ(kyiv->minutes(), 31 * 1440 - 60);  // DST starts 29 March
  auto utc = CalendarMonth("2026-03", "UTC");
  ASSERT_TRUE(utc);
  EXPECT_EQ(utc->minutes(), 31 * 1440);
  auto december = CalendarMonth("2026-12", "Europe/Kyiv");
  ASSERT_TRUE(december);
  EXPECT_EQ(december->end, T("2026-12-31T22:00:00Z"));  // into the next year
}

TEST(SlaMonthTest, MistakesSayWhatIsExpected) {
  EXPECT_THAT(CalendarMonth("2026-13", "UTC").error().message(), HasSubstr("01 to 12"));
  EXPECT_THAT(CalendarMonth("10/2026", "UTC").error().message(), HasSubstr("YYYY-MM"));
  EXPECT_THAT(CalendarMonth("2026-10", "Europe/Kiev-ish").error().message(),
              HasSubstr("not an IANA time zone"));
  EXPECT_EQ(PreviousMonth("2026-01"), "2025-12");
  EXPECT_EQ(PreviousMonth("2026-10"), "2026-09");
}

TEST(SlaMinuteTest, AtLeastXPercentErrorsOrNoAnswerIsDown) {
  EXPECT_EQ(ClassifyMinute(5, 100, {}, {}, 5, false), MinuteState::kDownErrors);  // exactly X
  EXPECT_EQ(ClassifyMinute(4.99, 100, {}, {}, 5, false), MinuteState::kUp);
  EXPECT_EQ(ClassifyMinute({}, 100, {}, {}, 5, false), MinuteState::kUp);  // no errors reported
  EXPECT_EQ(ClassifyMinute({}, {}, {}, {}, 5, false), MinuteState::kDownNoAnswer);
  EXPECT_EQ(ClassifyMinute(0, 0, {}, {}, 5, false), MinuteState::kDownNoAnswer);
  EXPECT_EQ(ClassifyMinute(100, 100, {}, {}, 5, true), MinuteState::kExcluded);
}

TEST(SlaMinuteTest, TheWorseOfTheSyntheticSourceAndTheProvidersFiguresCounts) {
  EXPECT_EQ(ClassifyMinute(0, 100, 20, 200, 10, false), MinuteState::kDownProviderFigures);
  EXPECT_EQ(ClassifyMinute(0, 100, 19, 200, 10, false), MinuteState::kUp);
  // Missing provider figures are no opinion; a missing probe answer is still downtime.
  EXPECT_EQ(ClassifyMinute(0, 100, {}, {}, 10, false), MinuteState::kUp);
  EXPECT_EQ(ClassifyMinute({}, {}, 0, 200, 10, false), MinuteState::kDownNoAnswer);
}

TEST(SlaCreditTest, AvailabilityTiers) {
  EXPECT_FALSE(AvailabilityCredit(44, 44000));  // 99.9 % exactly meets the SLO
  ASSERT_TRUE(AvailabilityCredit(45, 44000));
  EXPECT_EQ(AvailabilityCredit(45, 44000)->percent, 5);
  EXPECT_EQ(AvailabilityCredit(220, 44000)->percent, 5);  // 99.5 % exactly: the 5 % tier
  EXPECT_EQ(AvailabilityCredit(221, 44000)->percent, 10);
  EXPECT_EQ(AvailabilityCredit(44000, 44000)->percent, 10);  // the deepest tier of the table
  EXPECT_THAT(AvailabilityCredit(221, 44000)->reason, HasSubstr("99.497 %"));  // 99.4977
  // 99.4998 % is below 99.5 %: printed rounded down, never as the threshold it missed.
  ASSERT_TRUE(AvailabilityCredit(223, 44580));
  EXPECT_EQ(AvailabilityCredit(223, 44580)->percent, 10);
  EXPECT_THAT(AvailabilityCredit(223, 44580)->reason, HasSubstr("availability 99.499 %"));
  // A figure that is exactly a threshold stays itself (99.9 is 99.8999... in binary).
  EXPECT_EQ(PercentDown(99.9), "99.900");
  EXPECT_EQ(PercentDown(100.0 * (1.0 - 44.0 / 44000)), "99.900");
}

TEST(SlaCreditTest, DsrTwoPercentPerFullHalfPointBelow99CappedAt20) {
  EXPECT_FALSE(DsrCredit(1, 100));             // 99.0 %
  EXPECT_FALSE(DsrCredit(1.4, 100));           // 98.6 %: 0.4 pp, no full step
  EXPECT_EQ(DsrCredit(1.5, 100)->percent, 2);  // 98.5 %: one step
  EXPECT_EQ(DsrCredit(2, 100)->percent, 4);    // 98.0 %: two steps, not 1.999...
  EXPECT_EQ(DsrCredit(6, 100)->percent, 20);   // 94.0 %: ten steps
  EXPECT_EQ(DsrCredit(20, 100)->percent, 20);  // 80.0 %: capped
  EXPECT_FALSE(DsrCredit(0, 0));
}

TEST(SlaCreditTest, LatencyClausesNeedMoreThanTheirMinutes) {
  EXPECT_FALSE(WebhookCredit(60, 60));
  EXPECT_EQ(WebhookCredit(61, 60)->percent, 5);
  EXPECT_THAT(WebhookCredit(61, 60)->reason, HasSubstr("above 120 s"));
  EXPECT_FALSE(TtfsCredit(120, 800));
  EXPECT_EQ(TtfsCredit(121, 800)->percent, 5);
}

TEST(SlaCreditTest, MonthlyCapAndChronicFailure) {
  std::vector<CreditClause> many(6, CreditClause{"x", "y", 20});
  EXPECT_EQ(TotalCredit(many), 100);
  EXPECT_EQ(TotalCredit({{"a", "", 5}, {"b", "", 4}}), 9);
  EXPECT_TRUE(ChronicFailure({10, 15, 10}));
  EXPECT_FALSE(ChronicFailure({10, 9, 10}));
  EXPECT_FALSE(ChronicFailure({std::nullopt, 10, 10}));  // a month without telemetry
  EXPECT_FALSE(ChronicFailure({10, 10}));
}

TEST(SlaPercentileTest, NearestRank) {
  EXPECT_FALSE(NearestRankPercentile({}, 95));
  // 20 values 1..20: rank ceil(0.95 * 20) = 19.
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(NearestRankPercentile(v, 95), 19);
  EXPECT_EQ(NearestRankPercentile({7}, 95), 7);
}

// Ten minutes by hand: 0-1 errors (down), 2 no answer (down), 3 in an agreed window
// (excluded), 4-5 the provider's figures (down), 6 in an emergency window with errors (down,
// flagged), 7-9 up.
TEST(SlaComputeTest, TenMinutesByHand) {
  MonthRange month{"2026-10", T("2026-10-01T00:00:00Z"), T("2026-10-01T00:10:00Z")};
  ProviderSla sla;
  sla.name = "psp-a";
  sla.downtime_error_percent = 5;
  sla.availability = RatioSli{{"e", "t"}, RatioQueries{"pe", "pt"}};
  sla.dsr = RatioSli{{"de", "dt"}, RatioQueries{"pde", "pdt"}};
  sla.webhook_p95_s = LatencySli{"w", "pw", 60};
  sla.maintenance = {
      {T("2026-10-01T00:03:00Z"), T("2026-10-01T00:04:00Z"), T("2026-09-20T00:00:00Z"), false, {}},
      {T("2026-10-01T00:06:00Z"), T("2026-10-01T00:07:00Z"), T("2026-09-30T00:00:00Z"), true, {}}};
  ProviderTelemetry t;
  t.availability.total = {100, 100, {}, 100, 100, 100, 100, 100, 100, 100};
  t.availability.errors = {50, 50, {}, 100, 0, 0, 100, {}, {}, {}};
  t.availability_provider = RatioMinutes{{0, 0, 0, 0, 10, 10, 0, 0, 0, 0},
                                         {100, 100, 100, 100, 100, 100, 100, 100, 100, 100}};
  // Synthetic DSR over the 9 counted minutes: 9 failed of 900 = 99.0 %; the provider's own:
  // 18 of 900 = 98.0 % (the minute in the agreed window, 50 failed, does not count).
  t.dsr.total = MinuteValues(10, 100.0);
  t.dsr.errors = MinuteValues(10, 1.0);
  t.dsr_provider = RatioMinutes{MinuteValues(10, 2.0), MinuteValues(10, 100.0)};
  t.dsr_provider->errors[3] = 50;
  t.webhook_s = {10, 10, 10, 500, 10, 10, 10, 130, 10, 10};
  t.webhook_s_provider = {10, 70, {}, {}, {}, {}, {}, {}, {}, 200};

  auto m = ComputeProviderMonth(sla, month, t);
  EXPECT_TRUE(m.has_telemetry);
  EXPECT_EQ(m.minutes_in_month, 10);
  EXPECT_EQ(m.excluded_minutes, 1);
  EXPECT_EQ(m.downtime_minutes, 6);  // 0, 1, 2, 4, 5, 6
  EXPECT_DOUBLE_EQ(*m.availability, 1 - 6.0 / 9);
  ASSERT_EQ(m.downtime.size(), 4u);
  EXPECT_EQ(m.downtime[0].start, month.start);
  EXPECT_EQ(m.downtime[0].minutes, 2);
  EXPECT_EQ(m.downtime[0].cause, "errors >= 5 %");
  EXPECT_EQ(m.downtime[1].cause, "no answer");
  EXPECT_EQ(m.downtime[2].minutes, 2);
  EXPECT_EQ(m.downtime[2].cause, "provider's figures: errors >= 5 %");
  EXPECT_EQ(m.downtime[3].start, T("2026-10-01T00:06:00Z"));
  EXPECT_TRUE(m.downtime[3].in_emergency_maintenance);
  EXPECT_DOUBLE_EQ(*m.dsr_synthetic, 0.99);
  EXPECT_DOUBLE_EQ(*m.dsr_provider, 0.98);
  EXPECT_DOUBLE_EQ(*m.dsr, 0.98);
  // Webhook per minute, the worse source: 10 70 . 10 10 10 130 10 200 (minute 3 excluded):
  // over 60 s: 3 minutes; over 120 s: 2. p95 of 9 values: rank ceil(8.55) = 9 -> 200.
  EXPECT_EQ(m.webhook_minutes_over_slo, 3);
  EXPECT_EQ(m.webhook_minutes_over_twice_slo, 2);
  EXPECT_EQ(m.webhook_p95_s, 200);
  EXPECT_FALSE(m.ttfs_p95_ms);
  // Credits: availability 33.3 % -> 10 %; DSR 98.0 % -> 4 %; webhook 2 minutes -> none.
  ASSERT_EQ(m.credits.size(), 2u);
  EXPECT_EQ(m.credits[0].percent, 10);
  EXPECT_EQ(m.credits[1].percent, 4);
  EXPECT_THAT(m.credits[1].reason, HasSubstr("provider's figures"));
  EXPECT_EQ(m.credit_percent, 14);
}

// A quantile over no traffic is NaN: no figure for that minute, so the provider's own value
// stands alone, whichever of the two sources is NaN.
TEST(SlaComputeTest, ANanLatencyLeavesTheOtherSourcesValue) {
  MonthRange month{"2026-10", T("2026-10-01T00:00:00Z"), T("2026-10-01T00:03:00Z")};
  ProviderSla sla;
  sla.name = "game-x";
  sla.ttfs_p95_ms = LatencySli{"t", "pt", 800};
  sla.availability = RatioSli{{"e", "t"}, std::nullopt};
  ProviderTelemetry t;
  t.availability.total = {100, 100, 100};  // a month with telemetry
  t.availability.errors = {0, 0, 0};
  const double nan = std::nan("");
  t.ttfs_ms = {nan, 2000, nan};
  t.ttfs_ms_provider = {2000, nan, {}};
  auto m = ComputeProviderMonth(sla, month, t);
  EXPECT_EQ(m.ttfs_minutes_over_slo, 2);  // minutes 0 and 1; minute 2 has no figure
  EXPECT_EQ(m.ttfs_p95_ms, 2000);
}

TEST(SlaComputeTest, AMonthWithoutTelemetryHasNoFiguresAndNoCredits) {
  MonthRange month{"2026-08", T("2026-08-01T00:00:00Z"), T("2026-08-01T00:05:00Z")};
  ProviderSla sla;
  sla.name = "psp-a";
  sla.downtime_error_percent = 5;
  sla.availability = RatioSli{{"e", "t"}, std::nullopt};
  ProviderTelemetry t;
  t.availability.total = MinuteValues(5);
  t.availability.errors = MinuteValues(5);
  auto m = ComputeProviderMonth(sla, month, t);
  EXPECT_FALSE(m.has_telemetry);
  EXPECT_FALSE(m.availability);
  EXPECT_TRUE(m.credits.empty());
  SlaReport report{"2026-08", "UTC", {m}};
  EXPECT_EQ(RenderSlaCsv(report),
            "Provider,Month,Availability,DSR,TTFS_p95_ms,Webhook_p95_s,Credits%\n"
            "psp-a,2026-08,--,--,--,--,--\n");
}

// -o json says what the CSV says with "--": null where a figure does not apply.
TEST(SlaRenderTest, JsonHasEveryFigureAndNullWhereTheCsvSaysDashes) {
  MonthRange month{"2026-10", T("2026-10-01T00:00:00Z"), T("2026-10-01T00:04:00Z")};
  ProviderSla sla;
  sla.name = "psp-a";
  sla.downtime_error_percent = 5;
  sla.availability = RatioSli{{"e", "t"}, std::nullopt};
  ProviderTelemetry t;
  t.availability.total = {100, 100, 100, 100};
  t.availability.errors = {50, 0, 0, 0};  // one minute down of four: 75 %, 10 % credit
  SlaReport report{"2026-10", "Europe/Kyiv", {ComputeProviderMonth(sla, month, t)}};
  auto j = nlohmann::json::parse(RenderSlaJson(report));
  EXPECT_EQ(j["month"], "2026-10");
  EXPECT_EQ(j["time_zone"], "Europe/Kyiv");
  ASSERT_EQ(j["providers"].size(), 1u);
  const auto& p = j["providers"][0];
  EXPECT_EQ(p["provider"], "psp-a");
  EXPECT_DOUBLE_EQ(p["availability"].get<double>(), 0.75);
  EXPECT_TRUE(p["dsr"].is_null());
  EXPECT_TRUE(p["ttfs_p95_ms"].is_null());
  EXPECT_EQ(p["downtime_minutes"], 1);
  EXPECT_EQ(p["downtime"][0]["start"], "2026-10-01T00:00:00Z");
  EXPECT_EQ(p["downtime"][0]["end"], "2026-10-01T00:01:00Z");
  EXPECT_EQ(p["credit_percent"], 10);
  EXPECT_EQ(p["credits"][0]["percent"], 10);
}

}  // namespace
}  // namespace tocsin::report
