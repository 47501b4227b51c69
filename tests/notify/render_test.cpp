// The page for "deposits failing at PSP-A in DE", checked field by field for every provider,
// and the text limits every provider imposes.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "notify/page_renderer.h"
#include "notify/providers/opsgenie/opsgenie_notifier.h"
#include "notify/providers/pagerduty/pagerduty_notifier.h"
#include "notify/providers/slack/slack_notifier.h"
#include "notify/providers/webhook/webhook_notifier.h"
#include "notify_fixtures.h"
#include "support/temp_dir.h"
#include "tocsin/common/text.h"
#include "tocsin/notify/outbox_store.h"

namespace tocsin::notify {
namespace {

using nlohmann::json;
using testing::DepositPage;

constexpr const char* kSummary =
    "Deposit success 97.2 % (SLO 99.85 %) — PSP-A, market DE — burning budget 14x, 32 % of the "
    "error budget spent — Action: runbook deposit-psp, consider routing 50 % to PSP-B";

std::shared_ptr<const PageRenderer> Renderer(std::string templates_dir = {}) {
  RenderOptions o;
  o.runbook_base_url = "https://git.example.com/ops/tocsin/blob/main/runbooks";
  o.external_url = "https://tocsin.example.com/";
  o.templates_dir = std::move(templates_dir);
  return *PageRenderer::Create(o);
}

OutboxItem Item(const incident::PageRequest& r, std::string kind = "page") {
  OutboxItem item;
  item.id = 1;
  item.kind = std::move(kind);
  item.request = r;
  return item;
}

class NoThreads final : public SlackThreadStore {
 public:
  std::optional<SlackMessageRef> FindSlackMessage(const std::string&) override {
    return std::nullopt;
  }
  Result<void> SaveSlackMessage(const std::string&, const SlackMessageRef&) override { return {}; }
};

// A Slack notifier with a bot token, posting to #incidents, that keeps no threads.
struct SlackToIncidents {
  static config::SlackConfig Config() {
    config::SlackConfig cfg;
    cfg.bot_token = "xoxb-secret";
    cfg.channel = "#incidents";
    return cfg;
  }
  NoThreads threads;
  SlackNotifier slack{Config(), Renderer(), nullptr, threads};
};

// A runbook annotation is a link only when it is an http(s) URL: a file named "http-errors" is
// a file under runbooks.base_url like any other.
TEST(PageRenderer, ARunbookFileWhoseNameStartsWithHttpIsAFile) {
  auto page = DepositPage();
  page.alerts[0].annotations["runbook"] = "http-errors";
  PageText t = Renderer()->Render(page);
  EXPECT_EQ(t.runbook_url, "https://git.example.com/ops/tocsin/blob/main/runbooks/http-errors.md");
  EXPECT_EQ(t.runbook_name, "http-errors");
  page.alerts[0].annotations["runbook"] = "https://wiki.example/psp";
  EXPECT_EQ(Renderer()->Render(page).runbook_url, "https://wiki.example/psp");
}

TEST(PageRenderer, DepositScenarioAnswersWhatWhereHowMuchAction) {
  PageText t = Renderer()->Render(DepositPage());
  EXPECT_EQ(t.what, "Deposit success 97.2 % (SLO 99.85 %)");
  EXPECT_EQ(t.where, "PSP-A, market DE");
  EXPECT_EQ(t.how_much, "burning budget 14x, 32 % of the error budget spent");
  EXPECT_EQ(t.action, "runbook deposit-psp, consider routing 50 % to PSP-B");
  EXPECT_EQ(t.summary, kSummary);
  EXPECT_EQ(t.runbook_url, "https://git.example.com/ops/tocsin/blob/main/runbooks/deposit-psp.md");
  ASSERT_EQ(t.causes.size(), 1u);
  EXPECT_EQ(t.causes[0], "PspTimeout: PSP-A auth timeouts 8.1 % (threshold 2 %) (payments, PSP-A)");
  EXPECT_EQ(t.incident_url, "https://tocsin.example.com/incidents/INC-42");
  EXPECT_NE(t.details.find("Cause candidates:\n- PspTimeout"), std::string::npos) << t.details;
  EXPECT_NE(t.details.find("Incident INC-42 · SEV-1 · step 1 · triggered"), std::string::npos)
      << t.details;
}

TEST(PageRenderer, TemplatesDirOverridesTheSummary) {
  tocsin::testing::TempDir dir;
  dir.Write("summary.mustache", "[{{incident_id}}] {{{what}}} @ {{{where}}}");
  PageText t = Renderer(dir.path())->Render(DepositPage());
  EXPECT_EQ(t.summary, "[INC-42] Deposit success 97.2 % (SLO 99.85 %) @ PSP-A, market DE");
}

TEST(PageRenderer, BrokenTemplateIsRejectedWithItsFileName) {
  tocsin::testing::TempDir dir;
  dir.Write("details.mustache", "{{#what}} never closed");
  RenderOptions o;
  o.templates_dir = dir.path();
  auto r = PageRenderer::Create(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("details.mustache"), std::string::npos);
}

TEST(Utf8, TruncatesOnCodePointsNeverMidCharacter) {
  std::string s = "Депозит";  // 7 code points, 14 bytes
  EXPECT_EQ(TruncateUtf8(s, 7), s);
  std::string cut = TruncateUtf8(s, 4);
  EXPECT_EQ(CodePoints(cut), 4u);
  EXPECT_EQ(cut, "Деп…");
  std::string bytes = TruncateUtf8Bytes(s, 8);  // 2 letters (4 bytes) + ellipsis (3 bytes)
  EXPECT_EQ(bytes, "Де…");
  EXPECT_EQ(TruncateUtf8("😀😀😀", 2), "😀…");
}

TEST(PagerDutyPage, DepositScenarioFieldByField) {
  config::PagerDutyConfig cfg;
  cfg.routing_key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";
  PagerDutyNotifier pd(cfg, Renderer(), nullptr);
  json e = pd.BuildEvent(Item(DepositPage()));
  EXPECT_EQ(e["routing_key"], cfg.routing_key);
  EXPECT_EQ(e["event_action"], "trigger");
  EXPECT_EQ(e["dedup_key"], "tocsin/INC-42");
  EXPECT_EQ(e["payload"]["summary"], kSummary);
  EXPECT_EQ(e["payload"]["source"], "payments");
  EXPECT_EQ(e["payload"]["severity"], "critical");
  EXPECT_EQ(e["payload"]["timestamp"], "2025-11-22T02:00:00Z");
  EXPECT_EQ(e["payload"]["component"], "PSP-A");
  EXPECT_EQ(e["payload"]["group"], "payments");
  EXPECT_EQ(e["payload"]["class"], "DepositSuccessByPSP");
  const auto& d = e["payload"]["custom_details"];
  EXPECT_EQ(d["incident"], "INC-42");
  EXPECT_EQ(d["step"], 1);
  EXPECT_EQ(d["where"], "PSP-A, market DE");
  EXPECT_EQ(d["runbook"], "https://git.example.com/ops/tocsin/blob/main/runbooks/deposit-psp.md");
  EXPECT_EQ(d["cause_candidates"][0],
            "PspTimeout: PSP-A auth timeouts 8.1 % (threshold 2 %) (payments, PSP-A)");
  EXPECT_EQ(d["labels"]["market"], "DE");
  ASSERT_EQ(e["links"].size(), 3u);
  EXPECT_EQ(e["links"][0]["text"], "Runbook: deposit-psp");
  EXPECT_EQ(e["links"][1]["href"], "https://grafana.example.com/d/deposits?var-psp=PSP-A");
  EXPECT_EQ(e["links"][2]["text"], "Query");
  EXPECT_EQ(e["client_url"], "https://tocsin.example.com/incidents/INC-42");

  auto ack = DepositPage();
  ack.action = incident::PageAction::kAcknowledge;
  json a = pd.BuildEvent(Item(ack));
  EXPECT_EQ(a["event_action"], "acknowledge");
  EXPECT_EQ(a["dedup_key"], "tocsin/INC-42");
  EXPECT_FALSE(a.contains("payload"));
}

// Review finding: PagerDuty's Events API takes an event that is not an acknowledge or a
// resolve for a trigger, so a note routed there by a fail-over opened its alert again.
TEST(PagerDutyPage, ANoteOrAnUpdateIsRefusedNotSentAsATrigger) {
  config::PagerDutyConfig cfg;
  cfg.routing_key = std::string(32, 'k');
  PagerDutyNotifier pd(cfg, Renderer(), nullptr);  // no HTTP client: nothing may be sent
  for (auto action : {incident::PageAction::kNote, incident::PageAction::kUpdate,
                      incident::PageAction::kReminder, incident::PageAction::kStatusUpdate}) {
    auto page = DepositPage();
    page.action = action;
    auto r = pd.Deliver(Item(page));
    EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << incident::PageActionName(action);
    EXPECT_EQ(r.detail,
              fmt::format("PagerDuty's Events API takes no {}: not sent", PageActionName(action)));
  }
}

TEST(PagerDutyPage, LongSummaryCutAt1024CodePoints) {
  config::PagerDutyConfig cfg;
  cfg.routing_key = std::string(32, 'k');
  PagerDutyNotifier pd(cfg, Renderer(), nullptr);
  auto page = DepositPage();
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "ЖЖ";  // 1200 two-byte code points
  page.alerts[0].annotations["summary"] = long_text;
  json e = pd.BuildEvent(Item(page));
  std::string summary = e["payload"]["summary"];
  EXPECT_EQ(CodePoints(summary), 1024u);
  EXPECT_EQ(summary.substr(summary.size() - 3), "…");
}

TEST(OpsgeniePage, DepositScenarioFieldByField) {
  config::OpsgenieConfig cfg;
  cfg.api_key = "genie-secret-key";
  OpsgenieNotifier og(cfg, Renderer(), nullptr);
  auto call = og.BuildCall(Item(DepositPage()));
  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.path, "/v2/alerts");
  const json& b = call.body;
  EXPECT_EQ(b["alias"], "tocsin/INC-42");
  EXPECT_EQ(CodePoints(b["message"].get<std::string>()), 130u);
  EXPECT_EQ(
      b["message"].get<std::string>().rfind("Deposit success 97.2 % (SLO 99.85 %) — PSP-A", 0), 0u);
  EXPECT_EQ(b["priority"], "P1");
  EXPECT_EQ(b["responders"], json::parse(R"([{"type":"user","username":"olena@example.com"}])"));
  EXPECT_EQ(b["entity"], "payments");
  EXPECT_EQ(b["source"], "tocsin");
  EXPECT_EQ(b["details"]["runbook"],
            "https://git.example.com/ops/tocsin/blob/main/runbooks/deposit-psp.md");
  EXPECT_EQ(b["details"]["incident"], "INC-42");
  EXPECT_EQ(b["tags"], json::parse(R"(["SEV-1","DepositSuccessByPSP","service:payments",
                                       "psp:PSP-A","market:DE"])"));
  EXPECT_NE(b["description"].get<std::string>().find("Action: runbook deposit-psp"),
            std::string::npos);

