// The default ladder on each paging provider, on the simulated clock, asserted on what the
// provider simulator says each person received: L1 at T0, the L2 of payments and the Comms
// officer at +5 min, the Duty Manager at +10 min, and an ack at +6 min that stops the ladder.
// The incident manager, the real SQLite stores, the outbox and the real notifiers run in this
// process; HTTP to the simulator is real, time is not.
#include <gmock/gmock.h>

#include <prometheus/registry.h>

#include <set>

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
#include "twilio_sim.h"

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

  // `channel` pages every step; with `partner`, Opsgenie takes PagerDuty's pages after two
  // minutes of failures.
  void Start(Channel channel, bool partner = false) {
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
    } else if (channel == Channel::kTwilio) {
      config::TwilioConfig t;
      t.api_url = sim_.url();
      t.account_sid = sim::TwilioSim::kDefaultSid;
      t.auth_token = sim::TwilioSim::kDefaultToken;
      t.from = sim::TwilioSim::kDefaultNumber;
      t.public_url = "https://tocsin.example.com/";
      p.twilio = t;
    } else if (channel == Channel::kSlack) {
      p.slack = testing::SimProviders(sim_.url(), false).slack;
    } else if (channel == Channel::Named("teams")) {
      p.teams = config::TeamsConfig{
          sim_.url() + "/workflows/wf1/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=s1g"};
    } else {
      p.opsgenie = config::OpsgenieConfig{sim_.url(), "genie-key", "", ""};
    }
    NotifyConfig cfg;
    cfg.jitter = 0;
    cfg.failover.clear();
    if (partner) {
      p.opsgenie = config::OpsgenieConfig{sim_.url(), "genie-key", "", ""};
      cfg.failover = {{Channel::kPagerDuty, Channel::kOpsgenie}};
      cfg.failover_after = minutes(2);
    }
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
  // "phone sms|call" of every text and call the simulated Twilio made, in order.
  std::vector<std::string> TwilioPages() {
    std::vector<std::pair<long long, std::string>> at;
    const json phones = json::parse(sim_.Call("GET", "/_sim/twilio/phones", ""));
    for (const auto& [phone, got] : phones.items()) {
      for (const auto& m : got["sms"])
        at.emplace_back(m["time_ms"].get<long long>(), phone + " sms");
      for (const auto& c : got["calls"]) {
        at.emplace_back(c["time_ms"].get<long long>(), phone + " call");
      }
    }
    std::stable_sort(at.begin(), at.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& [t, what] : at) out.push_back(std::move(what));
    return out;
  }
  json TeamsCards() { return json::parse(sim_.Call("GET", "/_sim/teams/messages", "")); }
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

