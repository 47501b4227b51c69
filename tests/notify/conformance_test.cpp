// One conformance suite every provider passes, against the provider simulator: retry
// classification, idempotency key stable across retries and restarts, no secret in any error
// or log line, limits respected (the simulator rejects what the real service would).
#include <gtest/gtest.h>

#include <functional>
#include <regex>

#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/providers/slack/slack_notifier.h"
#include "notify_fixtures.h"
#include "sim_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/log.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/http/http_types.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::notify {
namespace {

using incident::Channel;
using nlohmann::json;
using testing::DepositPage;

struct ProviderCase {
  std::string name;
  Channel channel;
  std::string path;    // where its requests land in the simulator
  std::string secret;  // a secret of its config that must never leak
  // Fills the providers config for a simulator at `base` (smtp port for e-mail).
  std::function<void(config::ProvidersConfig&, const std::string& base, unsigned short smtp)>
      configure;
  // The idempotency key the provider saw in a recorded request.
  std::function<std::string(const json& recorded)> key_of;
  json transient_fault;
  json permanent_fault;
  bool has_retry_after = true;
  std::string target;  // item target (e-mail address)
};

std::string Header(const json& r, const std::string& name) {
  for (const auto& [k, v] : r["headers"].items()) {
    std::string lk = k, ln = name;
    for (auto& c : lk) c = static_cast<char>(std::tolower(c));
    for (auto& c : ln) c = static_cast<char>(std::tolower(c));
    if (lk == ln) return v;
  }
  return "";
}

std::vector<ProviderCase> Cases() {
  std::vector<ProviderCase> c;
  c.push_back(
      {"pagerduty",
       Channel::kPagerDuty,
       "/v2/enqueue",
       "S3CR3TROUTINGKEY0123456789abcdef",
       [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
         p.pagerduty = config::PagerDutyConfig{base, "S3CR3TROUTINGKEY0123456789abcdef", ""};
       },
       [](const json& r) {
         return json::parse(r["body"].get<std::string>())["dedup_key"].get<std::string>();
       },
       {{"status", 503}},
       {{"status", 400}, {"body", R"({"status":"invalid","message":"Event object is invalid"})"}},
       true,
       ""});
  c.push_back({"opsgenie",
               Channel::kOpsgenie,
               "/v2/alerts",
               "genie-S3CR3T-key",
               [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
                 p.opsgenie = config::OpsgenieConfig{base, "genie-S3CR3T-key", "tocsin", ""};
               },
               [](const json& r) {
                 return json::parse(r["body"].get<std::string>())["alias"].get<std::string>();
               },
               {{"status", 503}},
               {{"status", 422}, {"body", R"({"message":"Message can not be empty."})"}},
               true,
               ""});
  c.push_back({"slack",
               Channel::kSlack,
               "/api/chat.",
               "xoxb-S3CR3T-token",
               [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
                 config::SlackConfig s;
                 s.api_url = base;
                 s.bot_token = "xoxb-S3CR3T-token";
                 s.channel = "#incidents";
                 p.slack = s;
               },
               // Slack has no idempotency key: the outbox keeps the message's ts instead (see
               // SlackRedeliveryUpdatesTheSameMessage); what must stay stable is the content.
               [](const json& r) {
                 auto b = json::parse(r["body"].get<std::string>());
                 return b["blocks"].back()["elements"].back()["value"].get<std::string>();
               },
               {{"status", 503}},
               {{"status", 200}, {"body", R"({"ok":false,"error":"channel_not_found"})"}},
               true,
               ""});
  c.push_back({"slack-webhook",
               Channel::kSlack,
               "/services/",
               "T000/B000/S3CR3Tpath",
               [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
                 config::SlackConfig s;
                 s.webhook_url = base + "/services/T000/B000/S3CR3Tpath";
                 p.slack = s;
               },
               [](const json& r) {
                 auto b = json::parse(r["body"].get<std::string>());
                 return b["blocks"].back()["elements"].back()["value"].get<std::string>();
               },
               {{"status", 500}},
               {{"status", 404}, {"body", "channel_not_found"}},
               true,
               ""});
  c.push_back({"webhook",
               Channel::kWebhook,
               "/webhook/",
               "whS3CR3T-signing",
               [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
                 p.webhook = config::WebhookConfig{base + "/webhook/tocsin", "whS3CR3T-signing"};
               },
               [](const json& r) { return Header(r, "X-Tocsin-Idempotency-Key"); },
               {{"status", 502}},
               {{"status", 400}},
               true,
               ""});
  c.push_back({"jsm",
               Channel::Named("jsm"),
               "/jsm/ops/integration/v2/alerts",
               "5e3f2a1b-9c8d-4e7f-a6b5-c4d3e2f1a0b9",
               [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
                 p.jsm = config::JsmConfig{base, "5e3f2a1b-9c8d-4e7f-a6b5-c4d3e2f1a0b9", ""};
               },
               [](const json& r) {
                 return json::parse(r["body"].get<std::string>())["alias"].get<std::string>();
               },
               {{"status", 503}},
               {{"status", 422}, {"body", R"({"message":"Request body is not processable."})"}},
               true,
               ""});
  c.push_back(
      {"teams",
       Channel::Named("teams"),
       "/workflows/",
       "TeamsS3CR3Tsig",
       [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
         p.teams =
             config::TeamsConfig{base +
                                 "/workflows/wf1/triggers/manual/paths/invoke?api-version=1&sp=%2F"
                                 "triggers%2Fmanual%2Frun&sv=1.0&sig=TeamsS3CR3Tsig"};
       },
       // Workflows has no idempotency key: what must stay stable is the card.
       [](const json& r) {
         auto b = json::parse(r["body"].get<std::string>());
         return b["attachments"][0]["content"]["body"][0]["items"][0]["text"].get<std::string>();
       },
       {{"status", 502}},
       {{"status", 400}, {"body", R"({"error":{"code":"InvalidRequestContent","message":"bad"}})"}},
       true,
       ""});
  ProviderCase email{"email",
                     Channel::kEmail,
                     "/smtp",
                     "smtpS3CR3Tpass",
                     [](config::ProvidersConfig& p, const std::string&, unsigned short smtp) {
                       config::EmailConfig e;
                       e.smtp_url = "smtp://127.0.0.1:" + std::to_string(smtp);
                       e.from = "tocsin@example.com";
                       e.username = "tocsin";
                       e.password = "smtpS3CR3Tpass";
                       // The simulator's sink speaks no TLS: the loopback-only opt-out.
                       e.starttls = config::SmtpStartTls::kOff;
                       p.email = e;
                     },
                     [](const json& r) {
                       std::smatch m;
                       std::string data = r["body"];
                       std::regex re("Message-ID: (<[^>]+>)");
                       return std::regex_search(data, m, re) ? m[1].str() : std::string();
                     },
                     {{"status", 451}},
                     {{"status", 550}},
                     false,
                     "olena@example.com"};
  c.push_back(email);
  c.push_back(
      {"twilio",
       Channel::kTwilio,
       "/2010-04-01/",
       "sim-twilio-auth-token-0123456789",
       [](config::ProvidersConfig& p, const std::string& base, unsigned short) {
         p.twilio = config::TwilioConfig{base, "AC00000000000000000000000000000001",
                                         "sim-twilio-auth-token-0123456789", "+15005550006",
                                         "https://tocsin.example.com"};
       },
       // Twilio takes no idempotency key (the outbox row is it): the text is stable.
       [](const json& r) {
         for (const auto& [k, v] : http::ParseFormEncoded(r["body"].get<std::string>())) {
           if (k == "Body") return v;
         }
         return std::string();
       },
       {{"status", 503}},
       {{"status", 400},
        {"body",
         R"({"code":21211,"message":"The 'To' number is not a valid phone number.","status":400})"}},
       true,
       "+380501110001"});
  return c;
}

void PrintTo(const ProviderCase& c, std::ostream* os) { *os << c.name; }

class Conformance : public ::testing::TestWithParam<ProviderCase> {
 protected:
  static void SetUpTestSuite() { sim_ = new testing::SimServer(); }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void SetUp() override {
    sim_->Reset();
    log::AddSecret(GetParam().secret);  // as the config loader does for every secret
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    ASSERT_TRUE(store_->Migrate());
  }
  void TearDown() override {
    log::ClearSecrets();
    log::Setup(log::Format::kText, spdlog::level::info);
  }
  std::shared_ptr<Notifier> Build(const std::string& base) {
    config::ProvidersConfig p;
    GetParam().configure(p, base, sim_->smtp_port());
    NotifierDeps deps;
    RenderOptions ro;
    ro.runbook_base_url = "https://git.example.com/runbooks/";
    deps.renderer = *PageRenderer::Create(ro);
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = store_.get();
    auto set = BuildNotifiers(p, deps);
    return set.notifiers.at(GetParam().channel);
  }
  std::shared_ptr<Notifier> Build() { return Build(sim_->url()); }
  OutboxItem Item(incident::PageRequest r = DepositPage()) {
    OutboxItem item;
    item.id = 1;
    item.channel = item.original_channel = GetParam().channel;
    item.kind = GetParam().channel == Channel::kSlack    ? "post"
                : GetParam().channel == Channel::kTwilio ? "sms"
                                                         : "page";
    item.target = GetParam().target;
    item.request = std::move(r);
    return item;
  }
  json Recorded() { return sim_->Requests(GetParam().path); }
  json WithPath(json fault) {
    fault["path"] = GetParam().path;
    return fault;
  }

