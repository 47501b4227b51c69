// Every validation rule of escalation_policies, incidents and store has a good and a bad
// fixture under tests/testdata/incident, loaded through LoadRuntimeConfig exactly as
// `tocsin check` and `tocsin serve` do. "# expect: LINE:COL: text" as in tests/config.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/fixtures.h"
#include "tocsin/app/runtime_config.h"

namespace tocsin::incident {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Fixtures(const std::string& sub) {
  return testing::FixtureFiles(std::string(TOCSIN_TESTDATA_DIR) + "/incident/" + sub);
}

TEST(PolicyConfigTest, GoodFixturesAndTheShippedConfigLoad) {
  auto files = Fixtures("good");
  files.push_back(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml");
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    ASSERT_TRUE(r.config.has_value()) << f << "\n" << r.diagnostics.ToString();
    EXPECT_FALSE(r.config->policies.policies.empty()) << f;
    EXPECT_TRUE(r.config->policies.Find("default")) << f;
  }
}

TEST(PolicyConfigTest, ShippedConfigHasTheDomainLadderAndNoRosterFindings) {
  auto r = app::LoadRuntimeConfig(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml", {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_TRUE(r.roster_findings.empty());
  const auto* p = r.config->policies.Find("default");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->steps.size(), 3u);
  EXPECT_EQ(p->steps[0].after, Duration(0));
  EXPECT_EQ(p->steps[1].after, std::chrono::minutes(5));
  EXPECT_EQ(p->steps[1].targets[0].role, "l2-{domain}");
  EXPECT_EQ(p->steps[1].targets[1].role, "comms");
  EXPECT_EQ(p->steps[2].after, std::chrono::minutes(10));
  EXPECT_EQ(p->steps[2].targets[0].role, "duty-manager");
  EXPECT_EQ(r.config->incidents.reminder_interval, std::chrono::minutes(15));
  EXPECT_EQ(r.config->store.path, "/var/lib/tocsin/tocsin.db");
}

TEST(PolicyConfigTest, GoodFullFixtureIsReadCompletely) {
  auto r = app::LoadRuntimeConfig(
      (fs::path(TOCSIN_TESTDATA_DIR) / "incident" / "good" / "full.yaml").string(), {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  const auto& p = *r.config->policies.Find("default");
  EXPECT_EQ(p.repeat, 2);
  EXPECT_EQ(p.repeat_after, std::chrono::minutes(10));
  EXPECT_EQ(p.ack_timeout, std::chrono::minutes(30));
  EXPECT_EQ(p.resolve, ResolveMode::kManual);
  EXPECT_EQ(p.steps[2].targets[3].rotation, "reserve");
  EXPECT_EQ(r.config->incidents.reopen_window, std::chrono::hours(1));
  EXPECT_FALSE(r.config->store.options.synchronous_full);
  EXPECT_EQ(r.config->store.path, "/tmp/tocsin-fixture-unused/state/tocsin.db");
}

// Warnings about people no configured channel reaches: the config loads, the warning names
// the person, the policy step and what to add.
std::vector<std::string> UnreachableWarnings(const app::RuntimeLoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics.items()) {
    if (d.message.find("no configured channel of that step can reach them") != std::string::npos) {
      out.push_back(d.position.ToString() + ": " + d.message);
    }
  }
  return out;
}

TEST(PolicyConfigTest, PersonNoConfiguredChannelReachesIsAWarning) {
  auto r = app::LoadRuntimeConfig(
      (fs::path(TOCSIN_TESTDATA_DIR) / "incident" / "warn" / "unreachable_person.yaml").string(),
      {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  auto warnings = UnreachableWarnings(r);
  ASSERT_FALSE(warnings.empty()) << r.diagnostics.ToString();
  bool l1b = false;
  for (const auto& w : warnings) {
    if (w.find("person \"l1b\"") == std::string::npos) continue;
    l1b = true;
    EXPECT_NE(w.find("roster.yaml:"), std::string::npos) << w;
    EXPECT_NE(w.find("step 1 of escalation policy \"default\""), std::string::npos) << w;
    EXPECT_NE(w.find("tried pagerduty"), std::string::npos) << w;
  }
  EXPECT_TRUE(l1b) << ::testing::PrintToString(warnings);
}

TEST(PolicyConfigTest, PersonOneConfiguredChannelReachesIsNoWarning) {
  auto r = app::LoadRuntimeConfig(
      (fs::path(TOCSIN_TESTDATA_DIR) / "incident" / "warn" / "reachable_person.yaml").string(), {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_TRUE(UnreachableWarnings(r).empty()) << r.diagnostics.ToString();
}

TEST(PolicyConfigTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 12u);
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_FALSE(r.config.has_value()) << f;
    auto expectations = testing::FixtureExpectations(f);
    EXPECT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    EXPECT_EQ(testing::MissingExpectations(f, r.diagnostics, expectations), "");
  }
}

}  // namespace
}  // namespace tocsin::incident
