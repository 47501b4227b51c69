#include "tocsin/dispatch/matcher.h"

#include <gtest/gtest.h>

namespace tocsin::dispatch {
namespace {

Matcher M(std::string_view text) {
  auto m = Matcher::Parse(text);
  EXPECT_TRUE(m) << text << ": " << m.error().message();
  return *m;
}

TEST(MatcherTest, FourOperatorsAgainstLabels) {
  Labels l{{"severity", "critical"}, {"service", "payments"}};
  EXPECT_TRUE(M("severity=\"critical\"").Matches(l));
  EXPECT_FALSE(M("severity=\"warning\"").Matches(l));
  EXPECT_TRUE(M("severity!=\"warning\"").Matches(l));
  EXPECT_FALSE(M("severity!=\"critical\"").Matches(l));
  EXPECT_TRUE(M("service=~\"pay.*\"").Matches(l));
  EXPECT_FALSE(M("service!~\"pay.*\"").Matches(l));
  EXPECT_TRUE(M("service!~\"bet.*\"").Matches(l));
}

TEST(MatcherTest, RegexIsAnchoredLikeAlertmanager) {
  Labels l{{"service", "payments-eu"}};
  EXPECT_FALSE(M("service=~\"pay\"").Matches(l));
  EXPECT_FALSE(M("service=~\"eu\"").Matches(l));
  EXPECT_TRUE(M("service=~\"pay.*|bet\"").Matches(l));
  // Alternation must not escape the anchors: "a|b" means ^(a|b)$, not ^a|b$.
  EXPECT_FALSE(M("service=~\"x|pay\"").Matches(l));
}

TEST(MatcherTest, MissingLabelMatchesAsEmpty) {
  Labels l{{"alertname", "X"}};
  EXPECT_TRUE(M("region=\"\"").Matches(l));
  EXPECT_TRUE(M("region!=\"eu\"").Matches(l));
  EXPECT_FALSE(M("region=~\".+\"").Matches(l));
}

TEST(MatcherTest, UnquotedValuesAndEscapes) {
  EXPECT_EQ(M("severity=critical").value(), "critical");
  EXPECT_EQ(M("summary=\"say \\\"hi\\\"\"").value(), "say \"hi\"");
  EXPECT_EQ(M("a=~\"x.*\"").ToString(), "a=~\"x.*\"");
  // Round trip through the text form the SQLite store keeps.
  auto all = ParseMatchers("{a=\"1\", b!~\"x|y\", c=\"q\\\"uote\"}");
  ASSERT_TRUE(all);
  auto again = ParseMatchers(MatchersToString(*all));
  ASSERT_TRUE(again);
  EXPECT_EQ(*all, *again);
}

TEST(MatcherTest, BrokenMatchersSayWhatToFix) {
  auto no_op = Matcher::Parse("severity");
  ASSERT_FALSE(no_op);
  EXPECT_NE(no_op.error().message().find("expected an operator"), std::string::npos);
  auto bad_re = Matcher::Parse("service=~\"(pay\"");
  ASSERT_FALSE(bad_re);
  EXPECT_NE(bad_re.error().message().find("invalid regular expression"), std::string::npos);
  auto bad_name = Matcher::Parse("1abc=\"x\"");
  ASSERT_FALSE(bad_name);
  EXPECT_NE(bad_name.error().message().find("invalid label name"), std::string::npos);
  EXPECT_FALSE(Matcher::Parse("a=\"unterminated"));
  EXPECT_FALSE(Matcher::Parse("a=\"x\" b=\"y\""));
  EXPECT_FALSE(ParseMatchers("{a=\"x\""));
}

}  // namespace
}  // namespace tocsin::dispatch
