// JSM Operations and Microsoft Teams notifiers against the provider simulator over real HTTP
// on loopback: what each person receives, alias dedup, the ladder's per-step alerts, acks and
// resolves on every step, the cards Teams shows, and the simulator refusing what the real
// services refuse.
#include <gtest/gtest.h>

#include "notify/providers/jsm/jsm_notifier.h"
#include "notify/providers/teams/teams_notifier.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"

namespace tocsin::notify {
namespace {

using incident::PageAction;
using nlohmann::json;
using testing::DepositPage;

constexpr const char* kKey = "5e3f2a1b-9c8d-4e7f-a6b5-c4d3e2f1a0b9";

oncall::Person Person(const std::string& id, const std::string& name, const std::string& jsm) {
  oncall::Person p;
  p.id = id;
  p.name = name;
  p.time_zone = "UTC";
  p.jsm_username = jsm;
  return p;
}

class JsmTest : public ::testing::Test {
 protected:
  JsmTest() {
    RenderOptions ro;
    ro.runbook_base_url = "https://git.example.com/runbooks/";
    renderer_ = *PageRenderer::Create(ro);
  }
  JsmNotifier Notifier(const std::string& key = kKey) {
    return JsmNotifier(config::JsmConfig{sim_.url(), key, ""}, renderer_,
                       std::make_shared<CurlHttpClient>());
  }
  static OutboxItem Item(incident::PageRequest r) {
    OutboxItem item;
    item.channel = item.original_channel = incident::Channel::Named("jsm");
    item.request = std::move(r);
    return item;
  }
  static incident::PageRequest Step(int step, std::vector<incident::PageTarget> targets) {
    auto r = DepositPage();
    r.step = step;
    r.idempotency_key = "INC-42/step-" + std::to_string(step) + "/trigger";
    r.targets = std::move(targets);
    return r;
  }
  static incident::PageRequest Mirror(PageAction action, int next_step) {
    auto r = DepositPage();
    r.action = action;
    r.step = next_step;
    r.actor = "olena";
    r.idempotency_key = "INC-42/" + std::string(incident::PageActionName(action));
    return r;
  }
  json Alerts() { return json::parse(sim_.Call("GET", "/_sim/jsm/alerts", "")); }
  json Received() { return json::parse(sim_.Call("GET", "/_sim/jsm/received", "")); }

  testing::SimServer sim_;
  std::shared_ptr<const PageRenderer> renderer_;
};

TEST_F(JsmTest, CreateCarriesAliasPriorityRespondersAndTheFourQuestions) {
  auto jsm = Notifier();
  auto l1 = Person("olena", "Olena Kovalenko", "olena@example.com");
  auto r = jsm.Deliver(Item(Step(0, {{l1, "l1", {}}})));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.status, 202);
  auto sent = sim_.Requests("/jsm/ops/integration/v2/alerts");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["headers"]["Authorization"], std::string("GenieKey ") + kKey);
  auto body = json::parse(sent[0]["body"].get<std::string>());
  EXPECT_EQ(body["alias"], "tocsin/INC-42");
  EXPECT_EQ(body["priority"], "P1");
  EXPECT_EQ(body["responders"], json::parse(R"([{"type":"user","username":"olena@example.com"}])"));
  std::string d = body["description"];
  EXPECT_NE(d.find("What: Deposit success 97.2 %"), std::string::npos) << d;
  EXPECT_NE(d.find("Where: "), std::string::npos) << d;
  EXPECT_NE(d.find("How much: "), std::string::npos) << d;
  EXPECT_NE(d.find("Action: "), std::string::npos) << d;
  EXPECT_NE(d.find("Runbook: https://git.example.com/runbooks/deposit-psp"), std::string::npos)
      << d;
  auto got = Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["username"], "olena@example.com");
  EXPECT_EQ(got[0]["priority"], "P1");
}

