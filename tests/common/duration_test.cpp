#include "tocsin/common/duration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <date/date.h>
#include <fmt/format.h>

namespace tocsin {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesPrometheusNotation) {
  EXPECT_EQ(*ParseDuration("30s"), seconds(30));
  EXPECT_EQ(*ParseDuration("5m"), minutes(5));
  EXPECT_EQ(*ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(*ParseDuration("30d"), hours(24 * 30));
  EXPECT_EQ(*ParseDuration("1w"), hours(24 * 7));
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(DurationTest, RejectsWithAHint) {
  for (const char* bad : {"", "5", "m", "5x", "1m1h", "1m1m", "-5m", "1.5h", "5 m"}) {
    auto r = ParseDuration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), Error::Kind::kInvalid);
    EXPECT_NE(r.error().message().find("write e.g."), std::string::npos) << r.error().message();
  }
}

TEST(DurationTest, FormatsShortestAndRoundTrips) {
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(hours(72)), "3d");
  EXPECT_EQ(FormatDuration(*ParseDuration("14d")), "2w");
  for (const char* s : {"5m", "1h30m", "3d", "9d", "1s500ms"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(s)), s);
  }
}

// A 30-day SLO window was shown as Prometheus's "4w2d" (issue 13).
TEST(DurationTest, ThirtyDayWindowReadsThirtyDaysNotWeeks) {
  EXPECT_EQ(FormatDuration(*ParseDuration("30d")), "30d");
  EXPECT_EQ(FormatDuration(*ParseDuration("1w2d")), "9d");
  EXPECT_EQ(FormatDuration(*ParseDuration("28d")), "4w");
  EXPECT_EQ(FormatDuration(*ParseDuration("30d12h")), "30d12h");
  EXPECT_EQ(FormatDuration(*ParseDuration("365d")), "1y");
}

TEST(TimeTest, ParsesRfc3339AndUnix) {
  auto t = ParseTime("2026-11-22T01:53:11Z");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(ToUnixMillis(*t), 1795312391000);
  auto frac = ParseTime("2026-11-22T01:53:11.250Z");
  ASSERT_TRUE(frac);
  EXPECT_EQ(ToUnixMillis(*frac), 1795312391250);
  auto offset = ParseTime("2026-11-22T03:53:11+02:00");
  ASSERT_TRUE(offset) << offset.error().message();
  EXPECT_EQ(*offset, *t);
  auto unix_secs = ParseTime("1795312391.5");
  ASSERT_TRUE(unix_secs);
  EXPECT_EQ(ToUnixMillis(*unix_secs), 1795312391500);
  EXPECT_FALSE(ParseTime("yesterday"));
  EXPECT_FALSE(ParseTime("2026-13-40T00:00:00Z"));
}

