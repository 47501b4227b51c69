#include <gmock/gmock.h>

#include "tocsin/common/duration.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/oncall/icalendar.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::oncall {
// Its own namespace: this file shares a unity batch with files whose helpers have the same
// names (cmake/TocsinBuildSpeed.cmake).
namespace schedule_test {
namespace {

using ::testing::ElementsAre;

TimePoint T(const char* rfc3339) { return ParseTime(rfc3339).value(); }

Schedule Load(const std::string& yaml) {
  config::Diagnostics diags;
  auto r = LoadRosterString("roster.yaml", yaml, diags);
  EXPECT_TRUE(r) << diags.ToString();
  return Schedule(r.value_or(Roster{}));
}

constexpr const char* kPeople = R"(
people:
  eu1: {name: EU One, time_zone: Europe/Kyiv}
  eu2: {name: EU Two, time_zone: Europe/Kyiv}
  us1: {name: US One, time_zone: America/New_York}
  us2: {name: US Two, time_zone: America/New_York}
  ap1: {name: APAC One, time_zone: Asia/Singapore}
  a: {name: A, time_zone: Europe/Kyiv}
  b: {name: B, time_zone: Europe/Kyiv}
  c: {name: C, time_zone: Europe/Kyiv}
)";

constexpr const char* kFollowTheSun = R"(
rotations:
  sre:
    role: l2-sre-platform
    start_date: 2026-03-02
    turn: week
    follow_the_sun:
      - {region: europe, time_zone: Europe/Kyiv, handover: "08:00", members: [eu1, eu2]}
      - {region: americas, time_zone: America/New_York, handover: "09:00", members: [us1, us2]}
      - {region: apac, time_zone: Asia/Singapore, handover: "08:00", members: [ap1]}
)";

// Attack finding: "2026-03-29T10:30:00" (seconds, no offset) was "not a time"; only the form
// to the minute was read.
TEST(ScheduleTest, LocalTimesAreReadToTheMinuteOrTheSecond) {
  const TimePoint kyiv_1030 = *ParseTime("2026-03-29T07:30:00Z");  // EEST, UTC+3
  EXPECT_EQ(ParseLocalTime("2026-03-29T10:30", "Europe/Kyiv"), kyiv_1030);
  EXPECT_EQ(ParseLocalTime("2026-03-29 10:30", "Europe/Kyiv"), kyiv_1030);
  EXPECT_EQ(ParseLocalTime("2026-03-29T10:30:00", "Europe/Kyiv"), kyiv_1030);
  EXPECT_EQ(ParseLocalTime("2026-03-29 10:30:45", "Europe/Kyiv"),
            kyiv_1030 + std::chrono::seconds(45));
  EXPECT_EQ(ParseLocalTime("2026-03-29T10:30:00Z", "Europe/Kyiv"),
            *ParseTime("2026-03-29T10:30:00Z"));
  for (const char* bad : {"2026-03-29T10:30:0", "2026-03-29T10:30:60", "2026-03-29T10:30:00x",
                          "2026-03-29T25:30:00"}) {
    EXPECT_FALSE(ParseLocalTime(bad, "UTC")) << bad;
  }
}

// A date alone is the local midnight of a real day: no 30 February, no letters, four-digit years.
TEST(ScheduleTest, LocalDatesAreDaysOfTheCalendar) {
  EXPECT_EQ(ParseLocalTime("2024-02-29", "UTC"), *ParseTime("2024-02-29T00:00:00Z"));
  EXPECT_EQ(ParseLocalTime("2026-03-29", "Europe/Kyiv"), *ParseTime("2026-03-28T22:00:00Z"));
  for (const char* bad : {"2026-02-29", "2026-02-30", "2026-13-01", "2026-00-10", "2026-1a-01",
                          "26-03-2900", "2026/03/29", "2026-03-2"}) {
    EXPECT_FALSE(ParseLocalTime(bad, "UTC")) << bad;
  }
}

TEST(ScheduleTest, TwelveHourKyivShiftsHandOverAtLocalTimeInWinter) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1:
    role: l1
    time_zone: Europe/Kyiv
    start_date: 2026-11-02
    handovers: ["08:00", "20:00"]
    members: [a, b, c]
)");
  // 2026-11-02 08:00 EET = 06:00 UTC: a's day shift, then b's night from 18:00 UTC.
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T06:00:00Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T17:59:59Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T18:00:00Z")), ElementsAre("b"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-03T06:00:00Z")), ElementsAre("c"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-03T18:00:00Z")), ElementsAre("a"));
  // Before the rotation starts nobody holds it.
  EXPECT_TRUE(s.WhoHolds("l1", T("2026-11-02T05:59:00Z")).empty());
  EXPECT_EQ(s.NextHandover("l1", T("2026-11-02T07:00:00Z")), T("2026-11-02T18:00:00Z"));
}

