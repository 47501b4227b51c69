// Status updates and drills as acceptance timelines on the simulated clock: the incident
// manager, the real SQLite outbox, the real PagerDuty, Slack and status-page notifiers, and the
// provider simulator over real HTTP on loopback (its status-page receiver checks every field of
// the body). Nothing here sleeps.
#include <gtest/gtest.h>

#include <memory>

#include "incident/incident_test_support.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/status_page/status_page_notifier.h"
#include "sim_fixture.h"
#include "status_page_sim.h"
#include "support/ladder_roster.h"
#include "support/temp_dir.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/report/drill_report.h"
#include "tocsin/report/oncall_report.h"
#include "tocsin/report/records.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::incident {
namespace {

using nlohmann::json;

class StatusAndDrills : public IncidentTest {
 protected:
  void SetUp() override {
    policies_.policies["default"] = DefaultPolicy();  // PagerDuty, then Slack
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<notify::Outbox>(*outbox_store_, scheduler_, executor_);
    ASSERT_TRUE(outbox_->Open());
    notify::NotifierDeps deps;
    deps.renderer = *notify::PageRenderer::Create({});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = outbox_store_.get();
    auto set = notify::BuildNotifiers(notify::testing::SimProviders(sim_.url(), false), deps);
    set.notifiers[notify::StatusPageChannel()] = std::make_shared<notify::StatusPageNotifier>(
        notify::StatusPageConfig{sim_.url() + "/statuspage/updates", sim::kStatusPageToken},
        deps.http);
    notify::NotifyConfig nc;
    nc.jitter = 0;
    outbox_->Configure(std::move(set), nc);
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", tocsin::testing::kLadderRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    manager_ = std::make_unique<IncidentManager>(scheduler_, store_, *outbox_, schedule_, policies_,
                                                 config_);
    outbox_->SetObserver(manager_.get());
    ASSERT_TRUE(manager_->Start());
  }

  // A SEV-1 deposit incident in DE for the brand casino-main.
  static dispatch::AlertGroup Sev1Group(const std::string& key = "g1") {
    auto g = Group("payments", Severity::kCritical, true, key);
    g.alerts[0].labels = Labels{{"alertname", "DepositSuccessLow"},
                                {"domain", "payments"},
                                {"sev", "1"},
                                {"market", "DE"},
                                {"brand", "casino-main"}};
    g.alerts[0].annotations["runbook"] = "deposit-psp.md";
    return g;
  }

  static dispatch::AlertGroup DrillGroup() {
    auto g = Group("payments", Severity::kCritical, true, "drill/psp-outage/1");
    g.receiver.name = "drill";
    g.alerts[0].labels = Labels{{"alertname", "DepositSuccessLow"},
                                {"domain", "payments"},
                                {"market", "DE"},
                                {"team", "payments"}};
    g.alerts[0].annotations["runbook"] = "deposit-psp.md";
    return g;
  }

  int Count(const std::string& id, const std::string& kind) {
    int n = 0;
    const auto timeline = store_.Timeline(id).value();
    for (const auto& e : timeline) n += e.kind == kind;
    return n;
  }
  json Bodies(const std::string& path) {
    json out = json::array();
    for (const auto& r : sim_.Requests(path))
      out.push_back(json::parse(r["body"].get<std::string>()));
    return out;
  }
  std::vector<Incident> Incidents() { return store_.List({}).value(); }
  json StatusPage() { return json::parse(sim_.Call("GET", "/_sim/status_page/updates", "")); }

  notify::testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  InlineExecutor executor_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_store_;
  std::unique_ptr<notify::Outbox> outbox_;
};

TEST_F(StatusAndDrills, ReminderOffersTheTemplateWithTheMarketsAndBrandsOfTheLabels) {
  manager_->OnGroupFlush(Sev1Group(), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(2))));
  AdvanceTo(minutes(15) + seconds(1));
  ASSERT_EQ(Count("INC-1", "reminder"), 1);
  std::string reminder;
  for (const auto& b : Bodies("/api/chat.postMessage")) {
    std::string text = b.value("text", "");
    if (text.find("status update due") != std::string::npos) reminder = text;
  }
  ASSERT_FALSE(reminder.empty()) << "no reminder in the war room";
  EXPECT_NE(reminder.find("*Current situation:*"), std::string::npos) << reminder;
  EXPECT_NE(reminder.find("markets DE; brands casino-main"), std::string::npos) << reminder;
  EXPECT_NE(reminder.find("*Temporary measures:*"), std::string::npos) << reminder;
  EXPECT_NE(reminder.find("*Next update in:* 15 min"), std::string::npos) << reminder;
  EXPECT_NE(reminder.find("tocsin incidents update INC-1"), std::string::npos) << reminder;
}