  static testing::SimServer* sim_;
  tocsin::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> store_;
};
testing::SimServer* Conformance::sim_ = nullptr;

TEST_P(Conformance, DeliversAPageTheSimulatorAccepts) {
  auto r = Build()->Deliver(Item());
  EXPECT_TRUE(r.ok()) << r.detail;
  ASSERT_EQ(Recorded().size(), 1u);
  EXPECT_EQ(Recorded()[0]["status"].get<int>() / 100, 2);
}

TEST_P(Conformance, OversizedTextIsCutToTheProvidersLimits) {
  auto page = DepositPage();
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "Депозит ";  // 24,000 code points, 2 bytes each
  page.alerts[0].annotations["summary"] = huge;
  page.title = huge;
  auto r = Build()->Deliver(Item(page));
  EXPECT_TRUE(r.ok()) << r.detail << "\n" << Recorded().dump();
}

TEST_P(Conformance, ServerErrorIsRetried) {
  sim_->Fault(WithPath(GetParam().transient_fault));
  auto r = Build()->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kRetry) << r.detail;
}

TEST_P(Conformance, ThrottlingIsRetriedAfterRetryAfter) {
  if (!GetParam().has_retry_after) GTEST_SKIP() << "SMTP has no Retry-After";
  sim_->Fault({{"path", GetParam().path}, {"status", 429}, {"retry_after", "7"}});
  auto r = Build()->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kRetry) << r.detail;
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, std::chrono::seconds(7));
}