// Every shape the parser takes without a stream (any calendar date, offset and number of
// fraction digits) gives the instant the text names: 20,000 random instants from 1970 to 2199,
// written in a random zone with 0 to 9 fraction digits, read back.
TEST(TimeTest, RandomInstantsInAnyZoneAndPrecisionReadBackExactly) {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state](std::uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  };
  for (int i = 0; i < 20000; ++i) {
    const auto instant = static_cast<std::int64_t>(next(7'258'118'400'000ULL));  // < 2200
    const int offset_min = static_cast<int>(next(2 * 24 * 60 - 1)) - (24 * 60 - 1);
    const int digits = static_cast<int>(next(10));
    const std::int64_t local_ms = instant + std::int64_t{offset_min} * 60'000;
    const auto local = date::sys_time<milliseconds>(milliseconds(local_ms));
    const auto day = date::floor<date::days>(local);
    const date::year_month_day ymd(day);
    const date::hh_mm_ss hms(local - day);
    std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", int(ymd.year()),
                                   unsigned(ymd.month()), unsigned(ymd.day()), hms.hours().count(),
                                   hms.minutes().count(), hms.seconds().count());
    const std::string ms = fmt::format("{:03}", hms.subseconds().count());
    if (digits > 0)
      text += "." + ms.substr(0, std::min(digits, 3)) +
              std::string(static_cast<std::size_t>(std::max(0, digits - 3)), '7');
    if (offset_min == 0 && next(2) == 0) {
      text += "Z";
    } else {
      const int a = std::abs(offset_min);
      text += fmt::format("{}{:02}:{:02}", offset_min < 0 ? '-' : '+', a / 60, a % 60);
    }
    // Digits not written are zero; digits past the third are dropped.
    std::int64_t kept = hms.subseconds().count();
    if (digits == 0) kept = 0;
    if (digits == 1) kept -= kept % 100;
    if (digits == 2) kept -= kept % 10;
    const std::int64_t want = instant - hms.subseconds().count() + kept;
    auto got = ParseTime(text);
    ASSERT_TRUE(got) << text << ": " << got.error().message();
    ASSERT_EQ(ToUnixMillis(*got), want) << text;
  }
  // Not calendar dates: refused whichever parser looks at them.
  EXPECT_FALSE(ParseTime("2027-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseTime("2026-04-31T00:00:00Z"));
  EXPECT_TRUE(ParseTime("2028-02-29T23:59:59.999-23:59"));
}

// The alert intake's parser (Alertmanager reads RFC 3339 only): the same instants as ParseTime,
// Prometheus' nanoseconds cut to milliseconds.
TEST(TimeTest, Rfc3339OnlyReadsWhatParseTimeReadsAsRfc3339) {
  for (const char* s :
       {"2026-11-22T03:00:00Z", "2026-11-22T02:26:53.746Z", "2026-03-29T03:30:00+03:00",
        "1999-12-31T23:59:59.5-05:30", "2024-02-29T00:00:00.001Z", "1970-01-01T00:00:00Z",
        "2100-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z", "1900-03-01T00:00:00Z",
        "2026-11-22t03:00:00z"}) {
    auto strict = ParseRfc3339(s);
    auto general = ParseTime(s);
    ASSERT_TRUE(strict) << s;
    ASSERT_TRUE(general) << s;
    EXPECT_EQ(*strict, *general) << s;
  }
  EXPECT_EQ(*ParseRfc3339("2026-11-22T02:26:53.746347063Z"),
            *ParseTime("2026-11-22T02:26:53.746Z"));
}

// Attack finding: the intake fell back to ParseTime, which took unix seconds, and took a leap
// second and an offset of 99:99 itself.
TEST(TimeTest, Rfc3339OnlyRefusesUnixSecondsLeapSecondsAndOffsetsOutOfRange) {
  for (const char* s :
       {"", "yesterday", "1700000000", "1700000000.5", "2026-11-22", "2026-11-22T03:00:00",
        "2026-13-01T00:00:00Z", "2026-11-22T03:00:00.Z", "2026-11-22T03:00:00+0300",
        "2026-11-22T03:00:00Zx", "2026-12-03T10:00:00+99:99", "2026-12-03T10:00:00-24:00",
        "2016-12-31T23:59:60Z", "2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-11-00T00:00:00Z", "2026-11-22 03:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(s)) << s;
  }
  EXPECT_FALSE(ParseTime("2016-12-31T23:59:60Z"));
}

// Each of these once reached date::parse, which turned a seconds field without digits into
// NaN and converted it to an integer (undefined behaviour, found by the fuzzer).
TEST(TimeTest, RejectsMalformedRfc3339BeforeParsing) {
  for (const char* bad :
       {"2026-11-22T01:0Z", "2026-11-22T01:53Z", "2026-11-22T01:53:1Z", "2026-11-22T01:53:11.Z",
        "2026-11-22T01:53:11+2:00", "2026-11-22T01:53:11+02", "2026-11-22 01:53:11Z",
        "2026-11-22T01:53:11", "99999999999999999999", "-99999999999999999"}) {
    auto t = ParseTime(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_NE(t.error().message().find(bad), std::string::npos) << t.error().message();
    }
  }
  EXPECT_TRUE(ParseTime("2026-11-22t01:53:11z"));
  // Offsets beyond 23:59 and unix times outside 1970-9999 (printed as garbage before).
  for (const char* bad : {"2026-12-06T08:00:00+99:99", "2026-12-06T08:00:00+24:00",
                          "2026-12-06T08:00:00-00:60", "1000000000000000", "-1", "253402300800"}) {
    auto t = ParseTime(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_NE(t.error().message().find(bad), std::string::npos) << t.error().message();
    }
  }
  EXPECT_TRUE(ParseTime("2026-12-06T08:00:00+23:59"));
  EXPECT_TRUE(ParseTime("0"));
  auto last = ParseTime("253402300799");
  ASSERT_TRUE(last);
  EXPECT_EQ(FormatRfc3339(*last), "9999-12-31T23:59:59Z");
  auto nanos = ParseTime("2026-11-22T07:23:11.123456789+05:30");
  ASSERT_TRUE(nanos) << nanos.error().message();
  EXPECT_EQ(ToUnixMillis(*nanos), 1795312391123);
}

TEST(TimeTest, FormatsUtc) {
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795312391000)), "2026-11-22T01:53:11Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795312391250)), "2026-11-22T01:53:11.250Z");
}

