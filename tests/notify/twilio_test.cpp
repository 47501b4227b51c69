// Twilio against the provider simulator on loopback: the notifier's SMS and calls, the outbox's
// per-person items and per-number rate limit, and the call of last resort on the simulated
// clock ("when both SaaS fail, the Duty Manager's phone rang").
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/twilio/twilio_notifier.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"
#include "support/log_capture.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/store/sqlite_outbox_store.h"
#include "twilio_sim.h"

namespace tocsin::notify {
namespace {

using incident::Channel;
using incident::PageAction;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kOlenaPhone = "+380501110001";
constexpr const char* kIhorPhone = "+380501110090";

config::TwilioConfig SimTwilio(const std::string& url) {
  config::TwilioConfig t;
  t.api_url = url;
  t.account_sid = sim::TwilioSim::kDefaultSid;
  t.auth_token = sim::TwilioSim::kDefaultToken;
  t.from = sim::TwilioSim::kDefaultNumber;
  t.public_url = "https://tocsin.example.com/";
  return t;
}

oncall::Person Ihor() {
  oncall::Person p;
  p.id = "ihor";
  p.name = "Ihor Yakovenko";
  p.pagerduty_user_id = "P0IHOR";
  p.phone = "+380 50 111 00 90";  // as a roster may spell it
  return p;
}

incident::PageRequest PhonePage(std::string id = "INC-42") {
  auto r = testing::DepositPage(std::move(id));
  r.targets[0].person.phone = kOlenaPhone;
  r.targets[0].channels = {Channel::kTwilio};
  return r;
}

OutboxItem Item(std::string kind, std::string phone = kOlenaPhone) {
  OutboxItem item;
  item.channel = Channel::kTwilio;
  item.original_channel = Channel::kTwilio;
  item.kind = std::move(kind);
  item.target = std::move(phone);
  item.person_id = "olena";
  item.request = PhonePage();
  return item;
}

class TwilioNotifierTest : public ::testing::Test {
 protected:
  TwilioNotifierTest() {
    RenderOptions ro;
    ro.runbook_base_url = "https://git.example.com/runbooks/";
    renderer_ = *PageRenderer::Create(ro);
  }
  TwilioNotifier Make(config::TwilioConfig c) {
    return TwilioNotifier(std::move(c), renderer_, std::make_shared<CurlHttpClient>());
  }
  json Phones() { return json::parse(sim_.Call("GET", "/_sim/twilio/phones", "")); }