TEST_P(Conformance, RequestTimeoutIsRetried) {
  if (!GetParam().has_retry_after) GTEST_SKIP() << "HTTP only";
  sim_->Fault({{"path", GetParam().path}, {"status", 408}});
  EXPECT_EQ(Build()->Deliver(Item()).outcome, DeliveryResult::Outcome::kRetry);
}

TEST_P(Conformance, RejectedRequestIsPermanent) {
  sim_->Fault(WithPath(GetParam().permanent_fault));
  auto r = Build()->Deliver(Item());
  EXPECT_EQ(r.outcome, DeliveryResult::Outcome::kPermanent) << r.detail;
}

TEST_P(Conformance, NetworkErrorIsRetried) {
  unsigned short closed = tocsin::testing::FreePort();
  std::string base = "http://127.0.0.1:" + std::to_string(closed);
  if (GetParam().channel == Channel::kEmail) {
    config::ProvidersConfig p;
    GetParam().configure(p, base, closed);
    auto e = BuildNotifiers(p, {*PageRenderer::Create({}), nullptr, nullptr, nullptr});
    EXPECT_EQ(e.notifiers.at(Channel::kEmail)->Deliver(Item()).outcome,
              DeliveryResult::Outcome::kRetry);
    return;
  }
  EXPECT_EQ(Build(base)->Deliver(Item()).outcome, DeliveryResult::Outcome::kRetry);
}

TEST_P(Conformance, IdempotencyKeyStableAcrossRetriesAndRestarts) {
  sim_->Fault(WithPath(GetParam().transient_fault));
  auto item = Item();
  EXPECT_FALSE(Build()->Deliver(item).ok());
  EXPECT_TRUE(Build()->Deliver(item).ok());
  // A restart: the item comes back from the database into a freshly built notifier.
  bool inserted = false;  // the store has no writer thread: it answers at once
  store_->Insert({item}, {}, [&](auto r) { inserted = r.has_value(); });
  ASSERT_TRUE(inserted);
  auto reloaded = store_->LoadPending();
  ASSERT_TRUE(reloaded && !reloaded->empty());
  EXPECT_TRUE(Build()->Deliver(reloaded->front()).ok());
  // Every request that carried the page (an SMTP RCPT refused before DATA carries none).
  std::vector<std::string> keys;
  for (const auto& r : Recorded()) {
    if (!r["body"].get<std::string>().empty()) keys.push_back(GetParam().key_of(r));
  }
  ASSERT_GE(keys.size(), 2u);
  EXPECT_FALSE(keys[0].empty());
  for (const auto& k : keys) EXPECT_EQ(k, keys[0]);
}