  auto close = DepositPage();
  close.action = incident::PageAction::kResolve;
  close.actor = "olena";
  auto c = og.BuildCall(Item(close));
  EXPECT_EQ(c.path, "/v2/alerts/tocsin%2FINC-42/close?identifierType=alias");
  EXPECT_EQ(c.body["user"], "olena");

  // Step 2 of the ladder adds the L2 to the open alert as a responder.
  auto step2 = DepositPage();
  step2.step = 1;
  oncall::Person l2;
  l2.id = "taras";
  l2.opsgenie_username = "taras@example.com";
  step2.targets = {{l2, "l2-payments", {incident::Channel::kOpsgenie}}};
  auto calls = og.BuildCalls(Item(step2));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].path, "/v2/alerts");
  EXPECT_EQ(calls[1].path, "/v2/alerts/tocsin%2FINC-42/responders?identifierType=alias");
  EXPECT_EQ(calls[1].body["responder"],
            json::parse(R"({"type":"user","username":"taras@example.com"})"));
  EXPECT_EQ(calls[1].body["note"], "Step 2: l2-payments");
}

TEST(SlackPage, DepositScenarioBlocksFieldByField) {
  SlackToIncidents to;
  SlackNotifier& slack = to.slack;
  json blocks = slack.BuildBlocks(DepositPage());
  ASSERT_GE(blocks.size(), 5u);
  EXPECT_EQ(blocks[0]["type"], "header");
  EXPECT_EQ(blocks[0]["text"]["text"],
            "\U0001F6A8 SEV-1 INC-42: Deposit success 97.2 % (SLO 99.85 %)");
  std::string body = blocks[1]["text"]["text"];
  EXPECT_EQ(body,
            "*What:* Deposit success 97.2 % (SLO 99.85 %)\n*Where:* PSP-A, market DE\n*How "
            "much:* burning budget 14x, 32 % of the error budget spent\n*Action:* runbook "
            "deposit-psp, consider routing 50 % to PSP-B\n*Runbook:* "
            "<https://git.example.com/ops/tocsin/blob/main/runbooks/deposit-psp.md|deposit-psp>");
  std::vector<std::string> fields;
  for (const auto& f : blocks[2]["fields"]) fields.push_back(f["text"]);
  EXPECT_EQ(fields, (std::vector<std::string>{
                        "*Incident*\nINC-42", "*Severity*\nSEV-1", "*State*\ntriggered",
                        "*Step*\n1", "*Service*\npayments", "*PSP*\nPSP-A", "*Market*\nDE"}));
  EXPECT_NE(blocks[3]["text"]["text"].get<std::string>().find("• PspTimeout"), std::string::npos);
  EXPECT_EQ(blocks[4]["elements"][0]["text"], "Paging <@U024BE7LH> (l1)");
  const json& actions = blocks.back();
  EXPECT_EQ(actions["type"], "actions");
  std::vector<std::string> ids;
  for (const auto& e : actions["elements"]) ids.push_back(e["action_id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"tocsin_runbook", "tocsin_dashboard", "tocsin_ack",
                                           "tocsin_resolve", "tocsin_escalate"}));
  EXPECT_EQ(actions["elements"][0]["url"],
            "https://git.example.com/ops/tocsin/blob/main/runbooks/deposit-psp.md");
  EXPECT_EQ(actions["elements"][2]["value"], "INC-42");
  EXPECT_EQ(actions["elements"][2]["style"], "primary");
  EXPECT_EQ(actions["elements"][4]["style"], "danger");

  auto resolved = DepositPage();
  resolved.state = "resolved";
  json after = slack.BuildBlocks(resolved);
  for (const auto& e : after.back()["elements"]) {
    EXPECT_NE(e["action_id"], "tocsin_ack");
    EXPECT_NE(e["action_id"], "tocsin_resolve");
  }
}

