#include <gmock/gmock.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/oncall/fairness.h"
#include "tocsin/oncall/roster_loader.h"

namespace tocsin::oncall {
namespace {

TimePoint T(const char* rfc3339) { return ParseTime(rfc3339).value(); }

Schedule Load(const std::string& yaml) {
  config::Diagnostics diags;
  auto r = LoadRosterString("roster.yaml", yaml, diags);
  EXPECT_TRUE(r) << diags.ToString();
  return Schedule(r.value_or(Roster{}));
}

constexpr const char* kPeople = R"(
people:
  a: {name: A, time_zone: Europe/Kyiv}
  b: {name: B, time_zone: Europe/Kyiv}
  c: {name: C, time_zone: Europe/Kyiv}
  d: {name: D, time_zone: Europe/Kyiv}
)";

std::vector<Finding> Of(const std::vector<Finding>& all, const std::string& rule) {
  std::vector<Finding> out;
  for (const auto& f : all) {
    if (f.rule == rule) out.push_back(f);
  }
  return out;
}

TEST(FairnessTest, FairRotationHasNoFindings) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b, c, d]}
)");
  auto findings = CheckRoster(s, T("2026-11-09T00:00:00Z"), T("2026-12-07T00:00:00Z"));
  for (const auto& f : findings) ADD_FAILURE() << f.message;
}

TEST(FairnessTest, ThreeNightsInARowNamesPersonDatesAndRule) {
  // Custom pattern: a holds three whole days in a row, so three nights in a row.
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], turn: day, members: [a, a, a, b, c, d]}
)");
  auto nights = Of(CheckRoster(s, T("2026-11-02T06:00:00Z"), T("2026-11-08T06:00:00Z")),
                   "max-consecutive-nights");
  ASSERT_EQ(nights.size(), 1u);
  EXPECT_EQ(nights[0].person, "a");
  EXPECT_EQ(nights[0].from, "2026-11-02");
  EXPECT_EQ(nights[0].to, "2026-11-04");
  EXPECT_NE(nights[0].message.find("3 nights in a row"), std::string::npos);
  EXPECT_EQ(nights[0].source.line, 3);  // where person a is defined, for file:line output
}

TEST(FairnessTest, MoreThanSevenDaysInFourteenIsAFinding) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], turn: shift, members: [a, b]}
)");
  // a holds every day shift: 14 on-call days in 14.
  auto days =
      Of(CheckRoster(s, T("2026-11-16T00:00:00Z"), T("2026-11-30T00:00:00Z")), "max-days-in-14");
  ASSERT_FALSE(days.empty());
  EXPECT_EQ(days[0].person, "a");
  EXPECT_NE(days[0].message.find("14 on-call days"), std::string::npos);
}

TEST(FairnessTest, HoldingTwoRolesAtOnceIsAFinding) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b, c, d]}
  comms: {role: comms, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["09:00"], turn: week, members: [a]}
)");
  // 10 November: a holds the L1 day shift and the whole comms week.
  auto two = Of(CheckRoster(s, T("2026-11-10T00:00:00Z"), T("2026-11-11T00:00:00Z")), "two-roles");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].person, "a");
  EXPECT_NE(two[0].message.find("l1"), std::string::npos);
  EXPECT_NE(two[0].message.find("comms"), std::string::npos);
}

TEST(FairnessTest, AnyMinuteWithoutL1IsAFinding) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-10, handovers: ["08:00", "20:00"], members: [a, b, c, d]}
  comms: {role: comms, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["09:00"], turn: day, members: [a, b]}
)");
  auto gaps = Of(CheckRoster(s, T("2026-11-09T00:00:00Z"), T("2026-11-12T00:00:00Z")), "l1-gap");
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].from, "2026-11-09 00:00 UTC");
  EXPECT_EQ(gaps[0].to, "2026-11-10 06:00 UTC");  // 08:00 in Kyiv
  EXPECT_EQ(gaps[0].source.line, 9);              // the L1 rotation
}

TEST(FairnessTest, ShippedRosterPassesForTheComingWeeks) {
  config::Diagnostics diags;
  auto roster = LoadRoster(std::string(TOCSIN_SOURCE_DIR) + "/config/roster.yaml", diags);
  ASSERT_TRUE(roster) << diags.ToString();
  EXPECT_EQ(diags.error_count(), 0u) << diags.ToString();
  Schedule s(*roster);
  SystemClock clock;
  TimePoint now = clock.Now();
  for (const auto& f : CheckRoster(s, now, now + std::chrono::hours(24 * 7 * 6))) {
    ADD_FAILURE() << f.rule << ": " << f.message;
  }
  // Every role the default ladder needs is on call right now.
  for (const char* role : {"l1", "l2-payments", "l2-game-gateway", "l2-db-wallet",
                           "l2-sre-platform", "comms", "duty-manager", "reserve", "call-manager"}) {
    EXPECT_EQ(s.WhoHolds(role, now).size(), 1u) << role;
  }
}

}  // namespace
}  // namespace tocsin::oncall