TEST_P(Conformance, NoSecretInAnyErrorOrLogLine) {
  std::vector<std::string> lines;
  log::Setup(log::Format::kText, spdlog::level::debug,
             [&lines](std::string_view l) { lines.emplace_back(l); });
  // A provider that echoes the credential back in its error (some proxies do).
  json fault = GetParam().permanent_fault;
  fault["path"] = GetParam().path;
  fault["body"] = "rejected credential " + GetParam().secret;
  sim_->Fault(fault);
  // The notifier's own error, before anything else could redact it.
  auto direct = Build()->Deliver(Item());
  EXPECT_FALSE(direct.ok());
  EXPECT_EQ(direct.detail.find(GetParam().secret), std::string::npos) << direct.detail;
  sim_->Fault(fault);
  // Through the whole outbox, so its log lines and reports are covered too.
  SimulatedScheduler scheduler(testing::T0());
  InlineExecutor executor;
  Outbox outbox(*store_, scheduler, executor);
  ASSERT_TRUE(outbox.Open());
  NotifierSet set;
  set.notifiers[GetParam().channel] = Build();
  NotifyConfig cfg;
  outbox.Configure(set, cfg);
  testing::RecordingObserver observer;
  outbox.SetObserver(&observer);
  auto page = DepositPage();
  auto olena = testing::Olena();
  olena.jsm_username = "olena@example.com";
  olena.phone = "+380501110001";  // Twilio's identity
  page.targets = {{olena, "l1", {GetParam().channel}}};
  outbox.Send(page, {});
  scheduler.AdvanceBy(std::chrono::minutes(1));
  ASSERT_FALSE(observer.reports.empty());
  bool failed = false;
  for (const auto& r : observer.reports) {
    failed = failed || r.outcome != incident::DeliveryOutcome::kSent;
    EXPECT_EQ(r.detail.find(GetParam().secret), std::string::npos) << r.detail;
  }
  EXPECT_TRUE(failed) << "the fault must have produced an error to check";
  ASSERT_FALSE(lines.empty());
  for (const auto& l : lines) EXPECT_EQ(l.find(GetParam().secret), std::string::npos) << l;
}

INSTANTIATE_TEST_SUITE_P(AllProviders, Conformance, ::testing::ValuesIn(Cases()),
                         [](const auto& i) {
                           std::string n = i.param.name;
                           for (auto& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

// Slack has no idempotency key: a post delivered again (a crash before the outbox wrote
// "sent") becomes an update of the stored message instead of a second message.
TEST(SlackRedelivery, UpdatesTheSameMessageInsteadOfPostingTwice) {
  testing::SimServer sim;
  tocsin::testing::TempDir dir;
  auto db = std::move(*store::Database::Open(dir.path() + "/tocsin.db"));
  store::SqliteOutboxStore store(*db);
  ASSERT_TRUE(store.Migrate());
  config::SlackConfig cfg;
  cfg.api_url = sim.url();
  cfg.bot_token = "xoxb-token";
  cfg.channel = "#incidents";
  SlackNotifier slack(cfg, *PageRenderer::Create({}), std::make_shared<CurlHttpClient>(), store);
  OutboxItem item;
  item.kind = "post";
  item.request = DepositPage();
  ASSERT_TRUE(slack.Deliver(item).ok());
  ASSERT_TRUE(slack.Deliver(item).ok());
  auto posts = sim.Requests("/api/chat.postMessage");
  auto updates = sim.Requests("/api/chat.update");
  ASSERT_EQ(posts.size(), 1u);
  ASSERT_EQ(updates.size(), 1u);
  auto ref = store.FindSlackMessage("INC-42");
  ASSERT_TRUE(ref);
  EXPECT_EQ(json::parse(updates[0]["body"].get<std::string>())["ts"], ref->ts);
  // The timeline threads under it.
  item.kind = "thread";
  item.request.action = incident::PageAction::kAcknowledge;
  item.request.actor = "olena";
  ASSERT_TRUE(slack.Deliver(item).ok());
  auto thread =
      json::parse(sim.Requests("/api/chat.postMessage").back()["body"].get<std::string>());
  EXPECT_EQ(thread["thread_ts"], ref->ts);
  EXPECT_EQ(thread["text"], "Acknowledged by olena");
}

TEST(OpsgenieConformance, NotImplementedIsNotRetried) {
  testing::SimServer sim;
  sim.Fault({{"path", "/v2/alerts"}, {"status", 501}});
  config::ProvidersConfig p;
  p.opsgenie = config::OpsgenieConfig{sim.url(), "key", "", ""};
  auto set = BuildNotifiers(
      p, {*PageRenderer::Create({}), std::make_shared<CurlHttpClient>(), nullptr, nullptr});
  OutboxItem item;
  item.request = DepositPage();
  EXPECT_EQ(set.notifiers.at(Channel::kOpsgenie)->Deliver(item).outcome,
            DeliveryResult::Outcome::kPermanent);
}

}  // namespace
}  // namespace tocsin::notify