// Review finding: the message edited at a shift change read "Paging <new commander> (l1)",
// who was not paged; it names the commander now.
TEST(SlackPage, AnUpdateNamesTheCommanderAndPagesNobody) {
  SlackToIncidents to;
  auto update = DepositPage();
  update.action = incident::PageAction::kUpdate;
  const std::string dumped = to.slack.BuildBlocks(update).dump();
  EXPECT_EQ(dumped.find("Paging"), std::string::npos) << dumped;
  EXPECT_NE(dumped.find("Incident commander: <@U024BE7LH> (l1)"), std::string::npos) << dumped;
}

TEST(SlackPage, HeaderAndButtonsRespectBlockKitLimits) {
  config::SlackConfig cfg;
  cfg.bot_token = "xoxb-secret";
  NoThreads threads;
  SlackNotifier slack(cfg, Renderer(), nullptr, threads);
  auto page = DepositPage();
  page.alerts[0].annotations["summary"] = std::string(400, 'x') + "ü";
  page.alerts[0].annotations["runbook"] = std::string(120, 'r');
  json blocks = slack.BuildBlocks(page);
  EXPECT_LE(CodePoints(blocks[0]["text"]["text"].get<std::string>()), 150u);
  for (const auto& e : blocks.back()["elements"]) {
    EXPECT_LE(CodePoints(e["text"]["text"].get<std::string>()), 75u);
  }
}

