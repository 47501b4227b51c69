#include "tocsin/notify/notify_config.h"

#include "notify/providers/email/smtp_tls_policy.h"

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
  EXPECT_EQ(c.LimitFor(incident::Channel::kPagerDuty).events, 120);
  EXPECT_EQ(c.LimitFor(incident::Channel::kPagerDuty).per, std::chrono::minutes(1));
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
  EXPECT_EQ(c.LimitFor(incident::Channel::kPagerDuty).events, 100);
  EXPECT_EQ(c.LimitFor(incident::Channel::kSlack).per, std::chrono::seconds(1));
  ASSERT_TRUE(c.status_page);
  EXPECT_EQ(c.status_page->url, "https://status.example.com/hooks/tocsin");
  EXPECT_EQ(c.status_page->token, "secret-status-token-123");  // from token_file, trimmed
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
                                           BadCase{"failover_unknown_provider.yaml", "slack", 3},
                                           BadCase{"status_page_no_url.yaml", "url", 2},
                                           BadCase{"status_page_bad_url.yaml", "url", 2},
                                           BadCase{"status_page_unknown_key.yaml", "tokn", 2}));

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
                      BadCase{"pagerduty_token_without_from.yaml",
                              "e-mail address of a PagerDuty user is required", 4},
                      BadCase{"pagerduty_token_without_requester.yaml",
                              "requester_id: the PagerDuty user id", 4},
                      BadCase{"pagerduty_from_without_token.yaml", "only used with api_token", 4},
                      BadCase{"opsgenie_v2_path.yaml", "appends /v2/", 3},
                      BadCase{"email_from_not_an_address.yaml", "an address", 4},
                      BadCase{"email_starttls_off_remote.yaml",
                              "off is allowed only for an SMTP server on this host", 5},
                      BadCase{"email_opportunistic_with_password_remote.yaml",
                              "would send the password in clear text", 7},
                      BadCase{"email_starttls_with_smtps.yaml", "applies to smtp:// only", 5},
                      BadCase{"email_credentials_in_url.yaml", "not in the URL", 3},
                      BadCase{"email_password_without_username.yaml", "give username too", 5}));

TEST(ValidateProviders, EmailTlsOptOutOnLoopbackIsAccepted) {
  auto d = CheckProviders("good/email_loopback_relay.yaml");
  EXPECT_TRUE(d.items().empty()) << d.ToString();
}

TEST(ValidateProviders, EmailWithCredentialsAndPrivateCaIsAccepted) {
  auto loaded = config::LoadConfig(std::string(TOCSIN_TESTDATA_DIR) +
                                   "/notify/providers/good/email_submission.yaml");
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  const auto& email = *loaded.config->providers.email;
  EXPECT_FALSE(email.starttls.has_value());
  EXPECT_EQ(EffectiveStartTls(email), config::SmtpStartTls::kRequired);
  // Resolved against the config file's directory.
  EXPECT_EQ(email.tls_ca_file,
            std::string(TOCSIN_TESTDATA_DIR) + "/notify/providers/good/private_ca.pem");
  config::Diagnostics d;
  ValidateProviders(*loaded.config, d);
  EXPECT_TRUE(d.items().empty()) << d.ToString();
}

TEST(ValidateProviders, EmailWithoutCredentialsDefaultsToOpportunisticTls) {
  auto loaded =
      config::LoadConfigString("t.yaml",
                               "providers:\n  email:\n    smtp_url: smtp://mail.example.com:25\n"
                               "    from: tocsin@example.com\n");
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  EXPECT_EQ(EffectiveStartTls(*loaded.config->providers.email),
            config::SmtpStartTls::kOpportunistic);
}

TEST(ValidateProviders, EmailCaFileThatDoesNotExistIsAnError) {
  auto loaded = config::LoadConfigString(
      "t.yaml",
      "providers:\n  email:\n    smtp_url: smtp://mail.example.com:587\n"
      "    from: tocsin@example.com\n    tls_ca_file: /nonexistent/ca.pem\n");
  EXPECT_FALSE(loaded.config);
  EXPECT_NE(loaded.diagnostics.ToString().find("t.yaml:5:"), std::string::npos)
      << loaded.diagnostics.ToString();
  EXPECT_NE(loaded.diagnostics.ToString().find("/nonexistent/ca.pem does not exist"),
            std::string::npos)
      << loaded.diagnostics.ToString();
}

