// An open incident follows the sun: at each region's handover the incoming L1 becomes incident
// commander and is told, and the handover happens at the local time of the region even in the
// weeks where only one side of the Atlantic has changed its clocks.
#include <gtest/gtest.h>

#include "fakes/incident/memory_incident_store.h"
#include "fakes/incident/recording_pager.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/roster_loader.h"

namespace tocsin::incident {
namespace {

constexpr const char* kRoster = R"(
people:
  eu: {name: Europe L1, time_zone: Europe/Kyiv}
  us: {name: Americas L1, time_zone: America/New_York}
  ap: {name: APAC L1, time_zone: Asia/Singapore}
  dm: {name: Duty Manager, time_zone: Europe/Kyiv}
rotations:
  l1:
    role: l1
    start_date: 2026-03-01
    turn: week
    follow_the_sun:
      - {region: europe, time_zone: Europe/Kyiv, handover: "08:00", members: [eu]}
      - {region: americas, time_zone: America/New_York, handover: "09:00", members: [us]}
      - {region: apac, time_zone: Asia/Singapore, handover: "08:00", members: [ap]}
  dm: {role: duty-manager, time_zone: Europe/Kyiv, start_date: 2026-03-01, handovers: ["09:00"], members: [dm]}
)";

struct Harness {
  explicit Harness(TimePoint start) : scheduler(start) {
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kRoster, diags);
    EXPECT_TRUE(roster) << diags.ToString();
    PolicySet policies;
    policies.policies["default"] = DefaultPolicy();
    manager = std::make_unique<IncidentManager>(scheduler, store, pager,
                                                std::make_shared<const oncall::Schedule>(*roster),
                                                policies, IncidentsConfig{});
    EXPECT_TRUE(manager->Start());
  }

  void Open() {
    dispatch::AlertGroup g;
    g.key = "ws-rtt";
    g.receiver.escalation_policy = "default";
    Alert a;
    a.labels = Labels{{"alertname", "WsRttP95High"}, {"domain", "game-gateway"}};
    a.severity = Severity::kCritical;
    g.alerts.push_back(a);
    manager->OnGroupFlush(g, scheduler.clock().Now());
    ASSERT_TRUE(
        manager->Acknowledge("INC-1", manager->Get("INC-1")->commander, scheduler.clock().Now()));
  }

  SimulatedScheduler scheduler;
  testing::MemoryIncidentStore store;
  testing::RecordingPager pager;
  std::unique_ptr<IncidentManager> manager;
};

TimePoint T(const char* s) { return ParseTime(s).value(); }

TEST(FollowTheSunHandoverTest, NewYorkSpringForwardMovesTheEuropeToAmericasHandoverTo13Utc) {
  // 9 March 2026: New York is on EDT since the 8th, Kyiv still on EET.
  Harness h(T("2026-03-09T12:30:00Z"));
  h.Open();
  EXPECT_EQ(h.manager->Get("INC-1")->commander, "eu");
  h.scheduler.AdvanceTo(T("2026-03-09T12:59:59Z"));
  EXPECT_EQ(h.manager->Get("INC-1")->commander, "eu");
  h.scheduler.AdvanceTo(T("2026-03-09T13:00:00Z"));  // 09:00 EDT, not 14:00 UTC as in winter
  EXPECT_EQ(h.manager->Get("INC-1")->commander, "us");
  auto told = h.pager.OfAction(PageAction::kUpdate);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].targets[0].person.id, "us");
  EXPECT_EQ(told[0].at, T("2026-03-09T13:00:00Z"));
  // Then APAC at 08:00 Singapore (00:00 UTC), and Europe again at 08:00 EET (06:00 UTC).
  h.scheduler.AdvanceTo(T("2026-03-10T06:00:00Z"));
  told = h.pager.OfAction(PageAction::kUpdate);
  ASSERT_EQ(told.size(), 3u);
  EXPECT_EQ(told[1].targets[0].person.id, "ap");
  EXPECT_EQ(told[1].at, T("2026-03-10T00:00:00Z"));
  EXPECT_EQ(told[2].targets[0].person.id, "eu");
  EXPECT_EQ(told[2].at, T("2026-03-10T06:00:00Z"));
  EXPECT_TRUE(h.manager->Verify("INC-1")->ok);
}

TEST(FollowTheSunHandoverTest, KyivSpringForwardBringsTheApacToEuropeHandoverTo05Utc) {
  // 30 March 2026: Kyiv is on EEST since the 29th.
  Harness h(T("2026-03-30T04:30:00Z"));
  h.Open();
  EXPECT_EQ(h.manager->Get("INC-1")->commander, "ap");
  h.scheduler.AdvanceTo(T("2026-03-30T05:00:00Z"));  // 08:00 EEST
  EXPECT_EQ(h.manager->Get("INC-1")->commander, "eu");
  auto told = h.pager.OfAction(PageAction::kUpdate);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].at, T("2026-03-30T05:00:00Z"));
}

}  // namespace
}  // namespace tocsin::incident
