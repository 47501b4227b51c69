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

// Attack finding: a quoted value dropped every backslash but the one of \n, so the silence
// `instance!~"db\d+"` was the expression dbd+ and muted the db hosts it was written to spare.
// Alertmanager (and amtool) keep a backslash that escapes nothing.
TEST(MatcherTest, ABackslashThatEscapesNothingIsKeptAsAlertmanagerKeepsIt) {
  EXPECT_EQ(M(R"(instance=~"db\d+")").value(), R"(db\d+)");
  EXPECT_EQ(M(R"(code=~'5\d\d')").value(), R"(5\d\d)");
  EXPECT_EQ(M(R"(instance=~db\d+)").value(), R"(db\d+)");  // bare: the same
  EXPECT_EQ(M(R"(path="C:\\temp")").value(), R"(C:\temp)");
  EXPECT_EQ(M(R"(q='it\'s')").value(), "it's");
  EXPECT_EQ(M(R"(q="line\n")").value(), "line\n");
  EXPECT_EQ(M(R"(q=end\)").value(), R"(end\)");
  // A comma ends a bare value even after a backslash: two matchers, as Alertmanager reads it.
  auto split = ParseMatchers(R"({path=a\,b="x"})");
  ASSERT_TRUE(split) << split.error().message();
  ASSERT_EQ(split->size(), 2u);
  EXPECT_EQ((*split)[0].value(), R"(a\)");
  EXPECT_EQ((*split)[1].value(), "x");
  Labels db1{{"instance", "db1"}};
  Labels web1{{"instance", "web1"}};
  EXPECT_FALSE(M(R"(instance!~"db\d+")").Matches(db1));
  EXPECT_TRUE(M(R"(instance!~"db\d+")").Matches(web1));
  // The text form the store keeps reads back the same.
  auto all = ParseMatchers(R"({instance=~"db\d+", path="C:\\temp"})");
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
