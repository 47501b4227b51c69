#include "tocsin/config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/temp_dir.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/log.h"

namespace tocsin::config {
namespace {

TEST(ConfigTest, DefaultsWhenEmpty) {
  auto r = LoadConfigString("/etc/tocsin/tocsin.yaml", "{}\n");
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_EQ(r.config->server.listen, "127.0.0.1:9095");
  EXPECT_EQ(r.config->server.external_url, "http://127.0.0.1:9095");
  EXPECT_EQ(r.config->data_dir, "/var/lib/tocsin");
  EXPECT_EQ(r.config->runbook_dir, "/etc/tocsin/runbooks");
  EXPECT_EQ(r.config->log.format, LogFormat::kText);
}

TEST(ConfigTest, FlagsOverrideTheFile) {
  auto r = LoadConfigString("t.yaml", "server: {listen: '127.0.0.1:9095'}\ndata_dir: /a\n",
                            Overrides{"0.0.0.0:19095", "/b"});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_EQ(r.config->server.listen, "0.0.0.0:19095");
  EXPECT_EQ(r.config->data_dir, "/b");
}

TEST(ConfigTest, BadListenFlagIsAnError) {
  auto r = LoadConfigString("t.yaml", "{}\n", Overrides{"nonsense", std::nullopt});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.diagnostics.ToString().find("--listen"), std::string::npos);
}

// Notepad's "Unicode" and Windows PowerShell's `>` write UTF-16 with a byte-order mark: said as
// such, at 1:1, not as a stray byte; the same text in UTF-8 (a UTF-8 mark included) is read.
TEST(ConfigTest, AUtf16FileIsNamedAsSuch) {
  const std::string utf8 = "data_dir: /a\n";
  for (const std::string& mark : {std::string("\xFF\xFE"), std::string("\xFE\xFF")}) {
    std::string utf16 = mark;
    for (char c : utf8) {
      utf16 += mark[0] == '\xFF' ? std::string{c, '\0'} : std::string{'\0', c};
    }
    auto r = LoadConfigString("t.yaml", utf16);
    EXPECT_FALSE(r.config);
    EXPECT_NE(r.diagnostics.ToString().find(
                  "t.yaml:1:1: error: the file is UTF-16 (it starts with a UTF-16 byte-order "
                  "mark): save it as UTF-8"),
              std::string::npos)
        << r.diagnostics.ToString();
  }
  // Without a mark, the NUL bytes give it away (at the first one: 1:2 in UTF-16LE).
  std::string unmarked;
  for (char c : utf8) unmarked += std::string{c, '\0'};
  auto nul = LoadConfigString("t.yaml", unmarked);
  EXPECT_FALSE(nul.config);
  EXPECT_NE(nul.diagnostics.ToString().find("t.yaml:1:2: error: a NUL byte: the file may be "
                                            "UTF-16 without a byte-order mark"),
            std::string::npos)
      << nul.diagnostics.ToString();
  auto r = LoadConfigString("t.yaml", "\xEF\xBB\xBF" + utf8);
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_EQ(r.config->data_dir, "/a");
}

TEST(ConfigTest, EnvExpansionAndSecretFilesAreRedactedFromLogs) {
  testing::TempDir dir;
  dir.Write("routing_key", "0123456789abcdef0123456789abcdef\n");
  ::setenv("TOCSIN_TEST_SLACK_TOKEN", "xoxb-env-supplied-token", 1);
  std::string path = dir.Write("tocsin.yaml", R"(
providers:
  pagerduty:
    routing_key_file: routing_key
  slack:
    bot_token: ${TOCSIN_TEST_SLACK_TOKEN}
)");
  auto r = LoadConfig(path);
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_EQ(r.config->providers.pagerduty->routing_key, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.config->providers.slack->bot_token, "xoxb-env-supplied-token");
  EXPECT_EQ(log::Redact("key=0123456789abcdef0123456789abcdef token=xoxb-env-supplied-token"),
            "key=<redacted> token=<redacted>");
  log::ClearSecrets();
}

TEST(ConfigTest, MissingFileIsAnIoError) {
  auto r = LoadConfig("/nonexistent/tocsin.yaml");
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(r.io_error);
  EXPECT_NE(r.diagnostics.ToString().find("/nonexistent/tocsin.yaml"), std::string::npos);
}

TEST(ConfigTest, ShippedExampleIsValid) {
  auto r = LoadConfig(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml");
  EXPECT_TRUE(r.config) << r.diagnostics.ToString();
}

TEST(ListenAddressTest, Parses) {
  std::string host, err;
  unsigned short port = 0;
  ASSERT_TRUE(ParseListenAddress(":9095", &host, &port, &err));
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9095);
  ASSERT_TRUE(ParseListenAddress("[::1]:80", &host, &port, &err));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseListenAddress("9095", &host, &port, &err));
  EXPECT_FALSE(ParseListenAddress("h:x", &host, &port, &err));
}