// Review finding: whom a step had added was remembered per incident, so when the incident was
// resolved and reopened (PagerDuty opening a new incident for the same dedup key), the second
// run of the ladder requested nobody and its timeline said "requested earlier".
TEST_F(Ladder, PagerDutyPagesTheSamePeopleAgainWhenTheLadderRunsAgainAfterAReopen) {
  PagerDutyAccount({"PL1A001", "PPAY001", "PCOM001", "PDMG001"});
  Start(Channel::kPagerDuty);
  Open();
  At(minutes(5) + seconds(1));
  ASSERT_EQ(PagerDutyPages().size(), 3u);
  ASSERT_TRUE(manager_->Resolve("INC-1", "pay", testing::T0() + minutes(6)));
  At(minutes(7));
  Open();  // fires again within the reopen window: INC-1 is reopened, its ladder runs again
  At(minutes(12) + seconds(1));
  EXPECT_THAT(PagerDutyPages(),
              ElementsAre("PL1A001 escalation_policy", "PPAY001 responder_request",
                          "PCOM001 responder_request", "PL1A001 escalation_policy",
                          "PPAY001 responder_request", "PCOM001 responder_request"));
  auto incidents = json::parse(sim_.Call("GET", "/_sim/pagerduty/incidents", ""));
  EXPECT_EQ(incidents.size(), 2u) << "the reopen's trigger opened a new PagerDuty incident";
  auto sent = Said("sent", "pagerduty");
  ASSERT_GE(sent.size(), 5u);  // step 1, step 2, the resolve, step 1 and step 2 again
  EXPECT_THAT(sent.back(), HasSubstr("paged by responder request: pay (PPAY001), comms (PCOM001)"));
  for (const auto& s : sent) EXPECT_THAT(s, ::testing::Not(HasSubstr("requested earlier")));
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

// PagerDuty fails between step 1 and step 2: step 2 goes through Opsgenie, so PagerDuty has
// step 1's incident and Opsgenie step 2's alert. The acknowledge reaches both: Opsgenie at
// once, PagerDuty once it answers again (before, only Opsgenie heard it, and PagerDuty's
// incident stayed triggered, its own escalation paging on).
TEST_F(Ladder, AnAckAfterAFailOverInTheMiddleOfTheLadderReachesBothProviders) {
  PagerDutyAccount({"PL1A001", "PPAY001", "PCOM001", "PDMG001"});
  Start(Channel::kPagerDuty, /*partner=*/true);
  Open();
  At(seconds(1));
  EXPECT_THAT(PagerDutyPages(), ElementsAre("PL1A001 escalation_policy"));
  At(minutes(4));
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  // Step 2 at +5 min fails, and goes through Opsgenie two minutes on.
  At(minutes(8));
  EXPECT_THAT(OpsgeniePages(), ElementsAre("pay@example.com create", "comms@example.com create"));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "pay", testing::T0() + minutes(9)));
  At(minutes(9) + seconds(1));
  json opsgenie = json::parse(sim_.Call("GET", "/_sim/opsgenie/pages", ""));
  EXPECT_EQ(opsgenie["alerts"]["tocsin/INC-1"], "acked");
  EXPECT_THAT(opsgenie["failed"], IsEmpty());
  EXPECT_EQ(json::parse(sim_.Call("GET", "/_sim/pagerduty/incidents", ""))[0]["status"],
            "triggered")
      << "PagerDuty is down";

  sim_.Call("DELETE", "/_sim/faults", "");
  At(minutes(11));
  auto incidents = json::parse(sim_.Call("GET", "/_sim/pagerduty/incidents", ""));
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0]["status"], "acknowledged");
  At(minutes(60));
  EXPECT_EQ(PagerDutyPages().size(), 1u) << "nobody else paged through PagerDuty";
  EXPECT_EQ(OpsgeniePages().size(), 2u) << "the Duty Manager is never paged";
  // Step 1, step 2 and the acknowledge through Opsgenie, the acknowledge through PagerDuty.
  auto sent = Said("sent", "pagerduty");
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_THAT(sent[0], HasSubstr("via pagerduty, accepted"));
  EXPECT_THAT(sent[1], HasSubstr("via opsgenie (fail-over from pagerduty), accepted"));
  EXPECT_THAT(sent[1], HasSubstr("responders accepted: pay (pay@example.com), comms"));
  EXPECT_THAT(sent[2], HasSubstr("via opsgenie (fail-over from pagerduty), accepted"));
  EXPECT_THAT(sent[3], HasSubstr("sent: acknowledge of its earlier page via pagerduty, accepted"));
}

// Phone and SMS: each person of each step gets a text, then a call; the Duty Manager's phone
// never rings once the L2 has acknowledged at +6 min.
TEST_F(Ladder, TwilioTextsAndCallsEachPersonOfEachStepAndTheAckAt6MinutesStopsIt) {
  Start(Channel::kTwilio);
  Open();
  At(seconds(1));
  EXPECT_THAT(TwilioPages(), ElementsAre("+380501110011 sms", "+380501110011 call"));
  At(minutes(5) - seconds(1));
  EXPECT_EQ(TwilioPages().size(), 2u) << "nobody else before 5 min";
  At(minutes(5) + seconds(1));
  auto pages = TwilioPages();
  ASSERT_EQ(pages.size(), 6u) << ::testing::PrintToString(pages);
  // Step 2 reaches both of its people, each by text and by call (in the outbox's order).
  std::multiset<std::string> step2(pages.begin() + 2, pages.end());
  EXPECT_EQ(step2, (std::multiset<std::string>{"+380501110022 sms", "+380501110022 call",
                                               "+380501110033 sms", "+380501110033 call"}));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "pay", testing::T0() + minutes(6)));
  At(minutes(60));
  for (const auto& p : TwilioPages()) {
    EXPECT_THAT(p, ::testing::Not(HasSubstr("+380501110044"))) << "the Duty Manager was reached";
  }
  EXPECT_EQ(Said("sent", "twilio").size(), 6u) << "one sentence per text and per call";
  EXPECT_THAT(Said("failed", "twilio"), IsEmpty());
}

