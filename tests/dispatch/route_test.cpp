#include "tocsin/dispatch/route.h"

#include <gtest/gtest.h>

#include "dispatch/dispatch_test_util.h"

namespace tocsin::dispatch {
namespace {

std::vector<std::string> ReceiversOf(const Route& root, const Labels& l) {
  std::vector<std::string> out;
  for (const Route* r : root.Match(l)) out.push_back(r->receiver().name);
  return out;
}

const char* kTree = R"(
route:
  receiver: slack-ops
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"', 'service=~"pay.*"']
      receiver: payments
      group_by: [alertname, psp]
      group_wait: 10s
    - matchers: ['team="waf"']
      receiver: waf
      continue: true
    - matchers: ['severity="critical"']
      receiver: oncall
      routes:
        - matchers: ['region="apac"']
          receiver: oncall-apac
    - matchers: ['severity!~"critical|error"']
      receiver: slack-ops
receivers:
  - {name: slack-ops, slack: [{channel: "#ops"}]}
  - {name: payments, escalation_policy: default}
  - {name: waf, webhook: [{url: "https://waf.example.com/hook"}]}
  - {name: oncall, escalation_policy: default}
  - {name: oncall-apac, escalation_policy: default}
escalation_policies: {default: {}}
)";

TEST(RouteTest, DeepestMatchWinsAndFirstSiblingStops) {
  auto cfg = testutil::LoadOrDie(kTree);
  auto root = Route::Build(cfg.route, cfg.receivers);
  using V = std::vector<std::string>;
  EXPECT_EQ(ReceiversOf(*root, {{"severity", "critical"}, {"service", "payments"}}), V{"payments"});
  EXPECT_EQ(ReceiversOf(*root, {{"severity", "critical"}, {"service", "login"}}), V{"oncall"});
  EXPECT_EQ(ReceiversOf(*root, {{"severity", "critical"}, {"region", "apac"}}), V{"oncall-apac"});
  EXPECT_EQ(ReceiversOf(*root, {{"severity", "warning"}}), V{"slack-ops"});
  // Nothing below matches: the root's receiver is the default route.
  EXPECT_EQ(ReceiversOf(*root, {{"severity", "error"}}), V{"slack-ops"});
}

TEST(RouteTest, ContinueAlsoTriesLaterSiblings) {
  auto cfg = testutil::LoadOrDie(kTree);
  auto root = Route::Build(cfg.route, cfg.receivers);
  using V = std::vector<std::string>;
  EXPECT_EQ(ReceiversOf(*root, {{"team", "waf"}, {"severity", "critical"}}), (V{"waf", "oncall"}));
}

TEST(RouteTest, ChildrenInheritAndOverrideGroupingAndTimings) {
  auto cfg = testutil::LoadOrDie(kTree);
  auto root = Route::Build(cfg.route, cfg.receivers);
  Labels l{{"alertname", "DepositErrors"},
           {"severity", "critical"},
           {"service", "payments"},
           {"psp", "A"},
           {"market", "DE"}};
  auto routes = root->Match(l);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]->GroupLabels(l), (Labels{{"alertname", "DepositErrors"}, {"psp", "A"}}));
  EXPECT_EQ(routes[0]->config().group_wait, std::chrono::seconds(10));
  EXPECT_EQ(routes[0]->config().group_interval, std::chrono::minutes(5));  // default, inherited
  EXPECT_EQ(routes[0]->receiver().escalation_policy, "default");
  auto warn = root->Match({{"alertname", "X"}, {"severity", "warning"}});
  EXPECT_EQ(warn[0]->config().group_wait, std::chrono::seconds(30));
  EXPECT_NE(routes[0]->path(), warn[0]->path());
}

TEST(RouteTest, WithoutRouteSectionEverythingGoesToDefaultReceiver) {
  auto cfg = testutil::LoadOrDie("{}");
  auto root = Route::Build(cfg.route, cfg.receivers);
  auto routes = root->Match({{"alertname", "X"}});
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]->receiver().name, "default");
  EXPECT_TRUE(routes[0]->receiver().escalation_policy.empty());
}

TEST(RouteTest, GroupByEllipsisGroupsByAllLabels) {
  auto cfg =
      testutil::LoadOrDie("route: {receiver: r, group_by: ['...']}\nreceivers: [{name: r}]\n");
  auto root = Route::Build(cfg.route, cfg.receivers);
  Labels l{{"alertname", "X"}, {"instance", "a"}};
  EXPECT_EQ(root->GroupLabels(l), l);
}

}  // namespace
}  // namespace tocsin::dispatch