// Found by fuzz_config_yaml: a provider section that is not a mapping is still "configured"
// (its loader reported the error), and the provider checks then asked the scalar for a key,
// which yaml-cpp answers by throwing: `tocsin check` died instead of printing the error.
TEST(CrossCheckTest, AProviderSectionThatIsNotAMappingIsAnErrorNotACrash) {
  testing::TempDir dir;
  std::string cfg = dir.Write("tocsin.yaml", "providers:\n  webhook: oops\n");
  auto r = app::LoadRuntimeConfig(cfg, {});
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.diagnostics.ToString().find("tocsin.yaml:2:"), std::string::npos)
      << r.diagnostics.ToString();
  EXPECT_NE(r.diagnostics.ToString().find("providers.webhook"), std::string::npos)
      << r.diagnostics.ToString();
}

}  // namespace
}  // namespace tocsin::config

namespace tocsin::config {
namespace {

// Whole-config check: a paging rule's runbook must have every section of the template.
TEST(CrossCheckTest, PagingRuleWithAnIncompleteRunbookIsAnError) {
  testing::TempDir dir;
  dir.Write("runbooks/deposit-psp.md",
            "# Deposits\n## Detect\nx\n## Quick checks\nx\n## Temporary measures\nx\n");
  std::string rules = dir.Write("rules/payments.yaml", R"(groups:
  - name: payments
    source: prometheus
    rules:
      - alert: deposit_errors
        expr: sum(rate(dep_total{outcome="error"}[5m]))
        op: ">"
        threshold: 1
        kind: symptom
        severity: critical
        service: payments-api
        domain: payments
        runbook: deposit-psp.md
)");
  std::string cfg = dir.Write("tocsin.yaml", R"(
rule_files: [rules/*.yaml]
sources: [{name: prometheus, url: "http://127.0.0.1:9090"}]
)");
  auto r = app::LoadRuntimeConfig(cfg, {});
  EXPECT_FALSE(r.config);
  bool found = false;
  for (const auto& d : r.diagnostics.items()) {
    if (d.severity == Diagnostic::Severity::kError && d.position.file == rules &&
        d.position.line == 5 && d.message.find("Escalation") != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << r.diagnostics.ToString();

  dir.Write("runbooks/deposit-psp.md",
            "# Deposits\n## Detect\nx\n## Quick checks\nx\n## Temporary measures\nx\n"
            "## Escalation\nx\n## Green-zone criteria\nx\n## Comms\nx\n");
  auto fixed = app::LoadRuntimeConfig(cfg, {});
  EXPECT_TRUE(fixed.config) << fixed.diagnostics.ToString();
}

TEST(CrossCheckTest, PagingReceiverWithNoticesIsAWarning) {
  testing::TempDir dir;
  std::string cfg = dir.Write("tocsin.yaml", R"(
route: {receiver: pager}
receivers:
  - {name: pager, escalation_policy: default, slack: [{channel: "#incidents"}]}
)");
  auto r = app::LoadRuntimeConfig(cfg, {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  EXPECT_NE(
      r.diagnostics.ToString().find("receiver \"pager\" has an escalation policy and notices"),
      std::string::npos)
      << r.diagnostics.ToString();
}

}  // namespace
}  // namespace tocsin::config

namespace tocsin {
namespace {

// A paused active's session holds the lease row's lock until the server ends it: with a 4 s
// lease, the default 5 s would outlast the lease and delay every takeover by up to 3 s.
TEST(StoreSessionTimeout, AShortLeaseEndsIdleTransactionsAtHalfTheLeaseUnlessTheUrlSaysOtherwise) {
  auto url = store::ParseStoreUrl("postgresql://tocsin@db.internal/tocsin").value();
  app::FitSessionTimeoutToLease(url, std::chrono::seconds(4));
  const auto conn = url.ConnectionString();
  const auto ours = conn.find("idle_in_transaction_session_timeout=2000");
  ASSERT_NE(ours, std::string::npos) << conn;
  EXPECT_GT(ours, conn.find("idle_in_transaction_session_timeout=5000"))
      << "the later -c wins: " << conn;

  auto own =
      store::ParseStoreUrl(
          "postgresql://tocsin@db/tocsin?options=-c%20idle_in_transaction_session_timeout%3D900")
          .value();
  app::FitSessionTimeoutToLease(own, std::chrono::seconds(4));
  EXPECT_EQ(own.ConnectionString().find("=2000"), std::string::npos) << own.ConnectionString();

  auto long_lease = store::ParseStoreUrl("postgresql://tocsin@db/tocsin").value();
  app::FitSessionTimeoutToLease(long_lease, std::chrono::seconds(10));
  EXPECT_TRUE(long_lease.params.empty());
  auto sqlite = store::ParseStoreUrl("sqlite:///var/lib/tocsin/tocsin.db").value();
  app::FitSessionTimeoutToLease(sqlite, std::chrono::seconds(3));
  EXPECT_TRUE(sqlite.params.empty());
}

}  // namespace
}  // namespace tocsin
