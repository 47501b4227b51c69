// The outbox with the real notifiers against the provider simulator, on the simulated clock:
// HTTP is real, time is not (deliveries run inline, timers are the SimulatedScheduler's).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "notify/heartbeat.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/opsgenie/opsgenie_notifier.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::notify {
namespace {

using incident::Channel;
using incident::PageAction;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

class EndToEnd : public ::testing::Test {
 protected:
  EndToEnd() : scheduler_(testing::T0()) {
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<Outbox>(*store_, scheduler_, executor_, nullptr, 11);
    EXPECT_TRUE(outbox_->Open());
    config_.jitter = 0;
  }
  void Configure() {
    config::ProvidersConfig p = testing::SimProviders(sim_.url(), true);
    NotifierDeps deps;
    RenderOptions ro;
    ro.runbook_base_url = "https://git.example.com/runbooks/";
    deps.renderer = *PageRenderer::Create(ro);
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = store_.get();
    outbox_->Configure(BuildNotifiers(p, deps), config_);
  }
  incident::PageRequest Page(int n, PageAction action = PageAction::kTrigger) {
    auto r = testing::DepositPage(fmt::format("INC-{}", n));
    r.action = action;
    r.idempotency_key = fmt::format("INC-{}/{}", n, incident::PageActionName(action));
    r.state = action == PageAction::kAcknowledge ? "acknowledged"
              : action == PageAction::kResolve   ? "resolved"
                                                 : "triggered";
    r.actor = action == PageAction::kTrigger ? "" : "olena";
    r.at = scheduler_.clock().Now();
    return r;
  }
  // "action dedup_key" of every PagerDuty event the simulator accepted, in order.
  std::vector<std::string> AcceptedPagerDuty() {
    std::vector<std::string> out;
    for (const auto& r : sim_.Requests("/v2/enqueue")) {
      if (r["status"] != 202) continue;
      auto b = json::parse(r["body"].get<std::string>());
      out.push_back(b["event_action"].get<std::string>() + " " + b["dedup_key"].get<std::string>());
    }
    return out;
  }

  testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  NotifyConfig config_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(EndToEnd, PagerDutyDownTenMinutesLosesNothingSendsNothingTwice) {
  config_.failover.clear();
  Configure();
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  for (int i = 1; i <= 5; ++i) {
    outbox_->Send(Page(i), {});
    scheduler_.AdvanceBy(minutes(1));
  }
  outbox_->Send(Page(2, PageAction::kAcknowledge), {});
  scheduler_.AdvanceTo(testing::T0() + minutes(10));
  EXPECT_TRUE(AcceptedPagerDuty().empty());
  sim_.Call("DELETE", "/_sim/faults", "");  // PagerDuty is back
  scheduler_.AdvanceTo(testing::T0() + minutes(20));
  // INC-2 was acknowledged before its trigger could go: the trigger is withdrawn (nobody is
  // paged for an incident someone has) and the acknowledge goes before the other triggers.
  EXPECT_EQ(AcceptedPagerDuty(),
            (std::vector<std::string>{"acknowledge tocsin/INC-2", "trigger tocsin/INC-1",
                                      "trigger tocsin/INC-3", "trigger tocsin/INC-4",
                                      "trigger tocsin/INC-5"}));
  EXPECT_LE(sim_.Requests("/v2/enqueue").size(), 5u + 15u) << "backed off, did not hammer";
  EXPECT_EQ(outbox_->pending(), 0u);
}

TEST_F(EndToEnd, FailsOverToOpsgenieAndSaysSoInSlack) {
  config_.failover_after = minutes(2);
  Configure();
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 502}, {"count", -1}});
  outbox_->Send(Page(1), {});
  scheduler_.AdvanceBy(minutes(4));
  auto creates = sim_.Requests("/v2/alerts");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(json::parse(creates[0]["body"].get<std::string>())["alias"], "tocsin/INC-1");
  bool announced = false;
  for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
    announced = announced ||
                r["body"].get<std::string>().find("paging through Opsgenie") != std::string::npos;
  }
  EXPECT_TRUE(announced);
  EXPECT_TRUE(AcceptedPagerDuty().empty());

  // PagerDuty answers again: the probe notices, Slack hears it, new pages use PagerDuty, and
  // the ack of INC-1 follows its trigger to Opsgenie.
  sim_.Call("DELETE", "/_sim/faults", "");
  scheduler_.AdvanceBy(config_.probe_interval + seconds(1));
  bool recovered = false;
  for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
    recovered =
        recovered || r["body"].get<std::string>().find("answers again") != std::string::npos;
  }
  EXPECT_TRUE(recovered);
  outbox_->Send(Page(2), {});
  outbox_->Send(Page(1, PageAction::kAcknowledge), {});
  scheduler_.AdvanceBy(seconds(10));
  EXPECT_EQ(AcceptedPagerDuty(), (std::vector<std::string>{"trigger tocsin/INC-2"}));
  auto acks = sim_.Requests("/v2/alerts/tocsin/INC-1/acknowledge");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["status"], 202);
}