  testing::SimServer sim_;
  std::shared_ptr<const PageRenderer> renderer_;
};

TEST_F(TwilioNotifierTest, SmsCarriesTheFourQuestionsAndHowToAnswer) {
  auto n = Make(SimTwilio(sim_.url()));
  auto r = n.Deliver(Item("sms"));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.provider_ref.substr(0, 2), "SM");
  auto sms = Phones()[kOlenaPhone]["sms"];
  ASSERT_EQ(sms.size(), 1u);
  std::string body = sms[0]["body"];
  EXPECT_EQ(sms[0]["from"], sim::TwilioSim::kDefaultNumber);
  EXPECT_NE(body.find("[tocsin] SEV-1 INC-42"), std::string::npos) << body;
  EXPECT_NE(body.find("What: "), std::string::npos) << body;
  EXPECT_NE(body.find("Where: "), std::string::npos) << body;
  EXPECT_NE(body.find("How much: "), std::string::npos) << body;
  EXPECT_NE(body.find("Action: "), std::string::npos) << body;
  EXPECT_NE(body.find("https://git.example.com/runbooks/deposit-psp"), std::string::npos);
  EXPECT_NE(body.find("Reply 1 or ACK to acknowledge"), std::string::npos) << body;
}

TEST_F(TwilioNotifierTest, CallSpeaksThePageAndGathersOneKeyForTocsin) {
  auto n = Make(SimTwilio(sim_.url()));
  auto r = n.Deliver(Item("call"));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.provider_ref.substr(0, 2), "CA");
  auto calls = Phones()[kOlenaPhone]["calls"];
  ASSERT_EQ(calls.size(), 1u);
  std::string twiml = calls[0]["twiml"];
  EXPECT_NE(twiml.find(R"(<Gather numDigits="1")"), std::string::npos) << twiml;
  // The public URL without its trailing slash, the callback path and the incident.
  EXPECT_NE(
      twiml.find(R"(action="https://tocsin.example.com/webhooks/twilio/voice?incident=INC-42")"),
      std::string::npos)
      << twiml;
  EXPECT_NE(twiml.find("Press 1 to acknowledge"), std::string::npos);
  EXPECT_NE(twiml.find("What: "), std::string::npos);
  EXPECT_NE(twiml.find("Action: "), std::string::npos);
  EXPECT_LE(twiml.size(), TwilioNotifier::kTwimlMax);
}

TEST_F(TwilioNotifierTest, LastResortCallSaysWhyTocsinCallsDirectly) {
  auto n = Make(SimTwilio(sim_.url()));
  ASSERT_TRUE(n.Deliver(Item("last_resort", kIhorPhone)).ok());
  std::string twiml = Phones()[kIhorPhone]["calls"][0]["twiml"];
  EXPECT_NE(twiml.find("PagerDuty and Opsgenie are not answering"), std::string::npos) << twiml;
}

TEST_F(TwilioNotifierTest, TextIsEscapedForTwiml) {
  auto item = Item("call");
  item.request.alerts[0].annotations["action"] = "restart <pool> & \"drain\"";
  auto n = Make(SimTwilio(sim_.url()));
  std::string twiml = n.CallTwiml(item);
  EXPECT_EQ(twiml.find("<pool>"), std::string::npos);
  EXPECT_NE(twiml.find("&lt;pool&gt; &amp; &quot;drain&quot;"), std::string::npos) << twiml;
}

TEST_F(TwilioNotifierTest, WrongTokenIsPermanentAndNeverShowsTheToken) {
  auto c = SimTwilio(sim_.url());
  c.auth_token = "not-the-token-of-this-account";
  auto n = Make(c);
  auto r = n.Deliver(Item("sms"));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.detail.find("20003"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find(c.auth_token), std::string::npos);
  EXPECT_EQ(r.detail.find(sim::TwilioSim::kDefaultToken), std::string::npos);
  EXPECT_TRUE(Phones().empty());
}

TEST_F(TwilioNotifierTest, ThrottledIsRetriedWithRetryAfter) {
  sim_.Fault({{"path", "/2010-04-01/"}, {"status", 429}, {"retry_after", "7"}});
  auto n = Make(SimTwilio(sim_.url()));
  auto r = n.Deliver(Item("call"));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kRetry);
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, seconds(7));
  EXPECT_TRUE(n.Deliver(Item("call")).ok());
}

TEST_F(TwilioNotifierTest, SimulatorRefusesWhatTwilioRefuses) {
  // The simulator's strictness, through the notifier: a From that is not the account's.
  auto c = SimTwilio(sim_.url());
  c.from = "+15005550001";
  auto r = Make(c).Deliver(Item("sms"));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent);
  EXPECT_NE(r.detail.find("21606"), std::string::npos) << r.detail;
  // And directly: a national number, a missing body, a missing Twiml/Url.
  HttpClientRequest req;
  req.method = "POST";
  req.url = sim_.url() + "/2010-04-01/Accounts/" + sim::TwilioSim::kDefaultSid + "/Messages.json";
  req.basic_user = sim::TwilioSim::kDefaultSid;
  req.basic_password = sim::TwilioSim::kDefaultToken;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  CurlHttpClient client;
  auto send = [&](std::vector<std::pair<std::string, std::string>> form) {
    req.body = FormEncode(form);
    auto res = client.Send(req);
    return res ? json::parse(res->body) : json();
  };
  auto bad_to =
      send({{"To", "0501110001"}, {"From", sim::TwilioSim::kDefaultNumber}, {"Body", "x"}});
  EXPECT_EQ(bad_to["code"], 21211);
  EXPECT_EQ(bad_to["status"], 400);
  auto no_body = send({{"To", kOlenaPhone}, {"From", sim::TwilioSim::kDefaultNumber}});
  EXPECT_EQ(no_body["code"], 21602);
  req.url = sim_.url() + "/2010-04-01/Accounts/" + sim::TwilioSim::kDefaultSid + "/Calls.json";
  auto no_twiml = send({{"To", kOlenaPhone}, {"From", sim::TwilioSim::kDefaultNumber}});
  EXPECT_EQ(no_twiml["code"], 21205);
}

