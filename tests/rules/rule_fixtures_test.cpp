// Every validation rule of rule files has a good and a bad fixture under tests/testdata/rules.
// A bad fixture states each error it expects as "# expect: LINE:COL: text"; a warning fixture
// loads and states its warnings as "# expect-warning: LINE:COL: text".
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::rules {
namespace {

using config::Diagnostic;

std::vector<std::string> Fixtures(const std::string& sub) {
  return testing::FixtureFiles(std::string(TOCSIN_TESTDATA_DIR) + "/rules/" + sub);
}

RuleLoadOptions Options() {
  RuleLoadOptions o;
  o.evaluation.default_source = "prometheus";
  o.source_names = {"prometheus"};
  o.runbook_dir = std::string(TOCSIN_TESTDATA_DIR) + "/rules/runbooks";
  return o;
}

TEST(RuleFixturesTest, GoodFixturesLoadWithoutDiagnostics) {
  auto files = Fixtures("good");
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    config::Diagnostics diags;
    auto set = LoadRuleFiles({f}, Options(), diags);
    EXPECT_TRUE(set.has_value()) << f << "\n" << diags.ToString();
    EXPECT_TRUE(diags.items().empty()) << f << "\n" << diags.ToString();
  }
}

TEST(RuleFixturesTest, FullFixtureKeepsEveryField) {
  config::Diagnostics diags;
  auto set =
      LoadRuleFiles({std::string(TOCSIN_TESTDATA_DIR) + "/rules/good/full.yaml"}, Options(), diags);
  ASSERT_TRUE(set) << diags.ToString();
  const auto& g = set->groups.at(0);
  EXPECT_EQ(g.interval, std::chrono::seconds(15));
  const auto& slo = g.slos.at(0);
  EXPECT_DOUBLE_EQ(slo.objective, 99.85);
  EXPECT_EQ(slo.window, std::chrono::hours(24 * 28));
  EXPECT_EQ(slo.by, (std::vector<std::string>{"psp", "market"}));
  EXPECT_EQ(slo.absent_after, std::chrono::minutes(15));
  ASSERT_EQ(slo.tiers.size(), 4u);
  EXPECT_DOUBLE_EQ(slo.tiers[0].factor, 10);
  EXPECT_FALSE(slo.tiers[1].enabled);
  EXPECT_EQ(slo.tiers[2].severity, Severity::kInfo);
  EXPECT_EQ(slo.tiers[2].long_window, std::chrono::hours(72));  // default kept
  EXPECT_EQ(slo.tiers[3].name, "weekly");
  EXPECT_EQ(slo.alert.labels.GetOr("team"), "payments");
  EXPECT_EQ(slo.ErrorRatioQuery(std::chrono::minutes(5)),
            "(sum by (psp, market) (rate(dep_total{outcome=\"error\"}[5m]))) / (sum by (psp, "
            "market) (rate(dep_total[5m])))");
  const auto& r = g.rules.at(0);
  EXPECT_EQ(r.op, Comparison::kGreaterEqual);
  EXPECT_EQ(r.consecutive, 5);
  EXPECT_EQ(r.resolve_after, 4);
  EXPECT_EQ(g.rules.at(1).consecutive, 3);  // the default: at least 3 consecutive violations
  EXPECT_EQ(g.rules.at(1).alert.kind, AlertKind::kCause);
}

TEST(RuleFixturesTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 10u);
  for (const auto& f : files) {
    auto expectations = testing::FixtureExpectations(f, "expect");
    ASSERT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    config::Diagnostics diags;
    auto set = LoadRuleFiles({f}, Options(), diags);
    EXPECT_FALSE(set.has_value()) << f;
    EXPECT_EQ(testing::MissingExpectations(f, diags, expectations), "");
    EXPECT_EQ(diags.error_count(), expectations.size())
        << f << ": every error should be expected:\n"
        << diags.ToString();
  }
}

