// Every validation rule has a good and a bad fixture under tests/testdata/config, loaded the
// way check/serve/reload load them (LoadRuntimeConfig, every module section included). A bad
// fixture states what it expects in "# expect: LINE:COL: text" comments; the loader must report
// an error at exactly that position containing that text, and must not produce a config.
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/fixtures.h"
#include "support/temp_dir.h"
#include "tocsin/app/runtime_config.h"

namespace tocsin::config {
namespace {

std::vector<std::string> Fixtures(const std::string& sub) {
  return testing::FixtureFiles(std::string(TOCSIN_TESTDATA_DIR) + "/config/" + sub);
}

class ConfigFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TOCSIN_TEST_BEARER", "bearer-token-from-env", 1);
    ::unsetenv("TOCSIN_TEST_UNSET_VARIABLE");
  }
};

TEST_F(ConfigFixtureTest, GoodFixturesLoadWithoutDiagnostics) {
  auto files = Fixtures("good");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_TRUE(r.config.has_value()) << f << "\n" << r.diagnostics.ToString();
    EXPECT_TRUE(r.diagnostics.items().empty()) << f << "\n" << r.diagnostics.ToString();
  }
}

TEST_F(ConfigFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 15u);
  for (const auto& f : files) {
    auto expectations = testing::FixtureExpectations(f);
    ASSERT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_FALSE(r.config.has_value()) << f;
    EXPECT_FALSE(r.io_error) << f;
    EXPECT_EQ(testing::MissingExpectations(f, r.diagnostics, expectations), "");
    EXPECT_EQ(r.diagnostics.error_count(), expectations.size())
        << f << ": every error should be expected:\n"
        << r.diagnostics.ToString();
  }
}

}  // namespace
}  // namespace tocsin::config

namespace tocsin::config {
namespace {

// A receiver that e-mails while no e-mail provider is configured was accepted without a word
// (issue 13): the notices would never be sent.
TEST(ConfigCrossCheckTest, NoticeWithoutItsProviderIsWarnedAtTheNotice) {
  testing::TempDir dir;
  auto file = dir.Write("tocsin.yaml", R"(route: {receiver: ops}
receivers:
  - name: ops
    email: [{to: ops@example.com}]
)");
  auto r = app::LoadRuntimeConfig(file, {});
  ASSERT_TRUE(r.config.has_value()) << r.diagnostics.ToString();
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.ToString();
  EXPECT_EQ(r.diagnostics.items()[0].ToString(),
            file +
                ":4:12: warning: receivers[0].email: no providers.email is configured, so "
                "these notices are never sent (configure providers.email, or remove them)");
}

}  // namespace
}  // namespace tocsin::config