TEST_F(TwilioNotifierTest, RosterPhoneThatIsNotInternationalFailsSayingWhatToFix) {
  auto n = Make(SimTwilio(sim_.url()));
  auto r = n.Deliver(Item("sms", "050 111 00 01"));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent);
  EXPECT_NE(r.detail.find("olena"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("fix `phone` in the roster"), std::string::npos) << r.detail;
  EXPECT_TRUE(Phones().empty());
}

// The outbox with PagerDuty, Opsgenie, Slack and Twilio on the simulator, on the simulated clock.
class TwilioOutboxTest : public ::testing::Test {
 protected:
  TwilioOutboxTest() : scheduler_(testing::T0()) {
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<Outbox>(*store_, scheduler_, executor_, nullptr, 11);
    EXPECT_TRUE(outbox_->Open());
    config_.jitter = 0;
    config_.failover_after = minutes(2);
    outbox_->SetOnCallLookup([](const std::string& role, TimePoint) {
      return role == "duty-manager" ? std::vector<oncall::Person>{Ihor()}
                                    : std::vector<oncall::Person>{};
    });
  }
  void Configure(bool with_slack = true) {
    config::ProvidersConfig p = testing::SimProviders(sim_.url(), true);
    if (!with_slack) p.slack.reset();
    p.twilio = SimTwilio(sim_.url());
    NotifierDeps deps;
    deps.renderer = *PageRenderer::Create({});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = store_.get();
    outbox_->Configure(BuildNotifiers(p, deps), config_);
  }
  // PagerDuty and Opsgenie both answering 503, for good.
  void BothSaasDown(bool with_slack = true) {
    Configure(with_slack);
    sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
    sim_.Fault({{"path", "/v2/alerts"}, {"status", 503}, {"count", -1}});
  }
  // A page of `incident` through PagerDuty only, or its acknowledge or resolve, decided now.
  incident::PageRequest PagerDutyPage(
      const std::string& incident, const std::string& key,
      incident::PageAction action = incident::PageAction::kTrigger) {
    auto page = testing::DepositPage(incident);
    page.targets[0].channels = {Channel::kPagerDuty};
    page.action = action;
    page.idempotency_key = key;
    page.at = scheduler_.clock().Now();
    return page;
  }
  json Phones() { return json::parse(sim_.Call("GET", "/_sim/twilio/phones", "")); }
  std::size_t Count(const std::string& phone, const char* what) {
    auto phones = Phones();
    return phones.contains(phone) ? phones[phone][what].size() : 0;
  }

  testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  NotifyConfig config_;
  std::unique_ptr<store::Database> db_;
  // Send, and the receipt once the outbox's write has answered (the store here writes on the
  // caller's thread, so by the time Send returns; the scheduler runs anything it posted).
  Result<incident::PageReceipt> SendNow(const incident::PageRequest& page) {
    std::optional<Result<incident::PageReceipt>> out;
    outbox_->Send(page, [&out](Result<incident::PageReceipt> r) { out = std::move(r); });
    scheduler_.AdvanceBy(std::chrono::milliseconds(0));
    if (!out) return Fail(Error::Permanent("the outbox never answered Send"));
    return std::move(*out);
  }
  std::unique_ptr<store::SqliteOutboxStore> store_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(TwilioOutboxTest, LadderStepOnTwilioTextsThenCallsThePerson) {
  Configure();
  auto receipt = SendNow(PhonePage());
  ASSERT_TRUE(receipt);
  std::vector<std::string> kinds;  // Slack's incident message is queued too
  for (const auto& q : receipt->queued) {
    if (q.channel == Channel::kTwilio) kinds.push_back(q.kind);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"sms", "call"}));
  scheduler_.AdvanceBy(seconds(1));
  EXPECT_EQ(Count(kOlenaPhone, "sms"), 1u);
  EXPECT_EQ(Count(kOlenaPhone, "calls"), 1u);
  auto phones = Phones();
  EXPECT_LT(phones[kOlenaPhone]["sms"][0]["time_ms"].get<long long>() - 1,
            phones[kOlenaPhone]["calls"][0]["time_ms"].get<long long>());
  // The same step sent again (a restart, a retry of Send) rings nobody twice.
  ASSERT_TRUE(SendNow(PhonePage()));
  scheduler_.AdvanceBy(seconds(1));
  EXPECT_EQ(Count(kOlenaPhone, "calls"), 1u);
}