TEST(SmtpUrlHost, FindsTheHostBehindPortsBracketsAndCase) {
  EXPECT_EQ(SmtpUrlHost("smtp://Mail.Example.com:587"), "mail.example.com");
  EXPECT_EQ(SmtpUrlHost("smtp://[::1]:25"), "::1");
  EXPECT_EQ(SmtpUrlHost("smtps://127.0.0.2"), "127.0.0.2");
  EXPECT_EQ(SmtpUrlHost("smtp://u:p@10.0.0.1:25/helo"), "10.0.0.1");
  EXPECT_TRUE(IsLoopbackHost("127.9.9.9"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("::2"));
}

TEST(ValidateProviders, PagerDutyRestOnTheEuHostWithRoleKeysIsAccepted) {
  auto loaded = config::LoadConfig(std::string(TOCSIN_TESTDATA_DIR) +
                                   "/notify/providers/good/pagerduty_rest_eu.yaml");
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  const auto& pd = *loaded.config->providers.pagerduty;
  EXPECT_EQ(pd.api_token, "u+abcdefghijklmnopqr") << "read from the file, trailing newline cut";
  ASSERT_EQ(pd.role_routing_keys.size(), 1u);
  EXPECT_EQ(pd.role_routing_keys[0].first, "comms");
  config::Diagnostics d;
  ValidateProviders(*loaded.config, d);
  EXPECT_TRUE(d.items().empty()) << d.ToString();
}

TEST(ValidateProviders, PagerDutyRoleRoutingKeyOfTheWrongLengthIsAnErrorNamingTheRole) {
  auto loaded = config::LoadConfigString(
      "t.yaml",
      "providers:\n  pagerduty:\n    routing_key: 0123456789abcdef0123456789abcdef\n"
      "    role_routing_keys:\n      comms: tooshort\n");
  EXPECT_FALSE(loaded.config);
  std::string all = loaded.diagnostics.ToString();
  EXPECT_NE(all.find("t.yaml:5:"), std::string::npos) << all;
  EXPECT_NE(all.find("role \"comms\" has 8 characters"), std::string::npos) << all;
  EXPECT_EQ(all.find("tooshort"), std::string::npos) << "a routing key is a secret: " << all;
}

// docs/notifications.md shows the PagerDuty and Opsgenie configuration a team copies: it must
// load and pass the provider checks as printed.
TEST(ValidateProviders, DocsPagerDutyExampleIsValid) {
  std::ifstream in(std::string(TOCSIN_SOURCE_DIR) + "/docs/notifications.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  auto section = doc.find("## PagerDuty: every person of every step");
  ASSERT_NE(section, std::string::npos);
  auto begin = doc.find("```yaml\n", section);
  ASSERT_NE(begin, std::string::npos);
  begin += 8;
  std::string yaml = doc.substr(begin, doc.find("```", begin) - begin);
  // The role keys example continues the same mapping.
  auto roles = doc.find("```yaml\n", begin);
  ASSERT_NE(roles, std::string::npos);
  roles += 8;
  yaml += doc.substr(roles, doc.find("```", roles) - roles);
  for (const char* v : {"PAGERDUTY_ROUTING_KEY", "PAGERDUTY_KEY_L2_PAYMENTS", "PAGERDUTY_KEY_COMMS",
                        "PAGERDUTY_KEY_DUTY_MANAGER"}) {
    ::setenv(v, "0123456789abcdef0123456789abcdef", 1);
  }
  ::setenv("PAGERDUTY_WEBHOOK_SECRET", "whsec-0123456789", 1);
  ::setenv("PAGERDUTY_API_TOKEN", "u+abcdefghijklmnopqr", 1);
  std::string path = ::testing::TempDir() + "/docs_pagerduty.yaml";
  std::ofstream(path) << yaml;
  auto loaded = config::LoadConfig(path);
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString() << "\n" << yaml;
  EXPECT_EQ(loaded.config->providers.pagerduty->role_routing_keys.size(), 3u);
  config::Diagnostics d;
  ValidateProviders(*loaded.config, d);
  EXPECT_TRUE(d.items().empty()) << d.ToString();
}

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
