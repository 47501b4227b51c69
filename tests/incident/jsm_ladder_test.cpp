// The default ladder on Jira Service Management Operations, as an acceptance timeline on the
// simulated clock: the incident manager, the real outbox and JSM notifier, and the provider
// simulator over real HTTP on loopback. L1 at T0, the payments L2 and the Comms officer at
// +5 min, an ack at +6 min; the Duty Manager (+10 min) is never paged. Nothing here sleeps.
#include <gtest/gtest.h>

#include <memory>

#include "incident/incident_test_support.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "sim_fixture.h"
#include "support/temp_dir.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::incident {
namespace {

using nlohmann::json;

constexpr const char* kJsmRoster = R"(
people:
  l1a: {name: L1 Day, time_zone: UTC, jsm_username: l1a@example.com}
  pay: {name: Payments L2, time_zone: UTC, jsm_username: pay@example.com}
  comms: {name: Comms, time_zone: UTC, jsm_username: comms@example.com}
  dm: {name: Duty Manager, time_zone: UTC, jsm_username: dm@example.com}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [l1a]}
  l2-payments: {role: l2-payments, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [pay]}
  comms: {role: comms, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [comms]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [dm]}
)";

class JsmLadder : public IncidentTest {
 protected:
  void SetUp() override {
    EscalationPolicy p = DefaultPolicy();
    for (auto& step : p.steps) step.channels = {Channel::Named("jsm")};
    policies_.policies["default"] = p;
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<notify::Outbox>(*outbox_store_, scheduler_, executor_);
    ASSERT_TRUE(outbox_->Open());
    config::ProvidersConfig providers;
    providers.jsm = config::JsmConfig{sim_.url(), "5e3f2a1b-9c8d-4e7f-a6b5-c4d3e2f1a0b9", ""};
    notify::NotifierDeps deps;
    deps.renderer = *notify::PageRenderer::Create({});
    deps.http = std::make_shared<CurlHttpClient>();
    notify::NotifyConfig nc;
    nc.jitter = 0;
    outbox_->Configure(notify::BuildNotifiers(providers, deps), nc);
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kJsmRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    manager_ = std::make_unique<IncidentManager>(scheduler_, store_, *outbox_, schedule_, policies_,
                                                 config_);
    outbox_->SetObserver(manager_.get());
    ASSERT_TRUE(manager_->Start());
  }
  // Who JSM notified, in order, as "username alias".
  std::vector<std::string> Notified() {
    std::vector<std::string> out;
    for (const auto& r : json::parse(sim_.Call("GET", "/_sim/jsm/received", ""))) {
      out.push_back(r["username"].get<std::string>() + " " + r["alias"].get<std::string>());
    }
    return out;
  }

  notify::testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  InlineExecutor executor_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_store_;
  std::unique_ptr<notify::Outbox> outbox_;
};

TEST_F(JsmLadder, L1AtT0L2AndCommsAt5mAckAt6mStopsItBeforeTheDutyManager) {
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(seconds(1));
  EXPECT_EQ(Notified(), std::vector<std::string>{"l1a@example.com tocsin/INC-1"});
  AdvanceTo(minutes(5) - seconds(1));
  EXPECT_EQ(Notified().size(), 1u);
  AdvanceTo(minutes(5) + seconds(1));
  EXPECT_EQ(Notified(), (std::vector<std::string>{"l1a@example.com tocsin/INC-1",
                                                  "pay@example.com tocsin/INC-1/step-2",
                                                  "comms@example.com tocsin/INC-1/step-2"}));
  AdvanceTo(minutes(6));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(6))));
  AdvanceTo(minutes(6) + seconds(1));
  // The ack reached both step alerts in JSM, so neither keeps paging there.
  auto alerts = json::parse(sim_.Call("GET", "/_sim/jsm/alerts", ""));
  ASSERT_EQ(alerts.size(), 2u);
  for (const auto& a : alerts) EXPECT_TRUE(a["acknowledged"].get<bool>()) << a.dump();
  AdvanceTo(minutes(60));
  EXPECT_EQ(Notified().size(), 3u) << "the Duty Manager must not be paged after the ack";
  for (const auto& n : Notified()) EXPECT_EQ(n.find("dm@"), std::string::npos) << n;
}

TEST_F(JsmLadder, UnacknowledgedLadderReachesTheDutyManagerAt10m) {
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(10) - seconds(1));
  EXPECT_EQ(Notified().size(), 3u);
  AdvanceTo(minutes(10) + seconds(1));
  ASSERT_EQ(Notified().size(), 4u);
  EXPECT_EQ(Notified()[3], "dm@example.com tocsin/INC-1/step-3");
}

}  // namespace
}  // namespace tocsin::incident
