#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fakes/incident/memory_incident_store.h"
#include "fakes/incident/recording_pager.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/roster_loader.h"

namespace tocsin::incident {

// A small roster in UTC so timelines read in plain minutes: L1 12h shifts at 08:00/20:00
// (l1a days, l1b nights), one holder for every other role, a newcomer shadowing l1a.
inline constexpr const char* kTestRoster = R"(
people:
  l1a: {name: L1 Day, time_zone: UTC, slack_user_id: U1}
  l1b: {name: L1 Night, time_zone: UTC}
  l1c: {name: L1 Cover, time_zone: UTC}
  pay: {name: Payments L2, time_zone: UTC}
  sre: {name: SRE L2, time_zone: UTC}
  comms: {name: Comms, time_zone: UTC}
  dm: {name: Duty Manager, time_zone: UTC}
  res: {name: Reserve, time_zone: UTC}
  newbie: {name: Newcomer, time_zone: UTC}
rotations:
  l1:
    role: l1
    time_zone: UTC
    start_date: 2026-11-02
    handovers: ["08:00", "20:00"]
    members: [l1a, l1b]
  l2-payments: {role: l2-payments, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [pay]}
  l2-sre: {role: l2-sre-platform, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [sre]}
  comms: {role: comms, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [comms]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [dm]}
  reserve: {role: reserve, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [res]}
shadows:
  - {newcomer: newbie, buddy: l1a, from: 2026-11-16, to: 2026-12-07}
)";

class IncidentTest : public ::testing::Test {
 protected:
  // Monday 2026-11-23 10:00 UTC: l1a holds L1.
  const TimePoint t0_ = ParseTime("2026-11-23T10:00:00Z").value();
  SimulatedScheduler scheduler_{t0_};
  testing::MemoryIncidentStore store_;
  testing::RecordingPager pager_;
  IncidentsConfig config_;
  PolicySet policies_;
  std::shared_ptr<const oncall::Schedule> schedule_;
  std::unique_ptr<IncidentManager> manager_;

  void SetUp() override { policies_.policies["default"] = DefaultPolicy(); }

  void Build(const std::string& extra_roster = "") {
    config::Diagnostics diags;
    auto roster =
        oncall::LoadRosterString("roster.yaml", std::string(kTestRoster) + extra_roster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    manager_ = std::make_unique<IncidentManager>(scheduler_, store_, pager_, schedule_, policies_,
                                                 config_);
    ASSERT_TRUE(manager_->Start());
  }

  static dispatch::AlertGroup Group(const std::string& domain, Severity sev = Severity::kCritical,
                                    bool firing = true, const std::string& key = "g1") {
    dispatch::AlertGroup g;
    g.key = key;
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    Alert a;
    a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"domain", domain}};
    a.severity = sev;
    a.annotations["summary"] = "Deposit success 97.2 % (SLO 99.85 %)";
    a.state = firing ? AlertState::kFiring : AlertState::kResolved;
    g.alerts.push_back(a);
    return g;
  }

  TimePoint At(Duration d) const { return t0_ + d; }
  void AdvanceTo(Duration d) { scheduler_.AdvanceTo(t0_ + d); }
  Duration Now() const { return scheduler_.clock().Now() - t0_; }

  std::vector<std::string> Kinds(const std::string& id) {
    std::vector<std::string> out;
    auto events = store_.Timeline(id).value();
    for (const auto& e : events) out.push_back(e.kind);
    return out;
  }
  // The newest event that is not the bookkeeping of a page (queued, sent, failed, skipped).
  std::string LastTransition(const std::string& id) {
    auto kinds = Kinds(id);
    for (auto it = kinds.rbegin(); it != kinds.rend(); ++it) {
      if (*it != kEventQueued && *it != kEventSent && *it != kEventFailed && *it != kEventSkipped) {
        return *it;
      }
    }
    return {};
  }
};

using std::chrono::minutes;
using std::chrono::seconds;

}  // namespace tocsin::incident