TEST(RuleFixturesTest, WarningFixturesLoadAndWarn) {
  for (const auto& f : Fixtures("warning")) {
    auto expectations = testing::FixtureExpectations(f, "expect-warning");
    ASSERT_FALSE(expectations.empty()) << f;
    config::Diagnostics diags;
    auto set = LoadRuleFiles({f}, Options(), diags);
    EXPECT_TRUE(set.has_value()) << diags.ToString();
    EXPECT_EQ(testing::MissingExpectations(f, diags, expectations, Diagnostic::Severity::kWarning),
              "");
    EXPECT_EQ(diags.warning_count(), expectations.size()) << diags.ToString();
  }
}

TEST(RuleFixturesTest, ShippedConfigLoadsTheShippedRules) {
  auto cfg = config::LoadConfig(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml");
  ASSERT_TRUE(cfg.config) << cfg.diagnostics.ToString();
  config::Diagnostics diags;
  auto set = LoadRules(*cfg.config, diags);
  ASSERT_TRUE(set) << diags.ToString();
  EXPECT_TRUE(diags.items().empty()) << diags.ToString();
  EXPECT_GE(set->slo_count(), 3u);
  EXPECT_GE(set->rule_count(), 6u);
  EXPECT_EQ(set->evaluation.interval, std::chrono::seconds(30));
}

// Pages linked to the address tocsin queries (an internal name a phone cannot open).
TEST(RuleFixturesTest, QueryLinksUseTheSourcesExternalUrlWhenSet) {
  auto cfg = config::LoadConfigString(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml",
                                      "rule_files: ['../rules/payments.yaml']\n"
                                      "runbooks: {dir: ../runbooks}\n"
                                      "sources:\n"
                                      "  - {name: prometheus, url: 'http://10.0.0.5:9090',\n"
                                      "     external_url: 'https://prometheus.ops.example.com'}\n"
                                      "  - {name: internal, url: 'http://10.0.0.6:9090'}\n");
  ASSERT_TRUE(cfg.config) << cfg.diagnostics.ToString();
  config::Diagnostics diags;
  auto set = LoadRules(*cfg.config, diags);
  ASSERT_TRUE(set) << diags.ToString();
  EXPECT_EQ(set->source_urls.at("prometheus"), "https://prometheus.ops.example.com");
  EXPECT_EQ(set->source_urls.at("internal"), "http://10.0.0.6:9090");
  EXPECT_EQ(cfg.config->sources.at(0).url, "http://10.0.0.5:9090");  // still what is queried
}

TEST(RuleFixturesTest, AGlobMatchingNothingWarnsAndAMissingFileIsAnError) {
  auto cfg = config::LoadConfigString(
      "/tmp/x/tocsin.yaml",
      "rule_files: ['/nonexistent/*.yaml', '/nonexistent/a.yaml']\nsources: [{name: p, url: "
      "'http://p:9090'}]\n");
  ASSERT_TRUE(cfg.config) << cfg.diagnostics.ToString();
  config::Diagnostics diags;
  EXPECT_FALSE(LoadRules(*cfg.config, diags));
  EXPECT_EQ(diags.error_count(), 1u) << diags.ToString();
  EXPECT_EQ(diags.warning_count(), 1u) << diags.ToString();
}

TEST(RuleFixturesTest, EvaluationSectionIsValidatedStrictly) {
  auto cfg = config::LoadConfigString("/tmp/x/tocsin.yaml",
                                      "evaluation:\n  interval: 500ms\n  intervl: 30s\n"
                                      "  default_source: nope\n"
                                      "sources: [{name: p, url: 'http://p:9090'}]\n");
  ASSERT_TRUE(cfg.config) << cfg.diagnostics.ToString();
  config::Diagnostics diags;
  ReadEvaluationConfig(*cfg.config, diags);
  EXPECT_EQ(diags.error_count(), 3u) << diags.ToString();
  EXPECT_NE(diags.ToString().find("tocsin.yaml:2:13"), std::string::npos) << diags.ToString();
  EXPECT_NE(diags.ToString().find("did you mean \"interval\""), std::string::npos);
}

}  // namespace
}  // namespace tocsin::rules
