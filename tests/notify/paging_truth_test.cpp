// The incident manager, the real SQLite stores and the outbox with the real notifiers against the
// provider simulator, on the simulated clock: what the timeline says about a page is what
// happened to it. The outbox's database write is made to fail with a TEMP trigger on the real
// table (RAISE(ABORT)), so the failure goes through the real SQLite store, exactly as a full
// disk or an I/O error would.
#include <gmock/gmock.h>

#include <prometheus/registry.h>

#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/incident/incident_json.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::notify {
namespace {

using incident::Channel;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

// l1 reachable through PagerDuty and Slack; comms holds nothing any provider can reach.
constexpr const char* kRoster = R"(
people:
  l1a: {name: L1 Day, time_zone: UTC, slack_user_id: U1, pagerduty_user_id: P1}
  ghost: {name: No Identities, time_zone: UTC}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [l1a]}
  comms: {role: comms, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [ghost]}
)";

class PagingTruth : public ::testing::Test {
 protected:
  PagingTruth() : scheduler_(testing::T0()) {
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    incident_store_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    EXPECT_TRUE(incident_store_->Migrate());
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<Outbox>(*outbox_store_, scheduler_, executor_, &registry_, 7);
    EXPECT_TRUE(outbox_->Open());
    NotifyConfig cfg;
    cfg.jitter = 0;
    config::ProvidersConfig p = testing::SimProviders(sim_.url(), false);
    NotifierDeps deps;
    deps.renderer = *PageRenderer::Create(RenderOptions{});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = outbox_store_.get();
    outbox_->Configure(BuildNotifiers(p, deps), cfg);

    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kRoster, diags);
    EXPECT_TRUE(roster) << diags.ToString();
    incident::EscalationPolicy policy;
    policy.name = "default";
    incident::EscalationStep l1;
    l1.after = Duration(0);
    l1.targets.push_back({});
    l1.targets.back().role = "l1";
    l1.channels = {Channel::kPagerDuty, Channel::kSlack};
    incident::EscalationStep comms = l1;
    comms.after = minutes(5);
    comms.targets.back().role = "comms";
    policy.steps = {l1, comms};
    incident::PolicySet policies;
    policies.policies["default"] = policy;
    manager_ = std::make_unique<incident::IncidentManager>(
        scheduler_, *incident_store_, *outbox_, std::make_shared<const oncall::Schedule>(*roster),
        policies, incident::IncidentsConfig{}, &registry_);
    outbox_->SetObserver(manager_.get());
    EXPECT_TRUE(manager_->Start());
  }

  static dispatch::AlertGroup Group() {
    dispatch::AlertGroup g;
    g.key = "g1";
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    g.alerts.push_back(testing::DepositAlert());
    return g;
  }

  // The real outbox table refuses inserts, as a full disk would; Heal() lifts it.
  void BreakOutboxWrites() {
    ASSERT_TRUE(
        db_->Exec("CREATE TEMP TRIGGER outbox_refuses BEFORE INSERT ON notify_outbox "
                  "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"));
  }
  void HealOutboxWrites() { ASSERT_TRUE(db_->Exec("DROP TRIGGER temp.outbox_refuses")); }

  double Metric(const std::string& name) {
    double sum = 0;
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) sum += m.counter.value;
    }
    return sum;
  }
  std::vector<incident::TimelineEvent> Timeline() {
    return incident_store_->Timeline("INC-1").value();
  }
  std::vector<incident::TimelineEvent> OfKind(std::string_view kind) {
    std::vector<incident::TimelineEvent> out;
    for (const auto& e : Timeline()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  // PagerDuty trigger events the simulator accepted.
  int AcceptedTriggers() {
    int n = 0;
    for (const auto& r : sim_.Requests("/v2/enqueue")) {
      if (r["status"] == 202 &&
          json::parse(r["body"].get<std::string>())["event_action"] == "trigger") {
        ++n;
      }
    }
    return n;
  }

  testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  prometheus::Registry registry_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteIncidentStore> incident_store_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_store_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<incident::IncidentManager> manager_;
};

// An outbox write that failed while the incident opened or escalated lost the page, and the
// timeline said it had paged.
TEST_F(PagingTruth, OutboxWriteFailingAtOpenAndEscalationIsRetriedUntilQueuedAndSentOnce) {
  BreakOutboxWrites();
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceBy(seconds(6));  // tries at 0s, 1s, 3s: all refused
  EXPECT_EQ(Metric("tocsin_outbox_write_failures_total"), 3);
  EXPECT_TRUE(OfKind("queued").empty()) << "nothing is queued yet";
  EXPECT_TRUE(OfKind("sent").empty());
  EXPECT_EQ(AcceptedTriggers(), 0);
  EXPECT_EQ(outbox_store_->Count("pending"), 0);
  EXPECT_EQ(incident_store_->PendingPages()->size(), 1u) << "the intent waits, not handed off";

  HealOutboxWrites();
  const TimePoint healed = scheduler_.clock().Now();
  scheduler_.AdvanceBy(seconds(10));  // the retry at 7s gets through
  EXPECT_EQ(AcceptedTriggers(), 1);
  auto queued = OfKind("queued");
  ASSERT_EQ(queued.size(), 2u);  // the PagerDuty page for l1a and the Slack message
  for (const auto& e : queued) EXPECT_GT(e.at, healed) << e.text;
  EXPECT_NE(queued[0].text.find("for l1a via pagerduty"), std::string::npos) << queued[0].text;
  EXPECT_TRUE(incident_store_->PendingPages()->empty());

  // The escalation at 5m meets a refusing outbox too.
  scheduler_.AdvanceTo(testing::T0() + minutes(5) - seconds(1));
  BreakOutboxWrites();
  scheduler_.AdvanceTo(testing::T0() + minutes(5) + seconds(2));  // 5m, 5m+1s refused
  EXPECT_EQ(Metric("tocsin_outbox_write_failures_total"), 5);
  EXPECT_EQ(OfKind("queued").size(), 2u);
  HealOutboxWrites();
  scheduler_.AdvanceTo(testing::T0() + minutes(10));
  EXPECT_EQ(OfKind("queued").size(), 4u) << "step 2: the Slack message update and thread reply";
  EXPECT_EQ(AcceptedTriggers(), 1) << "the PagerDuty trigger went once, not once per retry";
  EXPECT_TRUE(incident_store_->PendingPages()->empty());
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
}

TEST_F(PagingTruth, TimelineSaysQueuedThenSentWithTheProvidersAnswer) {
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", 1}});
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceBy(minutes(1));
  auto failed = OfKind("failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].text.find("HTTP 503"), std::string::npos) << failed[0].text;
  EXPECT_NE(failed[0].text.find("will retry in"), std::string::npos) << failed[0].text;
  EXPECT_EQ(json::parse(failed[0].data)["permanent"], false);
  auto sent = OfKind("sent");
  ASSERT_EQ(sent.size(), 2u);
  // Slack's message and PagerDuty's page, each with what the provider answered.
  bool pd = false, slack = false;
  for (const auto& e : sent) {
    auto d = json::parse(e.data);
    if (d["channel"] == "pagerduty") {
      pd = true;
      EXPECT_EQ(d["status"], 202);
      EXPECT_NE(e.text.find("HTTP 202"), std::string::npos) << e.text;
      EXPECT_NE(e.text.find("tocsin/INC-1"), std::string::npos) << "PagerDuty's dedup_key";
    } else {
      slack = true;
      EXPECT_EQ(d["kind"], "post");
      EXPECT_FALSE(d["provider_ref"].get<std::string>().empty()) << "Slack's channel and ts";
    }
  }
  EXPECT_TRUE(pd && slack);
  // The API's delivery list says the same.
  auto deliveries = incident::DeliveriesToJson(Timeline());
  ASSERT_EQ(deliveries.size(), 2u) << deliveries.dump();
  for (const auto& d : deliveries) EXPECT_EQ(d["state"], "sent") << d.dump();
  EXPECT_EQ(deliveries[0]["channel"], "pagerduty");
  EXPECT_EQ(deliveries[0]["attempts"], 2);
  EXPECT_EQ(deliveries[0]["people"], json::array({"l1a"}));
}

// Every "sent" line said "page via pagerduty", the acknowledge's and the resolve's too.
TEST_F(PagingTruth, EachSentLineSaysWhatTheDeliveryDidAtTheProvider) {
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceBy(seconds(10));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", scheduler_.clock().Now()));
  scheduler_.AdvanceBy(seconds(10));
  ASSERT_TRUE(manager_->Resolve("INC-1", "l1a", scheduler_.clock().Now()));
  scheduler_.AdvanceBy(seconds(10));
  std::vector<std::string> pagerduty;
  for (const auto& e : OfKind("sent")) {
    if (json::parse(e.data)["via"] == "pagerduty") pagerduty.push_back(e.text);
  }
  ASSERT_EQ(pagerduty.size(), 3u);
  EXPECT_THAT(pagerduty[0], ::testing::StartsWith("sent: trigger page via pagerduty"));
  EXPECT_THAT(pagerduty[1], ::testing::StartsWith("sent: acknowledge page via pagerduty"));
  EXPECT_THAT(pagerduty[2], ::testing::StartsWith("sent: resolve page via pagerduty"));
  // What PagerDuty was asked to do, in the same order.
  std::vector<std::string> actions;
  for (const auto& r : sim_.Requests("/v2/enqueue")) {
    actions.push_back(json::parse(r["body"].get<std::string>())["event_action"]);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"trigger", "acknowledge", "resolve"}));
}

