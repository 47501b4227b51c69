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

// Siblings with the same matchers get "#index" in their path so that their groups stay apart;
// their subtrees carry it too, or two grandchildren with the same matchers would share groups
// (and each flush flip the group between their receivers).
TEST(RouteTest, SubtreesOfSiblingsWithTheSameMatchersKeepTheirGroupsApart) {
  auto cfg = testutil::LoadOrDie(R"(
route:
  receiver: a
  routes:
    - matchers: ['team="pay"']
      receiver: a
      routes: [{matchers: ['severity="critical"'], receiver: b}]
    - matchers: ['team="pay"']
      receiver: c
      routes: [{matchers: ['severity="critical"'], receiver: d}]
receivers: [{name: a}, {name: b}, {name: c}, {name: d}]
)");
  auto root = Route::Build(cfg.route, cfg.receivers);
  ASSERT_EQ(root->children().size(), 2u);
  const Route& first = *root->children()[0]->children().at(0);
  const Route& second = *root->children()[1]->children().at(0);
  EXPECT_NE(first.path(), second.path());
  EXPECT_NE(second.path().find("#1/"), std::string::npos) << second.path();
  EXPECT_EQ(first.path().find('#'), std::string::npos) << first.path();
  Labels l{{"team", "pay"}, {"severity", "critical"}};
  EXPECT_NE(first.GroupHash(l), second.GroupHash(l));
}

// The dispatcher finds an alert's group by GroupHash and InGroup, without building
// GroupLabels: both must agree with it for every route, including group_by: ['...'] and a
// route that groups by nothing.
TEST(RouteTest, GroupHashAndInGroupAgreeWithGroupLabels) {
  auto cfg = testutil::LoadOrDie(kTree);
  // Two more siblings with the payments route's matchers (so their paths end in "#4" and "#5"):
  // one groups by every label, one by no label.
  RouteConfig all = cfg.route.routes[0];
  all.group_by = {"..."};
  RouteConfig none = cfg.route.routes[0];
  none.group_by = {};
  cfg.route.routes.push_back(all);
  cfg.route.routes.push_back(none);
  auto root = Route::Build(cfg.route, cfg.receivers);
  std::vector<const Route*> routes{root.get()};
  for (std::size_t i = 0; i < routes.size(); ++i) {
    for (const auto& child : routes[i]->children()) routes.push_back(child.get());
  }
  ASSERT_EQ(routes.size(), 8u);

  std::vector<Labels> alerts;
  for (const char* name : {"DepositErrors", "LoginErrors"}) {
    for (const char* psp : {"", "A", "B"}) {
      for (const char* market : {"DE", "MT"}) {
        alerts.push_back(Labels{{"alertname", name}, {"psp", psp}, {"market", market}});
      }
    }
  }
  alerts.push_back(Labels{});
  int same = 0;
  int differ = 0;
  for (const Route* r : routes) {
    for (const Labels& a : alerts) {
      EXPECT_TRUE(r->InGroup(r->GroupLabels(a), a)) << r->path() << " " << a.ToString();
      for (const Labels& b : alerts) {
        bool equal = r->GroupLabels(a) == r->GroupLabels(b);
        EXPECT_EQ(r->InGroup(r->GroupLabels(a), b), equal)
            << r->path() << " " << a.ToString() << " " << b.ToString();
        if (equal) {
          EXPECT_EQ(r->GroupHash(a), r->GroupHash(b)) << r->path() << " " << a.ToString();
        }
        ++(equal ? same : differ);
      }
    }
    // The path is part of the hash: two routes grouping alike keep their groups apart.
    if (r != root.get()) {
      EXPECT_NE(r->GroupHash(alerts[0]), root->GroupHash(alerts[0])) << r->path();
    }
  }
  // Both outcomes were exercised, and hashes tell different groups apart here.
  EXPECT_GT(same, 0);
  EXPECT_GT(differ, 0);
  EXPECT_NE(routes[1]->GroupHash(alerts[0]), routes[1]->GroupHash(alerts[2]));
}

}  // namespace
}  // namespace tocsin::dispatch