// Rosters' shift starts and maintenance windows read times of day with one parser: HH:MM,
// 24:00 only where a window may end at midnight.
// The formatter without streams against the calendar library's own, which it replaced: the
// edges of days, months, leap years, the epoch, before it, and the last representable second.
TEST(TimeTest, AppendedTimesReadAsTheCalendarLibraryWritesThem) {
  for (std::int64_t ms : {0LL, 1LL, 999LL, 1763780400000LL, 1763780400250LL, 951782400123LL,
                          -1000LL, -1LL, 4102444799999LL, 951868799999LL, 951868800000LL,
                          -2208988800000LL, -62167219200000LL, 253402300799999LL}) {
    const TimePoint t = FromUnixMillis(ms);
    const std::string exact = date::format("%FT%TZ", t);  // always three digits
    const std::string whole = date::format("%FT%TZ", std::chrono::floor<seconds>(t));
    std::string out;
    AppendRfc3339(out, t);
    EXPECT_EQ(out, ms % 1000 == 0 ? whole : exact) << ms;
    EXPECT_EQ(FormatRfc3339(t), out) << ms;
    std::string millis = "x";
    AppendRfc3339(millis, t, /*always_millis=*/true);
    EXPECT_EQ(millis, "x" + exact) << ms;
  }
  // Outside 0000-9999 the calendar library writes it.
  const TimePoint far = FromUnixMillis(253402300800000LL);  // 10000-01-01
  EXPECT_EQ(FormatRfc3339(far), date::format("%FT%TZ", std::chrono::floor<seconds>(far)));
}

TEST(ParseClockTest, HoursAndMinutesAndMidnightOnlyAsAnEnd) {
  EXPECT_EQ(ParseClock("00:00"), 0);
  EXPECT_EQ(ParseClock("08:30"), 8 * 60 + 30);
  EXPECT_EQ(ParseClock("23:59"), 23 * 60 + 59);
  EXPECT_FALSE(ParseClock("24:00"));
  EXPECT_EQ(ParseClock("24:00", true), 24 * 60);
  for (const char* bad : {"24:01", "25:00", "12:60", "8:00", "08:0", "08-00", "0800", " 8:00",
                          "08:00 ", "+8:00", "-1:00", "ab:cd", ""}) {
    EXPECT_FALSE(ParseClock(bad, true)) << bad;
  }
}

}  // namespace
}  // namespace tocsin