TEST_F(TwilioOutboxTest, OneNumberIsNotRungMoreOftenThanItsLimitAndNothingIsDropped) {
  config_.rate_limits[Channel::kTwilio] = {4, minutes(1)};
  Configure();
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(SendNow(PhonePage(fmt::format("INC-{}", i))));
  scheduler_.AdvanceBy(seconds(30));
  EXPECT_EQ(Count(kOlenaPhone, "sms") + Count(kOlenaPhone, "calls"), 4u) << "the limit holds";
  scheduler_.AdvanceBy(minutes(2));
  EXPECT_EQ(Count(kOlenaPhone, "sms"), 4u) << "the rest waited its turn";
  EXPECT_EQ(Count(kOlenaPhone, "calls"), 4u);
  EXPECT_EQ(outbox_->pending(), 0u);
}

// Acceptance, on the simulated clock: at T0 L1 is paged through PagerDuty; PagerDuty and
// Opsgenie both answer 503 from then on; at T0 + failover_after PagerDuty fails over to
// Opsgenie, which fails too; once Opsgenie has failed as long, the Duty Manager's phone rings.
TEST_F(TwilioOutboxTest, WhenBothSaasFailTheDutyManagersPhoneRang) {
  Configure();
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  sim_.Fault({{"path", "/v2/alerts"}, {"status", 503}, {"count", -1}});
  auto page = testing::DepositPage("INC-7");
  page.targets[0].channels = {Channel::kPagerDuty};
  outbox_->Send(page, {});
  scheduler_.AdvanceBy(minutes(1));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 0u) << "one provider down is a fail-over, not a call";
  scheduler_.AdvanceTo(testing::T0() + minutes(10));
  ASSERT_EQ(Count(kIhorPhone, "calls"), 1u) << "the Duty Manager's phone rang once";
  std::string twiml = Phones()[kIhorPhone]["calls"][0]["twiml"];
  EXPECT_NE(twiml.find("PagerDuty and Opsgenie are not answering"), std::string::npos);
  EXPECT_NE(twiml.find("incident=INC-7"), std::string::npos);
  EXPECT_EQ(Count(kIhorPhone, "sms"), 0u);
  bool announced = false;
  for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
    announced = announced || r["body"].get<std::string>().find(
                                 "calling the duty-manager "
                                 "directly") != std::string::npos;
  }
  EXPECT_TRUE(announced) << "Slack is told";
  // Still down an hour later: no second call for the same step.
  scheduler_.AdvanceTo(testing::T0() + minutes(70));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 1u);
}

// The bug: the L1 acknowledged from Slack while PagerDuty and Opsgenie were both down; the
// acknowledge waited behind the stuck trigger, and the Duty Manager was called anyway. (The
// acknowledge now withdraws a trigger not on its way; one on its way when the acknowledge came
// is what the call's own check of pending acknowledges covers, which an inline executor cannot
// stage.)
TEST_F(TwilioOutboxTest, NoLastResortCallForAnIncidentAcknowledgedMeanwhile) {
  BothSaasDown();
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/step-0/trigger"), {});
  scheduler_.AdvanceBy(minutes(2));
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/acknowledge", incident::PageAction::kAcknowledge),
                {});
  scheduler_.AdvanceTo(testing::T0() + minutes(30));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 0u);
}

// Review finding: the call's check saw only acknowledges still queued. One made in PagerDuty's
// app (its webhooks working while its events API fails), with no Slack to update, queues
// nothing: the call was planned, withdrawn as it was written, and still announced ("calling
// the duty-manager directly") in the notice, which without Slack is the log.
TEST_F(TwilioOutboxTest, NoLastResortCallForAnIncidentAcknowledgedInTheProvidersApp) {
  tocsin::testing::LogCapture log;
  BothSaasDown(/*with_slack=*/false);
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/step-0/trigger"), {});
  // PagerDuty fails over to Opsgenie at T0+2m (failover_after); Opsgenie fails at 2m, 2m05s,
  // 2m15s, 2m35s and 3m15s, which blocks its lane for 80 s, and has failed for failover_after
  // at 4m. Acknowledged in between, the trigger still waits in the blocked lane.
  scheduler_.AdvanceTo(testing::T0() + minutes(3) + seconds(30));
  auto ack = PagerDutyPage("INC-7", "INC-7/acknowledge", incident::PageAction::kAcknowledge);
  ack.origin = incident::kOriginPagerDuty;
  outbox_->Send(ack, {});
  scheduler_.AdvanceTo(testing::T0() + minutes(30));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 0u);
  for (const auto& line : log.lines()) {
    EXPECT_EQ(line.find("calling the duty-manager"), std::string::npos) << line;
  }
}