// The timeline said "paged" for a person no configured provider could reach.
TEST_F(PagingTruth, PersonNoProviderReachesIsNotPagedAndSaysSo) {
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceTo(testing::T0() + minutes(6));
  auto not_paged = OfKind("not_paged");
  ASSERT_EQ(not_paged.size(), 1u);
  EXPECT_NE(not_paged[0].text.find("not paged: no channel for ghost"), std::string::npos)
      << not_paged[0].text;
  EXPECT_NE(not_paged[0].text.find("pagerduty_user_id"), std::string::npos) << not_paged[0].text;
  EXPECT_EQ(Metric("tocsin_pages_unroutable_total"), 1);
  for (const auto& e : OfKind("queued")) EXPECT_EQ(e.text.find("ghost"), std::string::npos);
  EXPECT_EQ(AcceptedTriggers(), 1) << "no PagerDuty event for a step that reaches nobody";
  auto deliveries = incident::DeliveriesToJson(Timeline());
  bool listed = false;
  for (const auto& d : deliveries) {
    listed = listed || (d["person"] == "ghost" && d["state"] == "not_paged");
  }
  EXPECT_TRUE(listed) << deliveries.dump();
}

// The Slack thread reply for a step whose person no configured provider can reach said
// "Step 2: paging ghost (comms)". Every Slack and timeline sentence about a step now says what
// became of each person: paged through which channel, or not paged.
TEST_F(PagingTruth, SlackThreadSaysNotPagedForAPersonNoChannelReaches) {
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceTo(testing::T0() + minutes(6));
  std::vector<std::string> messages;
  std::vector<std::string> thread;
  for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
    json body = json::parse(r["body"].get<std::string>());
    (body.contains("thread_ts") ? thread : messages).push_back(body.dump());
    if (body.contains("thread_ts")) thread.back() = body["text"];
  }
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("Paging <@U1> (l1) via pagerduty"), std::string::npos) << messages[0];
  ASSERT_EQ(thread.size(), 1u);
  EXPECT_EQ(thread[0], "Step 2: not paged: no channel reaches No Identities (comms)");
  // The update of the incident message for step 2 says the same.
  bool updated = false;
  for (const auto& r : sim_.Requests("/api/chat.update")) {
    std::string body = r["body"];
    if (body.find("No Identities") == std::string::npos) continue;
    updated = true;
    EXPECT_NE(body.find("Not paged: no channel reaches No Identities (comms)"), std::string::npos)
        << body;
  }
  EXPECT_TRUE(updated);
  // Nothing in the timeline says ghost was paged.
  for (const auto& e : Timeline()) {
    if (e.text.find("ghost") == std::string::npos) continue;
    EXPECT_EQ(e.text.find("paging"), std::string::npos) << e.text;
    EXPECT_EQ(e.text.find("paged now"), std::string::npos) << e.text;
  }
}

// Retry timers of the outbox outlived it and fired into freed memory.
TEST_F(PagingTruth, OutboxDestroyedWithARetryPendingLeavesNothingToFire) {
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  scheduler_.AdvanceBy(seconds(1));
  ASSERT_GT(outbox_->pending(), 0u);
  manager_->Stop();
  outbox_->Stop();
  EXPECT_EQ(scheduler_.pending_timers(), 0u);
  auto requests = sim_.Requests("/v2/enqueue").size();
  outbox_.reset();
  manager_.reset();
  scheduler_.AdvanceBy(minutes(30));  // ASan: nothing runs into the freed outbox or manager
  EXPECT_EQ(sim_.Requests("/v2/enqueue").size(), requests);
  EXPECT_EQ(outbox_store_->Count("pending"), 1) << "the page is still queued for the next start";
}

}  // namespace
}  // namespace tocsin::notify