TEST(WebhookPage, SignatureIsHmacOfTheBody) {
  config::WebhookConfig cfg;
  cfg.url = "https://hooks.example.com/tocsin";
  cfg.secret = "test-secret";
  WebhookNotifier hook(cfg, Renderer(), nullptr);
  // The PagerDuty webhook signature vector, computed the same way for our own signature.
  auto headers =
      hook.Headers(Item(DepositPage()), R"({"event":{"event_type":"incident.acknowledged"}})");
  std::string sig;
  for (const auto& [k, v] : headers) {
    if (k == "X-Tocsin-Signature") sig = v;
  }
  EXPECT_EQ(sig, "v1=a0c61caa9a0676851561078c5fd60e7e411f23e6e272f5ab370d30b80a7eae2d");
  json body = hook.BuildBody(Item(DepositPage()));
  EXPECT_EQ(body["summary"], kSummary);
  EXPECT_EQ(body["idempotency_key"], "INC-42/step-1/trigger");
}

}  // namespace
}  // namespace tocsin::notify

namespace tocsin::notify {
namespace {

// Regression: the rules engine writes `summary` as the whole sentence (value, place and burn
// rate included, as the shipped rules do); the page used to append What / Where / How much to
// it again, so the PagerDuty summary said everything twice.
TEST(PageRenderer, RuleSummarySentenceIsShownOnceFollowedByTheAction) {
  auto page = DepositPage();
  page.alerts[0].annotations.erase("title");
  page.alerts[0].annotations["summary"] =
      "Deposit success 96.64% (SLO 99.85%) — PSP-A, market DE — burning budget 22.4x";
  PageText t = Renderer()->Render(page);
  EXPECT_EQ(t.summary,
            "Deposit success 96.64% (SLO 99.85%) — PSP-A, market DE — burning budget 22.4x — "
            "Action: runbook deposit-psp, consider routing 50 % to PSP-B");
  // The structured fields stay available for the details block.
  EXPECT_EQ(t.where, "PSP-A, market DE");
  EXPECT_EQ(t.how_much, "burning budget 14x, 32 % of the error budget spent");
}

}  // namespace
}  // namespace tocsin::notify
