// Maintenance windows in a named time zone, across Europe/Kyiv's DST changes (2026: clocks go
// forward on Sunday 29 March 03:00 -> 04:00 and back on Sunday 25 October 04:00 -> 03:00).
#include "tocsin/dispatch/maintenance_windows.h"

#include <gtest/gtest.h>

#include "dispatch/dispatch_test_util.h"
#include "tocsin/common/duration.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;

TimePoint At(const char* rfc3339) { return *ParseTime(rfc3339); }

MaintenanceWindows Load(const std::string& windows_yaml) {
  return MaintenanceWindows(
      testutil::LoadOrDie("maintenance_windows:\n" + windows_yaml).maintenance_windows);
}

const char* kPspA = R"(
  - name: psp-a-weekly
    time_zone: Europe/Kyiv
    matchers: ['psp="A"']
    weekly: {days: [tuesday], start: "02:00", end: "03:00"}
)";

TEST(MaintenanceWindowsTest, WeeklyWindowStaysAtLocalTimeAcrossSpringDst) {
  auto w = Load(kPspA);
  Labels psp_a{{"psp", "A"}}, psp_b{{"psp", "B"}};
  // Tuesday 24 March, EET (UTC+2): 02:00-03:00 local = 00:00-01:00 UTC.
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-24T00:00:00Z")).size() == 1);
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-24T00:59:59Z")).size() == 1);
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-24T01:00:00Z")).empty());
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-23T23:30:00Z")).empty());
  EXPECT_TRUE(w.MutedBy(psp_b, At("2026-03-24T00:30:00Z")).empty());
  // Tuesday 31 March, EEST (UTC+3): 02:00-03:00 local = 23:00-00:00 UTC on Monday.
  EXPECT_EQ(w.MutedBy(psp_a, At("2026-03-30T23:00:00Z")), std::vector<std::string>{"psp-a-weekly"});
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-31T00:00:00Z")).empty());
  EXPECT_TRUE(w.MutedBy(psp_a, At("2026-03-30T22:59:00Z")).empty());
}

TEST(MaintenanceWindowsTest, SlaExclusionOverAKyivMonth) {
  auto w = Load(kPspA);
  // March 2026 in Kyiv: 1 March 00:00 EET .. 1 April 00:00 EEST.
  auto from = At("2026-02-28T22:00:00Z"), to = At("2026-03-31T21:00:00Z");
  auto excluded = w.ExcludedIntervals(from, to, {{"psp", "A"}});
  ASSERT_EQ(excluded.size(), 5u);  // Tuesdays 3, 10, 17, 24, 31
  Duration total{};
  for (const auto& i : excluded) total += i.end - i.start;
  EXPECT_EQ(total, 5h);
  EXPECT_EQ(excluded[0].start, At("2026-03-03T00:00:00Z"));
  EXPECT_EQ(excluded[4].start, At("2026-03-30T23:00:00Z"));
  EXPECT_TRUE(w.ExcludedIntervals(from, to, {{"psp", "B"}}).empty());
  EXPECT_TRUE(w.IsExcluded(At("2026-03-24T00:10:00Z"), At("2026-03-24T00:50:00Z"), {{"psp", "A"}}));
  EXPECT_FALSE(
      w.IsExcluded(At("2026-03-24T00:30:00Z"), At("2026-03-24T01:30:00Z"), {{"psp", "A"}}));
}

TEST(MaintenanceWindowsTest, WindowsSpanningTheDstChangeLastTheRealElapsedTime) {
  auto w = Load(R"(
  - name: sunday-night
    time_zone: Europe/Kyiv
    weekly: {days: [sun], start: "02:00", end: "05:00"}
)");
  // Spring: 02:00 EET (00:00 UTC) to 05:00 EEST (02:00 UTC): two real hours.
  auto spring = w.ExcludedIntervals(At("2026-03-28T12:00:00Z"), At("2026-03-30T00:00:00Z"), {});
  ASSERT_EQ(spring.size(), 1u);
  EXPECT_EQ(spring[0].start, At("2026-03-29T00:00:00Z"));
  EXPECT_EQ(spring[0].end - spring[0].start, 2h);
  // Autumn: 02:00 EEST (23:00 UTC Saturday) to 05:00 EET (03:00 UTC): four real hours.
  auto autumn = w.ExcludedIntervals(At("2026-10-24T12:00:00Z"), At("2026-10-26T00:00:00Z"), {});
  ASSERT_EQ(autumn.size(), 1u);
  EXPECT_EQ(autumn[0].start, At("2026-10-24T23:00:00Z"));
  EXPECT_EQ(autumn[0].end - autumn[0].start, 4h);
}

TEST(MaintenanceWindowsTest, StartInTheSpringGapBeginsAtTheTransition) {
  auto w = Load(R"(
  - name: gap
    time_zone: Europe/Kyiv
    weekly: {days: [sunday], start: "03:30", end: "04:30"}
)");
  // 03:30 does not exist on 29 March; the window opens at 04:00 EEST (01:00 UTC).
  auto i = w.ExcludedIntervals(At("2026-03-29T00:00:00Z"), At("2026-03-29T06:00:00Z"), {});
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0].start, At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(i[0].end, At("2026-03-29T01:30:00Z"));
}

TEST(MaintenanceWindowsTest, OneOffWindowInLocalTimeAndOvernightWeekly) {
  auto w = Load(R"(
  - name: db-migration
    time_zone: Europe/Kyiv
    start: "2026-12-01 01:00"
    end: "2026-12-01 02:30"
    matchers: ['service="wallet"']
    sla_excluded: false
  - name: overnight
    time_zone: UTC
    weekly: {days: [friday], start: "23:00", end: "01:00"}
)");
  Labels wallet{{"service", "wallet"}};
  EXPECT_EQ(w.MutedBy(wallet, At("2026-11-30T23:00:00Z")),
            std::vector<std::string>{"db-migration"});
  EXPECT_TRUE(w.MutedBy(wallet, At("2026-12-01T00:30:00Z")).empty());
  // Not SLA-excluded: muting only.
  EXPECT_TRUE(
      w.ExcludedIntervals(At("2026-11-30T00:00:00Z"), At("2026-12-02T00:00:00Z"), wallet).empty());
  // Friday 4 December 23:00 to Saturday 01:00 UTC.
  EXPECT_EQ(w.MutedBy({}, At("2026-12-05T00:30:00Z")), std::vector<std::string>{"overnight"});
  EXPECT_TRUE(w.MutedBy({}, At("2026-12-05T01:00:00Z")).empty());
}

}  // namespace
}  // namespace tocsin::dispatch
