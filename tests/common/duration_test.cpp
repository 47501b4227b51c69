#include "tocsin/common/duration.h"

#include <gtest/gtest.h>

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
  auto nanos = ParseTime("2026-11-22T07:23:11.123456789+05:30");
  ASSERT_TRUE(nanos) << nanos.error().message();
  EXPECT_EQ(ToUnixMillis(*nanos), 1795312391123);
}

TEST(TimeTest, FormatsUtc) {
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795312391000)), "2026-11-22T01:53:11Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795312391250)), "2026-11-22T01:53:11.250Z");
}

}  // namespace
}  // namespace tocsin