// A resolve stuck behind the outage does not stand for the incident reopened after it: the
// reopened incident's stuck trigger still calls the Duty Manager.
TEST_F(TwilioOutboxTest, AStuckResolveDoesNotSilenceTheReopenedIncidentsCall) {
  BothSaasDown();
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/step-0/trigger"), {});
  scheduler_.AdvanceBy(minutes(1));
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/resolve", incident::PageAction::kResolve), {});
  scheduler_.AdvanceBy(minutes(1));
  outbox_->Send(PagerDutyPage("INC-7", "INC-7/e1/step-0/trigger"), {});
  scheduler_.AdvanceTo(testing::T0() + minutes(30));
  ASSERT_EQ(Count(kIhorPhone, "calls"), 1u) << "the reopened incident's step reaches someone";
}

TEST_F(TwilioOutboxTest, NoLastResortCallWhileTheOtherSaasAnswers) {
  Configure();
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  auto page = testing::DepositPage("INC-8");
  page.targets[0].channels = {Channel::kPagerDuty};
  outbox_->Send(page, {});
  scheduler_.AdvanceTo(testing::T0() + minutes(30));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 0u);
  EXPECT_EQ(sim_.Requests("/v2/alerts").size(), 1u) << "Opsgenie took the page";
}

TEST_F(TwilioOutboxTest, LastResortRoleCanBeTurnedOff) {
  config_.last_resort_role = "";
  Configure();
  sim_.Fault({{"path", "/v2/enqueue"}, {"status", 503}, {"count", -1}});
  sim_.Fault({{"path", "/v2/alerts"}, {"status", 503}, {"count", -1}});
  auto page = testing::DepositPage("INC-9");
  page.targets[0].channels = {Channel::kPagerDuty};
  outbox_->Send(page, {});
  scheduler_.AdvanceTo(testing::T0() + minutes(30));
  EXPECT_EQ(Count(kIhorPhone, "calls"), 0u);
}

}  // namespace
}  // namespace tocsin::notify

namespace tocsin::notify {
namespace {

config::Diagnostics CheckTwilioFixture(const std::string& file) {
  auto loaded = config::LoadConfig(std::string(TOCSIN_TESTDATA_DIR) + "/notify/providers/" + file);
  config::Diagnostics d = loaded.diagnostics;
  if (loaded.config) ValidateProviders(*loaded.config, d);
  return d;
}

TEST(TwilioConfig, GoodFixtureLoadsWithTheTokenFromItsFile) {
  auto loaded =
      config::LoadConfig(std::string(TOCSIN_TESTDATA_DIR) + "/notify/providers/good/twilio.yaml");
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.ToString();
  config::Diagnostics d;
  ValidateProviders(*loaded.config, d);
  EXPECT_TRUE(d.items().empty()) << d.ToString();
  const auto& t = *loaded.config->providers.twilio;
  EXPECT_EQ(t.auth_token, "twilio-auth-token-from-a-file");
  EXPECT_EQ(t.api_url, "https://api.twilio.com");
  EXPECT_EQ(t.from, "+14155550100");
}

struct TwilioBad {
  std::string file;
  std::string expected;
  int line;
};

class TwilioConfigBad : public ::testing::TestWithParam<TwilioBad> {};

TEST_P(TwilioConfigBad, IsAnErrorAtTheKey) {
  auto d = CheckTwilioFixture("bad/" + GetParam().file);
  ASSERT_TRUE(d.has_errors()) << GetParam().file;
  std::string all = d.ToString();
  EXPECT_NE(all.find(GetParam().expected), std::string::npos) << all;
  EXPECT_NE(all.find(GetParam().file + ":" + std::to_string(GetParam().line) + ":"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("twilio-auth-token"), std::string::npos) << "no secret in a message";
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, TwilioConfigBad,
    ::testing::Values(TwilioBad{"twilio_account_sid.yaml", "\"AC\" and 32 hexadecimal", 3},
                      TwilioBad{"twilio_from_national.yaml", "E.164", 5},
                      TwilioBad{"twilio_api_url_path.yaml", "appends /2010-04-01", 3},
                      TwilioBad{"twilio_public_url_path.yaml", "appends /webhooks/twilio", 6},
                      TwilioBad{"twilio_without_public_url.yaml",
                                "missing required key \"public_url\"", 3}));

}  // namespace
}  // namespace tocsin::notify