TEST(ScheduleTest, NightShiftAcrossTheKyivSpringForwardIsElevenHours) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1:
    role: l1
    time_zone: Europe/Kyiv
    start_date: 2026-03-01
    handovers: ["08:00", "20:00"]
    members: [a, b]
)");
  // 28 March 20:00 EET (18:00 UTC) to 29 March 08:00 EEST (05:00 UTC): the clocks jump at 03:00.
  auto shifts = s.Shifts(T("2026-03-28T19:00:00Z"), T("2026-03-28T19:00:01Z"));
  ASSERT_EQ(shifts.size(), 1u);
  EXPECT_EQ(shifts[0].start, T("2026-03-28T18:00:00Z"));
  EXPECT_EQ(shifts[0].end, T("2026-03-29T05:00:00Z"));
  EXPECT_EQ(FormatLocal(shifts[0].end, "Europe/Kyiv"), "2026-03-29 08:00 EEST");
}

TEST(ScheduleTest, FollowTheSunHandoverMovesWithEachRegionsDstChange) {
  auto s = Load(std::string(kPeople) + kFollowTheSun);
  // Before any change: Europe 06:00-14:00 UTC, Americas 14:00-00:00, APAC 00:00-06:00.
  EXPECT_THAT(s.WhoHolds("l2-sre-platform", T("2026-03-06T13:30:00Z")), ElementsAre("eu1"));
  EXPECT_EQ(s.NextHandover("l2-sre-platform", T("2026-03-06T12:00:00Z")),
            T("2026-03-06T14:00:00Z"));
  // New York springs forward on 8 March: 09:00 EDT is 13:00 UTC, Europe's day gets shorter.
  EXPECT_THAT(s.WhoHolds("l2-sre-platform", T("2026-03-09T13:30:00Z")), ElementsAre("us2"));
  EXPECT_EQ(s.NextHandover("l2-sre-platform", T("2026-03-09T12:00:00Z")),
            T("2026-03-09T13:00:00Z"));
  // Kyiv springs forward on 29 March: 08:00 EEST is 05:00 UTC, APAC hands over an hour early.
  EXPECT_THAT(s.WhoHolds("l2-sre-platform", T("2026-03-27T05:30:00Z")), ElementsAre("ap1"));
  EXPECT_THAT(s.WhoHolds("l2-sre-platform", T("2026-03-30T05:30:00Z")), ElementsAre("eu1"));
  // Across both changes there is never a gap and never an overlap.
  auto shifts = s.Shifts(T("2026-03-03T00:00:00Z"), T("2026-04-05T00:00:00Z"));
  for (std::size_t i = 1; i < shifts.size(); ++i) {
    EXPECT_EQ(shifts[i - 1].end, shifts[i].start) << FormatRfc3339(shifts[i].start);
  }
  // The region is named on each shift.
  EXPECT_EQ(s.OnCall(T("2026-03-09T13:30:00Z"), "l2-sre-platform")[0].region, "americas");
}

TEST(ScheduleTest, DailyAndWeeklyTurnsAndCustomPatterns) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  daily: {role: comms, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["09:00"], turn: day, members: [a, b]}
  weekly: {role: duty-manager, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["09:00"], turn: week, members: [a, b]}
  custom: {role: reserve, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["09:00"], turn: day, members: [a, a, c]}
)");
  EXPECT_THAT(s.WhoHolds("comms", T("2026-11-02T08:00:00Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("comms", T("2026-11-03T08:00:00Z")), ElementsAre("b"));
  EXPECT_THAT(s.WhoHolds("duty-manager", T("2026-11-08T08:00:00Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("duty-manager", T("2026-11-09T08:00:00Z")), ElementsAre("b"));
  EXPECT_THAT(s.WhoHolds("reserve", T("2026-11-03T08:00:00Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("reserve", T("2026-11-04T08:00:00Z")), ElementsAre("c"));
  // A day turn with one handover is one 24h shift, not 24 one-hour pieces.
  auto shifts = s.Shifts(T("2026-11-02T08:00:00Z"), T("2026-11-02T09:00:00Z"));
  ASSERT_FALSE(shifts.empty());
}

TEST(ScheduleTest, CoverOverrideReplacesOnlyTheNamedPersonForItsRange) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b]}
overrides:
  - {type: cover, rotation: l1, from: "2026-11-02T10:00", to: "2026-11-02T14:00", person: c, replaces: a, reason: dentist}
)");
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T07:59:00Z")), ElementsAre("a"));  // 09:59 local
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T08:00:00Z")), ElementsAre("c"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T11:59:00Z")), ElementsAre("c"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T12:00:00Z")), ElementsAre("a"));  // 14:00 local
  auto covered = s.OnCall(T("2026-11-02T09:00:00Z"), "l1");
  ASSERT_EQ(covered.size(), 1u);
  EXPECT_EQ(covered[0].override_reason, "dentist");
}

TEST(ScheduleTest, SwapOverrideTradesShiftsBothWays) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b]}
overrides:
  - {type: swap, rotation: l1, from: "2026-11-02T08:00", to: "2026-11-03T08:00", person: a, with: b}
)");
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T07:00:00Z")), ElementsAre("b"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-02T19:00:00Z")), ElementsAre("a"));
  EXPECT_THAT(s.WhoHolds("l1", T("2026-11-03T07:00:00Z")), ElementsAre("a"));  // back to normal
}