TEST_F(StatusAndDrills, UpdateAt20mLandsInTimelineWarRoomAndStatusPageAndMovesTheReminderTo50m) {
  manager_->OnGroupFlush(Sev1Group(), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(2))));
  AdvanceTo(minutes(15) + seconds(1));
  ASSERT_EQ(Count("INC-1", "reminder"), 1);
  AdvanceTo(minutes(20));
  StatusUpdate update{"PSP-A rejects 80 % of DE deposits", "50 % of DE deposits routed to PSP-B",
                      minutes(30)};
  auto r = manager_->PostStatusUpdate("INC-1", "l1a", update, At(minutes(20)), kOriginCli);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->next_reminder_at, At(minutes(50)));
  // Its own timeline event, with the four lines of the template.
  auto timeline = store_.Timeline("INC-1").value();
  auto it = std::find_if(timeline.begin(), timeline.end(),
                         [](const TimelineEvent& e) { return e.kind == "status_update"; });
  ASSERT_NE(it, timeline.end());
  EXPECT_EQ(it->actor, "l1a");
  EXPECT_NE(it->text.find("*Current situation:* PSP-A rejects 80 % of DE deposits"),
            std::string::npos);
  EXPECT_NE(it->text.find("*Affected markets/brands:* markets DE; brands casino-main"),
            std::string::npos);
  EXPECT_NE(it->text.find("*Next update in:* 30 min"), std::string::npos);
  AdvanceTo(minutes(20) + seconds(1));
  // The war room: a reply in the incident's thread, broadcast to the channel.
  bool war_room = false;
  for (const auto& b : Bodies("/api/chat.postMessage")) {
    if (b.value("text", "").find("PSP-A rejects 80 %") == std::string::npos) continue;
    war_room = true;
    EXPECT_TRUE(b.contains("thread_ts")) << b.dump();
    EXPECT_EQ(b.value("reply_broadcast", false), true) << b.dump();
  }
  EXPECT_TRUE(war_room);
  // The status page got the documented body (the simulator refuses any other with a 400).
  auto published = StatusPage();
  ASSERT_EQ(published.size(), 1u) << published.dump();
  const auto& p = published[0];
  EXPECT_EQ(p["incident_id"], "INC-1");
  EXPECT_EQ(p["severity"], "SEV-1");
  EXPECT_EQ(p["state"], "acknowledged");
  EXPECT_EQ(p["situation"], "PSP-A rejects 80 % of DE deposits");
  EXPECT_EQ(p["measures"], "50 % of DE deposits routed to PSP-B");
  EXPECT_EQ(p["affected"], (json{{"markets", {"DE"}}, {"brands", {"casino-main"}}}));
  EXPECT_EQ(p["next_update_in_minutes"], 30);
  EXPECT_EQ(p["next_update_at"], "2026-11-23T10:50:00Z");
  EXPECT_EQ(p["posted_by"], "l1a");
  // The old cadence (30m, 45m) is gone: the next reminder is 30 min after the update.
  AdvanceTo(minutes(50) - seconds(1));
  EXPECT_EQ(Count("INC-1", "reminder"), 1);
  AdvanceTo(minutes(50) + seconds(1));
  EXPECT_EQ(Count("INC-1", "reminder"), 2);
}

TEST_F(StatusAndDrills, BadUpdatesAreRefusedWithReasonsAndChangeNothing) {
  manager_->OnGroupFlush(Sev1Group(), At(minutes(0)));
  AdvanceTo(minutes(1));
  const auto before = store_.Timeline("INC-1").value().size();
  auto empty = manager_->PostStatusUpdate("INC-1", "l1a", {"", "x", minutes(30)}, At(minutes(1)));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind(), Error::Kind::kInvalid);
  EXPECT_NE(empty.error().message().find("situation"), std::string::npos);
  auto too_soon =
      manager_->PostStatusUpdate("INC-1", "l1a", {"s", "", seconds(30)}, At(minutes(1)));
  ASSERT_FALSE(too_soon);
  EXPECT_NE(too_soon.error().message().find("1m to 24h"), std::string::npos);
  auto unknown = manager_->PostStatusUpdate("INC-9", "l1a", {"s", "", minutes(30)}, At(minutes(1)));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind(), Error::Kind::kNotFound);
  EXPECT_EQ(store_.Timeline("INC-1").value().size(), before);
  ASSERT_TRUE(manager_->Resolve("INC-1", "l1a", At(minutes(2))));
  auto resolved =
      manager_->PostStatusUpdate("INC-1", "l1a", {"s", "", minutes(30)}, At(minutes(3)));
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().kind(), Error::Kind::kConflict);
  EXPECT_TRUE(StatusPage().empty());
}