TEST_F(JsmTest, RedeliveredCreateIsFoldedIntoTheOpenAlertAndNotifiesNobodyAgain) {
  auto jsm = Notifier();
  auto item = Item(Step(0, {{Person("olena", "Olena", "olena@example.com"), "l1", {}}}));
  ASSERT_TRUE(jsm.Deliver(item).ok());
  ASSERT_TRUE(jsm.Deliver(item).ok());
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["count"], 2);
  EXPECT_EQ(Received().size(), 1u);
}

TEST_F(JsmTest, LaterStepOpensItsOwnAlertForItsPeopleAndAckReachesEveryStep) {
  auto jsm = Notifier();
  ASSERT_TRUE(
      jsm.Deliver(Item(Step(0, {{Person("olena", "Olena", "olena@example.com"), "l1", {}}}))).ok());
  ASSERT_TRUE(
      jsm.Deliver(
             Item(Step(1, {{Person("pay", "Payments L2", "pay@example.com"), "l2-payments", {}},
                           {Person("comms", "Comms", "comms@example.com"), "comms", {}}})))
          .ok());
  auto got = Received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1]["username"], "pay@example.com");
  EXPECT_EQ(got[1]["alias"], "tocsin/INC-42/step-2");
  EXPECT_EQ(got[2]["username"], "comms@example.com");
  // Acknowledged after step 2 paged (next step index 2): both alerts are acknowledged.
  ASSERT_TRUE(jsm.Deliver(Item(Mirror(PageAction::kAcknowledge, 2))).ok());
  for (const auto& a : Alerts()) {
    EXPECT_TRUE(a["acknowledged"].get<bool>()) << a.dump();
    EXPECT_EQ(a["acknowledgedBy"], "olena");
  }
  ASSERT_TRUE(jsm.Deliver(Item(Mirror(PageAction::kResolve, 2))).ok());
  for (const auto& a : Alerts()) EXPECT_EQ(a["status"], "closed") << a.dump();
  EXPECT_EQ(JsmNotifier::StepAlias("tocsin/INC-42", 2), "tocsin/INC-42/step-3");
}

TEST_F(JsmTest, NoteGoesToTheIncidentsAlert) {
  auto jsm = Notifier();
  ASSERT_TRUE(jsm.Deliver(Item(Step(0, {}))).ok());
  auto note = Mirror(PageAction::kNote, 1);
  note.text = "PSP-A confirmed an outage";
  ASSERT_TRUE(jsm.Deliver(Item(note)).ok());
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  ASSERT_EQ(alerts[0]["notes"].size(), 1u);
  EXPECT_EQ(alerts[0]["notes"][0]["note"], "PSP-A confirmed an outage");
}

TEST_F(JsmTest, KeyJsmDoesNotIssueIsRefusedPermanently) {
  auto r = Notifier("not-a-key").Deliver(Item(Step(0, {})));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.detail.find("not-a-key"), std::string::npos) << r.detail;
}