TEST(ScheduleTest, ShadowsAreActiveOnlyInTheirRange) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00"], members: [a]}
shadows:
  - {newcomer: c, buddy: a, from: 2026-11-16, to: 2026-12-07}
)");
  EXPECT_TRUE(s.ShadowsOf("a", T("2026-11-15T12:00:00Z")).empty());
  EXPECT_THAT(s.ShadowsOf("a", T("2026-11-20T12:00:00Z")), ElementsAre("c"));
  EXPECT_TRUE(s.ShadowsOf("b", T("2026-11-20T12:00:00Z")).empty());
}

TEST(ScheduleTest, ICalendarExportHasOneEventPerShiftOfThePerson) {
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b]}
)");
  auto ics = ExportICalendar(s, "a", T("2026-11-02T00:00:00Z"), T("2026-11-04T00:00:00Z"),
                             T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(ics.rfind("BEGIN:VCALENDAR\r\n", 0), 0u);
  std::size_t events = 0;
  for (auto p = ics.find("BEGIN:VEVENT"); p != std::string::npos;
       p = ics.find("BEGIN:VEVENT", p + 1)) {
    ++events;
  }
  EXPECT_EQ(events, 2u);  // a's day shifts on 2 and 3 November
  EXPECT_NE(ics.find("DTSTART:20261102T060000Z"), std::string::npos);
  EXPECT_NE(ics.find("DTEND:20261102T180000Z"), std::string::npos);
  EXPECT_NE(ics.find("END:VCALENDAR\r\n"), std::string::npos);
}

// True when `s` is well-formed UTF-8 (whole sequences only).
bool WholeUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Regression: a long DESCRIPTION (an override reason) went out as one line of any length,
// where RFC 5545 3.1 folds content lines at 75 octets; strict readers refused the calendar.
TEST(ScheduleTest, ICalendarFoldsLongLinesAt75OctetsBetweenCharacters) {
  const std::string reason =
      "Zahnarzt in Köln — Wurzelbehandlung, danach nicht erreichbar; Vertretung durch "
      "Олена Коваленко bis zum Abend";
  auto s = Load(std::string(kPeople) + R"(
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b]}
overrides:
  - {type: cover, rotation: l1, from: "2026-11-02T10:00", to: "2026-11-02T14:00", person: c, replaces: a, reason: ")" +
                reason + R"("}
)");
  auto ics = ExportICalendar(s, "c", T("2026-11-02T00:00:00Z"), T("2026-11-03T00:00:00Z"),
                             T("2026-11-01T00:00:00Z"));
  ASSERT_EQ(ics.substr(ics.size() - 2), "\r\n");
  std::size_t physical = 0, folded = 0;
  for (std::size_t start = 0, end; start < ics.size(); start = end + 2) {
    end = ics.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    std::string_view l(ics.data() + start, end - start);
    ++physical;
    folded += !l.empty() && l.front() == ' ';
    EXPECT_LE(l.size(), 75u) << l;
    EXPECT_TRUE(WholeUtf8(l)) << "a fold cut a character: " << l;
  }
  EXPECT_GE(folded, 2u);
  // Unfolded, the description is whole again.
  std::string unfolded;
  for (std::size_t i = 0; i < ics.size(); ++i) {
    if (ics.compare(i, 3, "\r\n ") == 0) {
      i += 2;
      continue;
    }
    unfolded += ics[i];
  }
  EXPECT_NE(unfolded.find("\r\nDESCRIPTION:Rotation l1\\, role l1\\, override: Zahnarzt in Köln — "
                          "Wurzelbehandlung\\, danach nicht erreichbar\\; Vertretung durch "
                          "Олена Коваленко bis zum Abend\r\n"),
            std::string::npos)
      << unfolded;
  // Short lines are left alone.
  EXPECT_NE(ics.find("\r\nDTSTART:20261102T080000Z\r\n"), std::string::npos) << ics;
  EXPECT_GT(physical, 10u);
}

}  // namespace
}  // namespace schedule_test
}  // namespace tocsin::oncall
