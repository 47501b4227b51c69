#include "tocsin/notify/runbook.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tocsin::notify {
namespace {

config::Position RuleAt() { return {"rules/payments.yaml", 12, 7}; }

TEST(ValidateRunbook, CompleteRunbookPasses) {
  config::Diagnostics d;
  EXPECT_TRUE(ValidateRunbook(std::string(TOCSIN_TESTDATA_DIR) + "/runbooks/good/complete.md",
                              RuleAt(), d));
  EXPECT_FALSE(d.has_errors()) << d.ToString();
}

TEST(ValidateRunbook, MissingFileIsAnErrorAtTheRuleNamingTheFile) {
  config::Diagnostics d;
  EXPECT_FALSE(ValidateRunbook("runbooks/nope.md", RuleAt(), d));
  ASSERT_EQ(d.error_count(), 1u);
  std::string msg = d.ToString();
  EXPECT_NE(msg.find("rules/payments.yaml:12:7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("runbooks/nope.md does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("docs/runbooks.md"), std::string::npos) << msg;
}

TEST(ValidateRunbook, EachMissingSectionIsNamedWithWhatToAdd) {
  config::Diagnostics d;
  std::string path = std::string(TOCSIN_TESTDATA_DIR) + "/runbooks/bad/missing_two_sections.md";
  EXPECT_FALSE(ValidateRunbook(path, RuleAt(), d));
  ASSERT_EQ(d.error_count(), 2u) << d.ToString();
  EXPECT_NE(d.items()[0].message.find("lacks the section \"## Escalation\""), std::string::npos);
  EXPECT_NE(d.items()[0].message.find("24x7"), std::string::npos);
  EXPECT_NE(d.items()[1].message.find("\"## Comms\""), std::string::npos);
}

TEST(RunbookPath, AnnotationNamesAFileUnderTheRunbookDir) {
  EXPECT_EQ(RunbookPath("/etc/tocsin/runbooks", "deposit-psp"),
            "/etc/tocsin/runbooks/deposit-psp.md");
  EXPECT_EQ(RunbookPath("/etc/tocsin/runbooks", "deposit-psp.md"),
            "/etc/tocsin/runbooks/deposit-psp.md");
  EXPECT_EQ(RunbookPath("/r", "https://wiki.example.com/login"), "https://wiki.example.com/login");
}

TEST(ValidateRunbook, UrlsAreNotChecked) {
  config::Diagnostics d;
  EXPECT_TRUE(ValidateRunbook("https://wiki.example.com/runbooks/login", RuleAt(), d));
}

// The runbooks tocsin ships, one per example rule, all follow the template.
TEST(ValidateRunbook, EveryShippedRunbookIsComplete) {
  const std::vector<std::string> names = {"login.md",
                                          "deposit-psp.md",
                                          "ws-rtt.md",
                                          "game-launch.md",
                                          "ttfs.md",
                                          "db-conn-saturation.md",
                                          "queue-lag.md",
                                          "psp-timeout.md",
                                          "provider-launch-latency.md",
                                          "tocsin-source-down.md"};
  for (const auto& n : names) {
    config::Diagnostics d;
    EXPECT_TRUE(ValidateRunbook(std::string(TOCSIN_SOURCE_DIR) + "/runbooks/" + n, RuleAt(), d))
        << d.ToString();
  }
}

}  // namespace
}  // namespace tocsin::notify