TEST_F(JsmTest, SimulatorRefusesWhatJsmRefusesWithItsErrorShape) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = sim_.url() + "/jsm/ops/integration/v2/alerts";
  req.headers = {{"Authorization", std::string("GenieKey ") + kKey}};
  req.body = R"({"message":"m","responders":[{"type":"user"}]})";
  CurlHttpClient client;
  auto res = client.Send(req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  auto body = json::parse(res->body);
  EXPECT_EQ(body["message"], "Request body is not processable. Please check the errors.");
  EXPECT_TRUE(body["errors"].contains("responders")) << body.dump();
  EXPECT_TRUE(body.contains("requestId"));
  req.body = R"({"alias":"a"})";
  res = client.Send(req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(json::parse(res->body)["errors"]["message"], "Message can not be empty.");
}

TEST_F(JsmTest, ThrottledCreateIsRetriedAfterRetryAfterAndNotifiesOnce) {
  sim_.Fault({{"path", "/jsm/ops/integration/v2/alerts"}, {"status", 429}, {"retry_after", "12"}});
  auto jsm = Notifier();
  auto item = Item(Step(0, {{Person("olena", "Olena", "olena@example.com"), "l1", {}}}));
  auto first = jsm.Deliver(item);
  EXPECT_EQ(first.outcome, DeliveryResult::Outcome::kRetry);
  ASSERT_TRUE(first.retry_after);
  EXPECT_EQ(*first.retry_after, std::chrono::seconds(12));
  EXPECT_TRUE(Received().empty());
  EXPECT_TRUE(jsm.Deliver(item).ok());
  EXPECT_EQ(Received().size(), 1u);
}

class TeamsTest : public ::testing::Test {
 protected:
  std::string Url(const std::string& sig = "s1g") const {
    return sim_.url() +
           "/workflows/wf1/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=" + sig;
  }
  TeamsNotifier Notifier(const std::string& sig = "s1g") {
    RenderOptions ro;
    ro.runbook_base_url = "https://git.example.com/runbooks/";
    ro.external_url = "https://tocsin.example.com";
    return TeamsNotifier(config::TeamsConfig{Url(sig)}, *PageRenderer::Create(ro),
                         std::make_shared<CurlHttpClient>());
  }
  static OutboxItem Item(incident::PageRequest r) {
    OutboxItem item;
    item.channel = item.original_channel = incident::Channel::Named("teams");
    item.request = std::move(r);
    return item;
  }
  json Messages() { return json::parse(sim_.Call("GET", "/_sim/teams/messages", "")); }

  testing::SimServer sim_;
};

TEST_F(TeamsTest, TriggerShowsTheFourQuestionsRunbookAndSevColour) {
  auto r = Notifier().Deliver(Item(DepositPage()));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.status, 202);
  auto shown = Messages();
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0]["title"], "Deposits failing at PSP-A in DE");
  EXPECT_EQ(shown[0]["color"], "Attention");
  for (const char* q : {"What", "Where", "How much", "Action"}) {
    EXPECT_TRUE(shown[0]["facts"].contains(q)) << q << " " << shown[0].dump();
  }
  EXPECT_EQ(shown[0]["facts"]["Paged"], "Olena Kovalenko (l1)");
  ASSERT_FALSE(shown[0]["links"].empty());
  EXPECT_EQ(shown[0]["links"][0]["title"], "Runbook");
  EXPECT_EQ(shown[0]["links"][0]["url"], "https://git.example.com/runbooks/deposit-psp.md");
}

TEST_F(TeamsTest, LowerSevIsNotPaintedAsAnEmergency) {
  auto page = DepositPage();
  page.sev = incident::Sev::kSev3;
  ASSERT_TRUE(Notifier().Deliver(Item(page)).ok());
  EXPECT_EQ(Messages()[0]["color"], "Warning");
}

TEST_F(TeamsTest, ResolveIsAFollowUpCard) {
  auto teams = Notifier();
  ASSERT_TRUE(teams.Deliver(Item(DepositPage())).ok());
  auto resolve = DepositPage();
  resolve.action = PageAction::kResolve;
  resolve.state = "resolved";
  resolve.actor = "olena";
  ASSERT_TRUE(teams.Deliver(Item(resolve)).ok());
  auto shown = Messages();
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[1]["title"], "Resolved: INC-42 resolved by olena");
  EXPECT_EQ(shown[1]["color"], "Good");
}

TEST_F(TeamsTest, WrongSignatureIsPermanentAndTheUrlStaysOutOfTheDetail) {
  auto r = Notifier("invalid").Deliver(Item(DepositPage()));
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.detail.find("/workflows/"), std::string::npos) << r.detail;
  EXPECT_TRUE(Messages().empty());
}

TEST_F(TeamsTest, SimulatorRefusesCardsWorkflowsCannotPost) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = Url();
  req.body = R"({"type":"message","attachments":[{"contentType":
    "application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4",
    "body":[],"actions":[{"type":"Action.Submit","title":"Ack"}]}}]})";
  CurlHttpClient client;
  auto res = client.Send(req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "InvalidRequestContent");
}

}  // namespace
}  // namespace tocsin::notify