TEST_F(EndToEnd, SlackMessageIsUpdatedOnEveryStateChangeWithTheTimelineInItsThread) {
  config_.failover.clear();
  Configure();
  outbox_->Send(Page(7), {});
  scheduler_.AdvanceBy(seconds(5));
  outbox_->Send(Page(7, PageAction::kAcknowledge), {});
  scheduler_.AdvanceBy(seconds(5));
  outbox_->Send(Page(7, PageAction::kResolve), {});
  scheduler_.AdvanceBy(seconds(5));
  auto posts = sim_.Requests("/api/chat.postMessage");
  auto updates = sim_.Requests("/api/chat.update");
  ASSERT_EQ(posts.size(), 3u);  // the message, then two thread replies
  ASSERT_EQ(updates.size(), 2u);
  auto message = json::parse(posts[0]["body"].get<std::string>());
  EXPECT_FALSE(message.contains("thread_ts"));
  auto ref = store_->FindSlackMessage("INC-7");
  ASSERT_TRUE(ref);
  for (int i = 1; i <= 2; ++i) {
    EXPECT_EQ(json::parse(posts[i]["body"].get<std::string>())["thread_ts"], ref->ts);
  }
  EXPECT_EQ(json::parse(posts[1]["body"].get<std::string>())["text"], "Acknowledged by olena");
  EXPECT_EQ(json::parse(posts[2]["body"].get<std::string>())["text"], "Resolved by olena");
  auto last = json::parse(updates[1]["body"].get<std::string>());
  EXPECT_EQ(last["ts"], ref->ts);
  std::string header = last["blocks"][0]["text"]["text"];
  EXPECT_EQ(header.rfind("✅ SEV-1 INC-7", 0), 0u) << header;
  EXPECT_EQ(AcceptedPagerDuty(),
            (std::vector<std::string>{"trigger tocsin/INC-7", "acknowledge tocsin/INC-7",
                                      "resolve tocsin/INC-7"}));
}

}  // namespace
}  // namespace tocsin::notify

namespace tocsin::notify {
namespace {

TEST(OpsgenieHeartbeat, PingsOnTheSchedulersTimer) {
  testing::SimServer sim;
  SimulatedScheduler scheduler(testing::T0());
  InlineExecutor executor;
  auto og = std::make_shared<OpsgenieNotifier>(
      config::OpsgenieConfig{sim.url(), "genie-key", "tocsin-prod", ""}, *PageRenderer::Create({}),
      std::make_shared<CurlHttpClient>());
  HeartbeatPinger pinger(scheduler, executor);
  pinger.Start({og}, std::chrono::minutes(1));
  scheduler.AdvanceBy(std::chrono::seconds(59));
  EXPECT_TRUE(sim.Requests("/v2/heartbeats/").empty());
  scheduler.AdvanceBy(std::chrono::minutes(2) + std::chrono::seconds(1));
  auto pings = sim.Requests("/v2/heartbeats/tocsin-prod/ping");
  ASSERT_EQ(pings.size(), 3u);
  EXPECT_EQ(pings[0]["status"], 202);
  EXPECT_EQ(pings[0]["headers"]["Authorization"], "GenieKey genie-key");
  pinger.Stop();
  scheduler.AdvanceBy(std::chrono::minutes(5));
  EXPECT_EQ(sim.Requests("/v2/heartbeats/").size(), 3u);
}

}  // namespace
}  // namespace tocsin::notify
