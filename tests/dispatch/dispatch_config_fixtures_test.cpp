// Every dispatch validation rule has a good and a bad fixture under tests/testdata/dispatch. A
// bad fixture states what it expects in "# expect: LINE:COL: text" comments; loading must report
// an error at exactly that position containing that text, and nothing else.
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "tocsin/app/runtime_config.h"

namespace tocsin::dispatch {
namespace {

std::vector<std::string> Fixtures(const std::string& sub) {
  return testing::FixtureFiles(std::string(TOCSIN_TESTDATA_DIR) + "/dispatch/" + sub);
}

TEST(DispatchConfigFixtureTest, GoodFixturesLoadWithoutDiagnostics) {
  auto files = Fixtures("good");
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_TRUE(r.config.has_value()) << f << "\n" << r.diagnostics.ToString();
    EXPECT_TRUE(r.diagnostics.items().empty()) << f << "\n" << r.diagnostics.ToString();
  }
}

TEST(DispatchConfigFixtureTest, ShippedConfigRoutesCriticalToThePolicyAndWarningsToSlack) {
  auto r = app::LoadRuntimeConfig(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml", {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  const auto& d = r.config->dispatch;
  for (const auto& rc : d.receivers) {
    bool critical = rc.name.find("critical") != std::string::npos;
    EXPECT_EQ(rc.escalation_policy.empty(), !critical) << rc.name;
    // Paging receivers reach people through the incident; the others only through notices.
    EXPECT_EQ(rc.notices.empty(), critical) << rc.name;
  }
}

TEST(DispatchConfigFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 9u);
  for (const auto& f : files) {
    auto expectations = testing::FixtureExpectations(f);
    ASSERT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_FALSE(r.config.has_value()) << f;
    EXPECT_EQ(testing::MissingExpectations(f, r.diagnostics, expectations), "");
    EXPECT_EQ(r.diagnostics.error_count(), expectations.size())
        << f << ": every error should be expected:\n"
        << r.diagnostics.ToString();
  }
}

}  // namespace
}  // namespace tocsin::dispatch
