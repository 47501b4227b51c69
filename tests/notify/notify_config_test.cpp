#include "tocsin/notify/notify_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tocsin::notify {
namespace {

using incident::Channel;

NotifyConfig Load(const std::string& name, config::Diagnostics& d) {
  std::string path = std::string(TOCSIN_TESTDATA_DIR) + "/notify/" + name;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto loaded = config::LoadConfigString(path, ss.str());
  EXPECT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  if (!loaded.config) return {};
  return ParseNotifyConfig(*loaded.config, d);
}

TEST(NotifyConfig, DefaultsWithoutASection) {
  auto loaded = config::LoadConfigString("t.yaml", "{}\n");
  ASSERT_TRUE(loaded.config);
  config::Diagnostics d;
  NotifyConfig c = ParseNotifyConfig(*loaded.config, d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(c.pagerduty.events, 120);
  EXPECT_EQ(c.pagerduty.per, std::chrono::minutes(1));
  EXPECT_EQ(c.FailoverFor(Channel::kPagerDuty), Channel::kOpsgenie);
  EXPECT_EQ(c.FailoverFor(Channel::kOpsgenie), Channel::kPagerDuty);
}

TEST(NotifyConfig, GoodFixtureReadsEveryKey) {
  config::Diagnostics d;
  NotifyConfig c = Load("good/full.yaml", d);
  EXPECT_FALSE(d.has_errors()) << d.ToString();
  EXPECT_NE(c.templates_dir.find("notify/good/templates"), std::string::npos);
  EXPECT_EQ(c.initial_backoff, std::chrono::seconds(2));
  EXPECT_EQ(c.max_backoff, std::chrono::minutes(10));
  EXPECT_DOUBLE_EQ(c.jitter, 0.1);
  EXPECT_EQ(c.give_up_after, std::chrono::hours(12));
  EXPECT_EQ(c.failover_after, std::chrono::minutes(5));
  EXPECT_EQ(c.FailoverFor(Channel::kPagerDuty), Channel::kOpsgenie);
  EXPECT_EQ(c.FailoverFor(Channel::kOpsgenie), std::nullopt);
  EXPECT_EQ(c.probe_interval, std::chrono::minutes(1));
  EXPECT_EQ(c.heartbeat_interval, std::chrono::minutes(2));
  EXPECT_EQ(c.max_in_flight, 4u);
  EXPECT_EQ(c.pagerduty.events, 100);
  EXPECT_EQ(c.slack.per, std::chrono::seconds(1));
}

struct BadCase {
  std::string file;
  std::string expected;  // part of the message
  int line;
};

class NotifyConfigBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(NotifyConfigBad, IsAnErrorWithFileLineAndWhy) {
  config::Diagnostics d;
  Load("bad/" + GetParam().file, d);
  ASSERT_TRUE(d.has_errors()) << GetParam().file;
  std::string all = d.ToString();
  EXPECT_NE(all.find(GetParam().expected), std::string::npos) << all;
  EXPECT_NE(all.find(GetParam().file + ":" + std::to_string(GetParam().line) + ":"),
            std::string::npos)
      << all;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NotifyConfigBad,
                         ::testing::Values(BadCase{"unknown_key.yaml", "failover_after", 2},
                                           BadCase{"failover_to_itself.yaml",
                                                   "cannot fail over to itself", 3},
                                           BadCase{"bad_jitter.yaml", "between 0 and 1", 2},
                                           BadCase{"bad_rate_limit.yaml", "longer than 0s", 3},
                                           BadCase{"failover_unknown_provider.yaml", "slack", 3}));

config::Diagnostics CheckProviders(const std::string& name) {
  auto loaded = config::LoadConfig(std::string(TOCSIN_TESTDATA_DIR) + "/notify/providers/" + name);
  EXPECT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  config::Diagnostics d;
  if (loaded.config) ValidateProviders(*loaded.config, d);
  return d;
}

TEST(ValidateProviders, GoodFixtureHasNoFinding) {
  auto d = CheckProviders("good/all.yaml");
  EXPECT_TRUE(d.items().empty()) << d.ToString();
}

class ProvidersBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProvidersBad, IsAnErrorAtTheKey) {
  auto d = CheckProviders("bad/" + GetParam().file);
  ASSERT_TRUE(d.has_errors()) << GetParam().file;
  std::string all = d.ToString();
  EXPECT_NE(all.find(GetParam().expected), std::string::npos) << all;
  EXPECT_NE(all.find(GetParam().file + ":" + std::to_string(GetParam().line) + ":"),
            std::string::npos)
      << all;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ProvidersBad,
    ::testing::Values(BadCase{"slack_bot_without_channel.yaml", "required with bot_token", 3},
                      BadCase{"pagerduty_full_endpoint.yaml", "appends /v2/enqueue", 3},
                      BadCase{"opsgenie_v2_path.yaml", "appends /v2/", 3},
                      BadCase{"email_from_not_an_address.yaml", "an address", 4}));

TEST(ValidateProviders, UnusualOpsgenieHostIsOnlyAWarning) {
  auto loaded = config::LoadConfigString(
      "t.yaml", "providers:\n  opsgenie:\n    api_url: http://127.0.0.1:8080\n    api_key: k\n");
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  config::Diagnostics d;
  ValidateProviders(*loaded.config, d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(d.warning_count(), 1u);
}

}  // namespace
}  // namespace tocsin::notify
