// Every roster validation rule has a good and a bad fixture under tests/testdata/oncall. A bad
// fixture states what it expects in "# expect: LINE:COL: text" comments.
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "tocsin/oncall/roster_loader.h"

namespace tocsin::oncall {
namespace {

std::vector<std::string> Fixtures(const std::string& sub) {
  return testing::FixtureFiles(std::string(TOCSIN_TESTDATA_DIR) + "/oncall/" + sub);
}

TEST(RosterFixtureTest, GoodFixturesAndTheShippedRosterLoadCleanly) {
  auto files = Fixtures("good");
  files.push_back(std::string(TOCSIN_SOURCE_DIR) + "/config/roster.yaml");
  for (const auto& f : files) {
    config::Diagnostics diags;
    auto r = LoadRoster(f, diags);
    EXPECT_TRUE(r.has_value()) << f << "\n" << diags.ToString();
    EXPECT_TRUE(diags.items().empty()) << f << "\n" << diags.ToString();
  }
}

TEST(RosterFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 10u);
  for (const auto& f : files) {
    config::Diagnostics diags;
    auto r = LoadRoster(f, diags);
    EXPECT_FALSE(r.has_value()) << f;
    auto expectations = testing::FixtureExpectations(f);
    EXPECT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    EXPECT_EQ(testing::MissingExpectations(f, diags, expectations), "");
    // One mistake, one error: nothing invented on top of what the fixture expects.
    EXPECT_EQ(diags.error_count(), expectations.size()) << f << "\n" << diags.ToString();
  }
}

}  // namespace
}  // namespace tocsin::oncall