TEST_F(StatusAndDrills, DrillRunsTheRealLadderWithEveryProviderRequestMarkedAndStopsAtOnce) {
  const DrillSpec spec{"psp-outage", "payments", "deposit-psp"};
  // T0 L1; 5m the payments L2 and Comms; the ack at 6m keeps the Duty Manager out.
  auto opened = manager_->OpenDrill(DrillGroup(), spec, "l1a", At(minutes(0)));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_TRUE(opened->drill);
  EXPECT_EQ(opened->title.rfind("DRILL \u2014 ", 0), 0u) << opened->title;
  AdvanceTo(minutes(5) + seconds(1));
  ASSERT_TRUE(manager_->AddNote("INC-1", "pay", "following runbook Deposit-PSP, step 2",
                                At(minutes(5) + seconds(30))));
  // A drill's status update goes to the war room, never to the status page.
  ASSERT_TRUE(manager_->PostStatusUpdate("INC-1", "l1a", {"drill: PSP-A down", "", minutes(15)},
                                         At(minutes(5) + seconds(40))));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(6))));
  AdvanceTo(minutes(7));
  // Stopped at once: resolved, and the providers' resolve goes out in the same tick.
  ASSERT_TRUE(manager_->Resolve("INC-1", "l1a", At(minutes(7))));
  AdvanceTo(minutes(7) + seconds(1));
  AdvanceTo(minutes(30));

  auto events = Bodies("/v2/enqueue");
  std::set<std::string> actions;
  for (const auto& e : events) {
    actions.insert(e.value("event_action", ""));
    EXPECT_EQ(e.value("dedup_key", ""), "tocsin/drill/INC-1") << e.dump();
    if (e["event_action"] == "trigger") {
      EXPECT_EQ(e["payload"]["summary"].get<std::string>().rfind("DRILL \u2014 ", 0), 0u)
          << e.dump();
      EXPECT_EQ(e["payload"]["custom_details"]["drill"], true) << e.dump();
    }
  }
  EXPECT_EQ(actions, (std::set<std::string>{"trigger", "acknowledge", "resolve"}));
  auto slack = Bodies("/api/chat.postMessage");
  auto updates = Bodies("/api/chat.update");
  ASSERT_GE(slack.size(), 3u);
  ASSERT_GE(updates.size(), 1u);
  for (const auto* list : {&slack, &updates}) {
    for (const auto& b : *list) {
      EXPECT_EQ(b.value("text", "").rfind("DRILL \u2014 ", 0), 0u) << b.dump();
    }
  }
  EXPECT_TRUE(StatusPage().empty()) << "a drill reached the status page";
  EXPECT_TRUE(sim_.Requests("/statuspage").empty());
  // Nobody was paged after the stop: the Duty Manager (10m) never.
  for (const auto& e : events) {
    if (e["event_action"] != "trigger") continue;
    EXPECT_EQ(e.dump().find("Duty Manager"), std::string::npos) << e.dump();
  }

  // What the drill measured, and that the on-call KPIs do not see it.
  std::vector<report::IncidentRecord> records;
  for (const auto& inc : Incidents()) records.push_back({inc, store_.Timeline(inc.id).value()});
  auto drills = report::BuildDrillReport(records);
  ASSERT_EQ(drills.size(), 1u);
  const auto& d = drills[0];
  EXPECT_EQ(d.scenario, "psp-outage");
  EXPECT_EQ(d.team, "payments");
  EXPECT_EQ(d.state, "stopped");
  EXPECT_EQ(d.time_to_ack, minutes(6));
  ASSERT_EQ(d.steps.size(), 2u);
  EXPECT_EQ(d.steps[0].time_to_ack, minutes(6));
  EXPECT_EQ(d.steps[1].time_to_ack, minutes(1));
  EXPECT_EQ(d.time_to_runbook, minutes(5) + seconds(30));
  EXPECT_EQ(d.runbook_found_by, "pay");
  report::OncallOptions options;
  options.from = At(-std::chrono::hours(1));
  options.to = At(std::chrono::hours(1));
  EXPECT_EQ(report::BuildOncallReport(records, schedule_.get(), options).incidents, 0);
  // A real incident beside it is counted, and is no drill.
  manager_->OnGroupFlush(Sev1Group("real"), At(minutes(31)));
  records.clear();
  for (const auto& inc : Incidents()) records.push_back({inc, store_.Timeline(inc.id).value()});
  EXPECT_EQ(report::BuildOncallReport(records, schedule_.get(), options).incidents, 1);
  EXPECT_EQ(report::BuildDrillReport(records).size(), 1u);
}

TEST_F(StatusAndDrills, DrillNeverFoldsIntoAnOpenIncidentOfTheSameKey) {
  manager_->OnGroupFlush(Sev1Group("drill/psp-outage/1"), At(minutes(0)));
  auto opened =
      manager_->OpenDrill(DrillGroup(), {"psp-outage", "", "deposit-psp"}, "l1a", At(minutes(1)));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), Error::Kind::kConflict);
  EXPECT_FALSE(store_.Get("INC-1").value()->drill);
}

}  // namespace
}  // namespace tocsin::incident
