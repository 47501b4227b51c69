#include "tocsin/dispatch/fast_time.h"

#include <gtest/gtest.h>

#include "tocsin/common/duration.h"

namespace tocsin::dispatch {
namespace {

TEST(FastTimeTest, AgreesWithTheGeneralParser) {
  for (const char* s :
       {"2026-11-22T03:00:00Z", "2026-11-22T02:26:53.746Z", "2026-03-29T03:30:00+03:00",
        "1999-12-31T23:59:59.5-05:30", "2024-02-29T00:00:00.001Z", "1970-01-01T00:00:00Z",
        "2000-02-29T12:00:00Z", "2100-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z",
        "1900-03-01T00:00:00Z", "2026-01-01T00:30:00+01:00"}) {
    auto fast = ParseRfc3339Fast(s);
    auto slow = ParseTime(s);
    ASSERT_TRUE(fast) << s;
    ASSERT_TRUE(slow) << s;
    EXPECT_EQ(*fast, *slow) << s;
  }
}

// Prometheus sends nanoseconds; tocsin keeps milliseconds (truncated). The general ParseTime
// in common rejects more than 6 fractional digits, so the API must not rely on it for these.
TEST(FastTimeTest, AcceptsPrometheusNanoseconds) {
  auto t = ParseRfc3339Fast("2026-11-22T02:26:53.746347063Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, *ParseTime("2026-11-22T02:26:53.746Z"));
  EXPECT_EQ(*ParseRfc3339Fast("2026-11-22t03:00:00z"), *ParseTime("2026-11-22T03:00:00Z"));
}

TEST(FastTimeTest, RejectsWhatItDoesNotFullyUnderstand) {
  for (const char* s : {"", "yesterday", "2026-11-22", "2026-11-22T03:00:00",
                        "2026-13-01T00:00:00Z", "2026-11-22T03:00:00.Z", "2026-11-22T03:00:00+0300",
                        "2026-11-22T03:00:00Zx", "1700000000"}) {
    EXPECT_FALSE(ParseRfc3339Fast(s)) << s;
  }
}

// Days a month does not have are the general parser's to refuse; the fast path once rolled
// 2023-02-29 over into March 1st without a word.
TEST(FastTimeTest, LeavesDaysTheMonthDoesNotHaveToTheGeneralParser) {
  for (const char* s : {"2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                        "2026-02-30T12:00:00+01:00", "2026-11-00T00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339Fast(s)) << s;
  }
  EXPECT_TRUE(ParseRfc3339Fast("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339Fast("2000-02-29T00:00:00Z"));
}

TEST(FastTimeTest, FormatsLikeFormatRfc3339) {
  for (std::int64_t ms :
       {0LL, 1LL, 999LL, 1763780400000LL, 1763780400250LL, 951782400123LL, -1000LL, 4102444799999LL,
        951868799999LL, 951868800000LL, -2208988800000LL, 253402300799999LL}) {
    std::string out;
    AppendRfc3339(out, FromUnixMillis(ms));
    EXPECT_EQ(out, FormatRfc3339(FromUnixMillis(ms))) << ms;
  }
}

}  // namespace
}  // namespace tocsin::dispatch