// Teams has no per-person paging: one card per step names who is paged, and the ack at +6 min
// is a card of its own; no card for the Duty Manager's step ever comes. No runbook base URL
// or external URL is configured here: a card with a relative link was refused by Teams (HTTP
// 400) and the page was lost, so relative links are left out of the card.
TEST_F(Ladder, TeamsShowsACardPerStepNamingItsPeopleAndTheAckAt6MinutesStopsIt) {
  Start(Channel::Named("teams"));
  Open();
  At(seconds(1));
  auto cards = TeamsCards();
  ASSERT_EQ(cards.size(), 1u) << cards.dump();
  EXPECT_THAT(cards[0].dump(), HasSubstr("L1 Day"));
  At(minutes(5) - seconds(1));
  EXPECT_EQ(TeamsCards().size(), 1u) << "nothing before 5 min";
  At(minutes(5) + seconds(1));
  cards = TeamsCards();
  ASSERT_EQ(cards.size(), 2u) << cards.dump();
  EXPECT_THAT(cards[1].dump(), HasSubstr("Payments L2"));
  EXPECT_THAT(cards[1].dump(), HasSubstr("Comms Officer"));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "comms", testing::T0() + minutes(6)));
  At(minutes(60));
  cards = TeamsCards();
  ASSERT_EQ(cards.size(), 3u) << "the ack's card, and no Duty Manager step: " << cards.dump();
  EXPECT_THAT(cards[2].dump(), ::testing::ContainsRegex("[Aa]cknowledged"));
  for (const auto& c : cards) EXPECT_THAT(c.dump(), ::testing::Not(HasSubstr("Duty Manager")));
}

// Slack: the incident message at T0 naming the L1, a thread reply naming the L2 and the Comms
// officer at +5 min, none for the Duty Manager after the ack at +6 min. The runbook link is
// relative here (no runbook_base_url): Slack refuses a message whose button has one
// (invalid_blocks, as the simulator does), so the button is left out and the page goes out.
TEST_F(Ladder, SlackPostsTheIncidentAndAThreadReplyPerStepAndTheAckAt6MinutesStopsIt) {
  Start(Channel::kSlack);
  Open();
  At(seconds(1));
  auto posted = [&] {
    std::vector<json> out;
    for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
      json body = json::parse(r["body"].get<std::string>());
      if (r["status"] == 200) out.push_back(body);
    }
    return out;
  };
  auto messages = posted();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_FALSE(messages[0].contains("thread_ts"));
  EXPECT_THAT(messages[0].dump(), HasSubstr("L1 Day"));
  EXPECT_THAT(messages[0].dump(), HasSubstr("runbook deposit-psp"));
  At(minutes(5) - seconds(1));
  EXPECT_EQ(posted().size(), 1u) << "nothing before 5 min";
  At(minutes(5) + seconds(1));
  messages = posted();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[1].contains("thread_ts")) << "step 2 answers in the incident's thread";
  EXPECT_THAT(messages[1].dump(), HasSubstr("Payments L2"));
  EXPECT_THAT(messages[1].dump(), HasSubstr("Comms Officer"));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "pay", testing::T0() + minutes(6)));
  At(minutes(60));
  for (const auto& m : posted()) EXPECT_THAT(m.dump(), ::testing::Not(HasSubstr("Duty Manager")));
  EXPECT_THAT(Said("failed", "slack"), IsEmpty());
}

}  // namespace
}  // namespace tocsin::notify
