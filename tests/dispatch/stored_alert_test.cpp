#include "tocsin/dispatch/stored_alert.h"

#include <gtest/gtest.h>

#include "tocsin/common/duration.h"

namespace tocsin::dispatch {
namespace {

TEST(StoredAlertTest, ExpandGivesBackThePushedAlert) {
  Alert a;
  a.labels = Labels{{"alertname", "DepositErrors"}, {"psp", "A"}, {"instance", "10.1.2.3:9100"}};
  a.annotations = {{"summary", std::string(300, 'x')}, {"runbook", "deposit-psp"}, {"e", ""}};
  a.generator_url = "http://prometheus:9090/graph?g0.expr=" + std::string(200, 'q');
  a.starts_at = *ParseTime("2026-11-22T02:00:00Z");
  a.ends_at = *ParseTime("2026-11-22T05:00:00.250Z");
  a.updated_at = *ParseTime("2026-11-22T03:00:00Z");
  a.state = AlertState::kFiring;
  a.severity = Severity::kCritical;
  a.kind = AlertKind::kSymptom;
  StoredAlert s(a);
  EXPECT_EQ(s.Expand(), a);
  EXPECT_EQ(s.labels(), a.labels);
  EXPECT_EQ(s.generator_url(), a.generator_url);
  EXPECT_FALSE(s.ResolvedAt(*ParseTime("2026-11-22T05:00:00Z")));
  EXPECT_TRUE(s.ResolvedAt(*ParseTime("2026-11-22T05:00:00.250Z")));
}

TEST(StoredAlertTest, KeepsTheRuleEnginesFields) {
  Alert a;
  a.labels = Labels{{"alertname", "LoginSlo"}};
  a.rule = "login-availability";
  a.value = 0.997;
  a.threshold = 0.999;
  a.burn_rate = 14.4;
  a.budget_consumed = 0.02;
  a.links = {{"https://grafana/d/login", "SLO dashboard"}};
  a.state = AlertState::kResolved;
  EXPECT_EQ(StoredAlert(a).Expand(), a);
  EXPECT_TRUE(StoredAlert(a).ResolvedAt(TimePoint{}));
}

}  // namespace
}  // namespace tocsin::dispatch
