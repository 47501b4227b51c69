// DOMAIN.md's ladder on each paging provider, on the simulated clock, asserted on what the
// provider simulator says each person received: L1 at T0, the L2 of payments and the Comms
// officer at +5 min, the Duty Manager at +10 min, and an ack at +6 min that stops the ladder.
// The incident manager, the real SQLite stores, the outbox and the real notifiers run in this
// process; HTTP to the simulator is real, time is not.
#include <gmock/gmock.h>

#include <prometheus/registry.h>

#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"
#include "support/ladder_roster.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/incident/escalation_policy.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kRoutingKey = "0123456789abcdef0123456789abcdef";
constexpr const char* kApiToken = "pd-rest-S3CR3T-token";

class Ladder : public ::testing::Test {
 protected:
  Ladder() : scheduler_(testing::T0()) {
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    incident_store_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    EXPECT_TRUE(incident_store_->Migrate());
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<Outbox>(*outbox_store_, scheduler_, executor_, &registry_, 7);
    EXPECT_TRUE(outbox_->Open());
  }

  // The PagerDuty account as a team sets it up once: users with the roster's ids, the REST key,
  // and the service of the routing key paging the L1 rotation.
  void PagerDutyAccount(std::vector<std::string> user_ids) {
    json users = json::array({{{"id", "PBOT001"}, {"email", "tocsin@example.com"}}});
    for (const auto& id : user_ids) users.push_back({{"id", id}, {"email", id + "@example.com"}});
    json account = json::object();
    account["api_token"] = kApiToken;
    account["users"] = users;
    account["services"][kRoutingKey] = json::array({"PL1A001"});
    std::string answer = sim_.Call("POST", "/_sim/pagerduty/account", account.dump());
    ASSERT_THAT(answer, HasSubstr("configured"));
  }

  void Start(Channel channel) {
    config::ProvidersConfig p;
    if (channel == Channel::kPagerDuty) {
      config::PagerDutyConfig pd;
      pd.events_url = sim_.url();
      pd.routing_key = kRoutingKey;
      pd.api_url = sim_.url();
      pd.api_token = kApiToken;
      pd.from = "tocsin@example.com";
      pd.requester_id = "PBOT001";
      p.pagerduty = pd;
    } else {
      p.opsgenie = config::OpsgenieConfig{sim_.url(), "genie-key", "", ""};
    }
    NotifyConfig cfg;
    cfg.jitter = 0;
    NotifierDeps deps;
    deps.renderer = *PageRenderer::Create(RenderOptions{});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = outbox_store_.get();
    outbox_->Configure(BuildNotifiers(p, deps), cfg);

    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", tocsin::testing::kLadderRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    incident::EscalationPolicy policy = incident::DefaultPolicy();
    for (auto& step : policy.steps) step.channels = {channel};
    incident::PolicySet policies;
    policies.policies["default"] = policy;
    manager_ = std::make_unique<incident::IncidentManager>(
        scheduler_, *incident_store_, *outbox_, std::make_shared<const oncall::Schedule>(*roster),
        policies, incident::IncidentsConfig{}, &registry_);
    outbox_->SetObserver(manager_.get());
    ASSERT_TRUE(manager_->Start());
  }

  void Open() {
    dispatch::AlertGroup g;
    g.key = "g1";
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    Alert a = testing::DepositAlert();
    a.labels = a.labels.With("domain", "payments");
    g.alerts.push_back(a);
    manager_->OnGroupFlush(g, scheduler_.clock().Now());
  }
  void At(Duration since_t0) { scheduler_.AdvanceTo(testing::T0() + since_t0); }

  // "user how" of every page the simulated PagerDuty sent, in order.
  std::vector<std::string> PagerDutyPages() {
    std::vector<std::string> out;
    for (const auto& p : json::parse(sim_.Call("GET", "/_sim/pagerduty/pages", ""))) {
      out.push_back(p["user_id"].get<std::string>() + " " + p["how"].get<std::string>());
    }
    return out;
  }
  std::vector<std::string> OpsgeniePages() {
    std::vector<std::string> out;
    const json all = json::parse(sim_.Call("GET", "/_sim/opsgenie/pages", ""));
    for (const auto& p : all["pages"]) {
      out.push_back(p["username"].get<std::string>() + " " + p["how"].get<std::string>());
    }
    return out;
  }
  // Timeline sentences of `kind` about deliveries through `channel`.
  std::vector<std::string> Said(std::string_view kind, std::string_view channel) {
    std::vector<std::string> out;
    const auto timeline = incident_store_->Timeline("INC-1").value();
    for (const auto& e : timeline) {
      if (e.kind == kind && json::parse(e.data).value("channel", "") == channel) {
        out.push_back(e.text);
      }
    }
    return out;
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

TEST_F(Ladder, PagerDutyPagesEachPersonOfEachStepAndTheAckAt6MinutesStopsIt) {
  PagerDutyAccount({"PL1A001", "PPAY001", "PCOM001", "PDMG001"});
  Start(Channel::kPagerDuty);
  Open();
  At(seconds(1));
  // T0: the trigger opens the incident; the service's escalation policy pages the L1.
  EXPECT_THAT(PagerDutyPages(), ElementsAre("PL1A001 escalation_policy"));
  At(minutes(5) - seconds(1));
  EXPECT_EQ(PagerDutyPages().size(), 1u) << "nobody else before 5 min";
  // T+5 min: the L2 of payments and the Comms officer are each paged.
  At(minutes(5) + seconds(1));
  EXPECT_THAT(PagerDutyPages(),
              ElementsAre("PL1A001 escalation_policy", "PPAY001 responder_request",
                          "PCOM001 responder_request"));
  auto incidents = json::parse(sim_.Call("GET", "/_sim/pagerduty/incidents", ""));
  ASSERT_EQ(incidents.size(), 1u) << "step 2's trigger folded into the open incident";
  EXPECT_EQ(incidents[0]["alert_counts"]["all"], 2);
  // T+6 min: the L2 acknowledges; the Duty Manager is never paged.
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "pay", testing::T0() + minutes(6)));
  At(minutes(60));
  EXPECT_EQ(PagerDutyPages().size(), 3u);
  incidents = json::parse(sim_.Call("GET", "/_sim/pagerduty/incidents", ""));
  EXPECT_EQ(incidents[0]["status"], "acknowledged");

