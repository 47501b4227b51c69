#include "tocsin/source/replay_source.h"

#include <gtest/gtest.h>

namespace tocsin::source {
namespace {

TimePoint At(int seconds) { return FromUnixMillis(seconds * 1000LL); }

TEST(ReplaySourceTest, AnswersTheLatestPointWithinTheLookback) {
  ReplaySource src("test", std::chrono::seconds(60));
  src.Add("q", Series{Labels{{"psp", "A"}}, {{At(0), 1}, {At(60), 2}}});
  src.Add("q", Series{Labels{{"psp", "B"}}, {{At(120), 5}}});
  auto r = src.Query("q", At(90));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->vector.size(), 1u);  // B has no point yet
  EXPECT_DOUBLE_EQ(r->vector[0].value, 2);
  // Past the lookback: no data, not the last value forever.
  auto late = src.Query("q", At(300));
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->vector.empty());
  EXPECT_TRUE(src.Query("unknown", At(0))->vector.empty());
}

TEST(ReplaySourceTest, InjectedOutageFailsOnlyInsideItsPeriod) {
  ReplaySource src("test");
  src.FailBetween(At(10), At(20));
  EXPECT_TRUE(src.Query("q", At(9)));
  EXPECT_FALSE(src.Query("q", At(10)));
  EXPECT_EQ(src.Query("q", At(19)).error().kind(), Error::Kind::kTransient);
  EXPECT_TRUE(src.Query("q", At(20)));
}

TEST(ReplaySourceTest, RangeQueryReturnsAMatrix) {
  ReplaySource src("test", std::chrono::seconds(1));
  src.Add("q", Series{Labels{{"a", "1"}}, {{At(0), 1}, {At(10), 2}, {At(20), 3}}});
  auto r = src.QueryRange("q", At(0), At(20), std::chrono::seconds(10));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->matrix.size(), 1u);
  EXPECT_EQ(r->matrix[0].points.size(), 3u);
}

}  // namespace
}  // namespace tocsin::source
