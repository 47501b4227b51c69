#include "app/group_router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tocsin::app {
namespace {

class RouterRecordingSink final : public dispatch::GroupSink {
 public:
  void OnGroupFlush(const dispatch::AlertGroup& group, TimePoint) override {
    keys.push_back(group.key);
  }
  std::vector<std::string> keys;
};

dispatch::AlertGroup RouterGroup(const std::string& key, bool paging) {
  dispatch::AlertGroup g;
  g.key = key;
  g.receiver.name = paging ? "oncall" : "chat";
  if (paging) g.receiver.escalation_policy = "default";
  return g;
}

const TimePoint kRouterNow{};

TEST(GroupRouterTest, ActiveSendsPagingGroupsToIncidentsAndTheRestAsNotices) {
  RouterRecordingSink incidents, notices;
  GroupRouter router(incidents, notices, /*active=*/true);
  router.OnGroupFlush(RouterGroup("pay", true), kRouterNow);
  router.OnGroupFlush(RouterGroup("info", false), kRouterNow);
  EXPECT_EQ(notices.keys, std::vector<std::string>{"info"});  // never "pay"
}

// Review finding: a reload that took the escalation policy off a receiver sent its groups only
// as notices, so the resolve of a group whose incident was open never reached the incident:
// it escalated on and never resolved itself. The incidents hear of every group now (they
// update an open incident, and open nothing for a receiver without a policy).
TEST(GroupRouterTest, AGroupOfAReceiverThatDoesNotPageIsANoticeTheIncidentsHearOfToo) {
  RouterRecordingSink incidents, notices;
  GroupRouter router(incidents, notices, /*active=*/true);
  router.OnGroupFlush(RouterGroup("info", false), kRouterNow);
  router.OnGroupFlush(RouterGroup("pay", true), kRouterNow);
  EXPECT_EQ(incidents.keys, (std::vector<std::string>{"info", "pay"}));
  EXPECT_EQ(notices.keys, std::vector<std::string>{"info"});
}

// Regression: the daemon built its router active whatever the instance's role, so a standby
// of a cluster opened incidents (refused, read-only) and queued notices from the standby.
TEST(GroupRouterTest, AStandbyHoldsPagingGroupsSendsNoNoticeAndHandsThemOverWhenActive) {
  RouterRecordingSink incidents, notices;
  GroupRouter router(incidents, notices, /*active=*/false);
  router.OnGroupFlush(RouterGroup("pay", true), kRouterNow);
  router.OnGroupFlush(RouterGroup("pay", true),
                      kRouterNow);  // the latest flush replaces the held one
  router.OnGroupFlush(RouterGroup("info", false), kRouterNow);
  EXPECT_TRUE(incidents.keys.empty());
  EXPECT_TRUE(notices.keys.empty());
  EXPECT_EQ(router.held(), 1u);
  router.SetActive(true, kRouterNow);
  EXPECT_EQ(incidents.keys, std::vector<std::string>{"pay"});
  EXPECT_EQ(router.held(), 0u);
  EXPECT_TRUE(notices.keys.empty());
}

}  // namespace
}  // namespace tocsin::app