  // The timeline says who was paged, and only them.
  auto sent = Said("sent", "pagerduty");
  ASSERT_EQ(sent.size(), 3u);  // step 1, step 2, the ack
  EXPECT_THAT(sent[0], HasSubstr("already on it: l1a (PL1A001) assigned"));
  EXPECT_THAT(sent[1], HasSubstr("paged by responder request: pay (PPAY001), comms (PCOM001)"));
  for (const auto& s : sent) EXPECT_THAT(s, ::testing::Not(HasSubstr(kApiToken)));
  EXPECT_THAT(Said("failed", "pagerduty"), IsEmpty());
}

TEST_F(Ladder, PagerDutyUnknownUserIsNotPagedAndTheTimelineSaysSo) {
  // The Duty Manager's id in the roster is not a user of the PagerDuty account.
  PagerDutyAccount({"PL1A001", "PPAY001", "PCOM001"});
  Start(Channel::kPagerDuty);
  Open();
  At(minutes(10) + seconds(1));
  EXPECT_THAT(PagerDutyPages(),
              ElementsAre("PL1A001 escalation_policy", "PPAY001 responder_request",
                          "PCOM001 responder_request"));
  auto failed = Said("failed", "pagerduty");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0], HasSubstr("NOT paged: dm (PDMG001) (pagerduty REST: HTTP 404"));
  EXPECT_THAT(failed[0], HasSubstr("given up"));
  for (const auto& s : Said("sent", "pagerduty")) EXPECT_THAT(s, ::testing::Not(HasSubstr("dm")));
}

TEST_F(Ladder, PagerDutyThrottledResponderRequestIsRetriedAfterRetryAfterAndPagesOnce) {
  PagerDutyAccount({"PL1A001", "PPAY001", "PCOM001", "PDMG001"});
  Start(Channel::kPagerDuty);
  Open();
  At(minutes(5) - seconds(1));
  // Step 2's first responder request (the L2's) is throttled.
  sim_.Fault({{"path", "/incidents/"}, {"status", 429}, {"retry_after", "30"}, {"count", 1}});
  At(minutes(5) + seconds(1));
  EXPECT_THAT(PagerDutyPages(),
              ElementsAre("PL1A001 escalation_policy", "PCOM001 responder_request"));
  auto failed = Said("failed", "pagerduty");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0], HasSubstr("paged by responder request: comms (PCOM001)"));
  EXPECT_THAT(failed[0], HasSubstr("NOT paged: pay (PPAY001) (pagerduty REST: HTTP 429"));
  EXPECT_THAT(failed[0], HasSubstr("will retry in 30s"));
  At(minutes(5) + seconds(29));
  EXPECT_EQ(PagerDutyPages().size(), 2u) << "Retry-After is honoured";
  At(minutes(5) + seconds(32));
  EXPECT_THAT(PagerDutyPages(),
              ElementsAre("PL1A001 escalation_policy", "PCOM001 responder_request",
                          "PPAY001 responder_request"))
      << "the retry paged the L2 and not the Comms officer a second time";
  auto sent = Said("sent", "pagerduty");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_THAT(sent[1], HasSubstr("paged by responder request: pay (PPAY001); already on it: "
                                 "comms (PCOM001) requested earlier"));
}

TEST_F(Ladder, OpsgenieNotifiesEachPersonOfEachStepAndTheAckAt6MinutesStopsIt) {
  Start(Channel::kOpsgenie);
  Open();
  At(seconds(1));
  EXPECT_THAT(OpsgeniePages(), ElementsAre("l1a@example.com create"));
  At(minutes(5) - seconds(1));
  EXPECT_EQ(OpsgeniePages().size(), 1u);
  At(minutes(5) + seconds(1));
  EXPECT_THAT(OpsgeniePages(),
              ElementsAre("l1a@example.com create", "pay@example.com add_responder",
                          "comms@example.com add_responder"));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "comms", testing::T0() + minutes(6)));
  At(minutes(60));
  EXPECT_EQ(OpsgeniePages().size(), 3u) << "the Duty Manager is never paged";
  auto sent = Said("sent", "opsgenie");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_THAT(sent[0], HasSubstr("responders accepted: l1a (l1a@example.com)"));
  EXPECT_THAT(sent[1], HasSubstr("responders accepted: pay (pay@example.com), comms "
                                 "(comms@example.com)"));
  EXPECT_THAT(sent[2], ::testing::Not(HasSubstr("responders")));
}

}  // namespace
}  // namespace tocsin::notify
