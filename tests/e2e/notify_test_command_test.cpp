// `tocsin notify test` as a user runs it: the real binary against the provider simulator
// process, once per provider, asserting what the simulator recorded for the one person tested
// (and that the page is marked as a test and carries a dedup key of its own), plus the errors
// that must say what to fix.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::CommandResult;
using testing::Process;

constexpr const char* kRoutingKey = "0123456789abcdef0123456789abcdef";
constexpr const char* kPdApiToken = "pd-rest-token-for-the-notify-test";
constexpr const char* kTwilioSid = "AC00000000000000000000000000000001";  // the simulator's
constexpr const char* kTwilioToken = "sim-twilio-auth-token-0123456789";
constexpr const char* kTwilioNumber = "+15005550006";
constexpr const char* kPayPhone = "+15005550101";

// `pay` has an id for every provider, `l1a` only a PagerDuty one.
constexpr const char* kRoster = R"(
people:
  pay: {name: Payments L2, time_zone: UTC, pagerduty_user_id: PPAY001, opsgenie_username: pay@example.com, jsm_username: pay@example.com, slack_user_id: U0PAY, email: pay@example.com, phone: "+15005550101"}
  l1a: {name: L1 Day, time_zone: UTC, pagerduty_user_id: PL1A001}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [l1a]}
  l2: {role: l2-payments, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [pay]}
)";

class NotifyTestCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string port_file = dir_.path() + "/sim.ports";
    sim_proc_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--smtp-listen",
                                 "127.0.0.1:0", "--port-file", port_file},
        std::vector<std::string>{}, dir_.path() + "/sim.log");
    auto ports = testing::ReadPortFile(port_file, 2);
    ASSERT_EQ(ports.size(), 2u) << "the simulator did not write its port file";
    sim_ = "http://127.0.0.1:" + std::to_string(ports[0]);
    smtp_port_ = std::to_string(ports[1]);
    dir_.Write("roster.yaml", kRoster);
    dir_.Write("pd-api-token", std::string(kPdApiToken) + "\n");
    dir_.Write("twilio-token", std::string(kTwilioToken) + "\n");
  }
  void TearDown() override {
    if (HasFailure())
      ADD_FAILURE() << "--- sim.log ---\n" << testing::ReadFile(dir_.path() + "/sim.log");
  }

  // The YAML of `providers.<name>` pointing at the simulator.
  std::string ProviderYaml(const std::string& name) const {
    if (name == "pagerduty") {
      return "  pagerduty:\n    events_url: " + sim_ + "\n    routing_key: " + kRoutingKey +
             "\n    api_url: " + sim_ +
             "\n    api_token_file: pd-api-token\n    from: tocsin@example.com\n"
             "    requester_id: PBOT001\n";
    }
    if (name == "opsgenie")
      return "  opsgenie:\n    api_url: " + sim_ + "\n    api_key: genie-key\n";
    if (name == "jsm")
      return "  jsm:\n    api_url: " + sim_ +
             "\n    api_key: 6f1c2b7e-1f6a-4c39-9a57-2d4f1e8b9c01\n";
    if (name == "slack") {
      return "  slack:\n    api_url: " + sim_ +
             "\n    bot_token: xoxb-notify-test-0123456789\n    signing_secret: "
             "slack-signing-secret-0123456789\n    channel: \"#incidents\"\n";
    }
    if (name == "teams") {
      return "  teams:\n    webhook_url: \"" + sim_ +
             "/workflows/ops-room/triggers/manual/paths/invoke?api-version=1&sig=s1g\"\n";
    }
    if (name == "twilio") {
      return "  twilio:\n    api_url: " + sim_ + "\n    account_sid: " + kTwilioSid +
             "\n    auth_token_file: twilio-token\n    from: \"" + kTwilioNumber +
             "\"\n    public_url: http://127.0.0.1:9/\n";
    }
    if (name == "email") {
      return "  email:\n    smtp_url: smtp://127.0.0.1:" + smtp_port_ +
             "\n    from: tocsin@example.com\n    starttls: off\n";
    }
    if (name == "webhook") return "  webhook:\n    url: " + sim_ + "/webhook/paging\n";
    return "";
  }
  // tocsin.yaml with these providers and a ladder that uses them (`channels`).
  std::string WriteConfig(const std::string& providers, const std::string& channels) {
    return dir_.Write("tocsin.yaml", "log: {level: info}\nroster_file: roster.yaml\nproviders:\n" +
                                         providers +
                                         "escalation_policies:\n  default:\n    steps:\n"
                                         "      - {after: 0s, targets: [{role: l1}], channels: [" +
                                         channels + "]}\n");
  }
  CommandResult NotifyTest(const std::string& config, const std::string& provider,
                           const std::string& person, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {TOCSIN_BINARY, "notify", "test",     "--config", config,
                                     "--provider",  provider, "--person", person};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::RunCommand(argv);
  }
  // The test through `provider` to `pay`, which must succeed.
  CommandResult PagePay(const std::string& provider) {
    CommandResult r = NotifyTest(WriteConfig(ProviderYaml(provider), provider), provider, "pay");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("accepted, status "), std::string::npos) << r.out;
    return r;
  }
  json Get(const std::string& path) {
    HttpClientRequest r;
    r.method = "GET";
    r.url = sim_ + path;
    r.timeout = 5s;
    auto resp = client_.Send(r);
    return resp && resp->status == 200 ? json::parse(resp->body, nullptr, false) : json();
  }
  HttpClientResponse Post(const std::string& path, const json& body) {
    HttpClientRequest r;
    r.method = "POST";
    r.url = sim_ + path;
    r.body = body.dump();
    r.timeout = 5s;
    auto resp = client_.Send(r);
    return resp ? *resp : HttpClientResponse{};
  }
  static bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<Process> sim_proc_;
  std::string sim_;
  std::string smtp_port_;
  CurlHttpClient client_;
};

TEST_F(NotifyTestCommand, PagerDutyAddsThePersonToATestIncidentOfItsOwn) {
  json account = {{"api_token", kPdApiToken},
                  {"users",
                   {{{"id", "PBOT001"}, {"email", "tocsin@example.com"}},
                    {{"id", "PL1A001"}, {"email", "l1a@example.com"}},
                    {{"id", "PPAY001"}, {"email", "pay@example.com"}}}}};
  account["services"][kRoutingKey] = json::array({"PL1A001"});
  ASSERT_EQ(Post("/_sim/pagerduty/account", account).status, 200);
  CommandResult r = PagePay("pagerduty");
  bool pay_paged = false;
  for (const auto& p : Get("/_sim/pagerduty/pages")) {
    pay_paged = pay_paged || (p["user_id"] == "PPAY001" && p["how"] == "responder_request");
  }
  EXPECT_TRUE(pay_paged) << Get("/_sim/pagerduty/pages").dump();
  json incidents = Get("/_sim/pagerduty/incidents");
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_TRUE(StartsWith(incidents[0]["incident_key"], "tocsin-test-pay-pagerduty-"))
      << incidents[0].dump();
  EXPECT_TRUE(StartsWith(incidents[0]["title"], "TEST — ")) << incidents[0].dump();
  // The Events API answer and the incident PagerDuty put the person on, as printed.
  EXPECT_NE(r.out.find("\"dedup_key\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PagerDuty incident " + incidents[0]["id"].get<std::string>()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("paged by responder request: pay (PPAY001)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kPdApiToken), std::string::npos);
}

TEST_F(NotifyTestCommand, OpsgenieCreatesATestAlertWithThePersonAsResponder) {
  CommandResult r = PagePay("opsgenie");
  json pages = Get("/_sim/opsgenie/pages")["pages"];
  ASSERT_EQ(pages.size(), 1u) << pages.dump();
  EXPECT_EQ(pages[0]["username"], "pay@example.com");
  EXPECT_EQ(pages[0]["how"], "create");
  EXPECT_TRUE(StartsWith(pages[0]["alias"], "tocsin-test-pay-opsgenie-")) << pages.dump();
  EXPECT_NE(r.out.find("requestId"), std::string::npos) << r.out;
}

TEST_F(NotifyTestCommand, JsmCreatesATestAlertWithThePersonAsResponder) {
  CommandResult r = PagePay("jsm");
  json received = Get("/_sim/jsm/received");
  ASSERT_EQ(received.size(), 1u) << received.dump();
  EXPECT_EQ(received[0]["username"], "pay@example.com");
  EXPECT_TRUE(StartsWith(received[0]["alias"], "tocsin-test-pay-jsm-")) << received.dump();
  EXPECT_TRUE(StartsWith(received[0]["message"], "TEST — ")) << received.dump();
  EXPECT_NE(r.out.find("requestId"), std::string::npos) << r.out;
}

TEST_F(NotifyTestCommand, SlackPostsATestMessageMentioningThePerson) {
  CommandResult r = PagePay("slack");
  json posts = Get("/_sim/requests?path=/api/chat.postMessage");
  ASSERT_EQ(posts.size(), 1u) << posts.dump();
  std::string body = posts[0]["body"];
  EXPECT_NE(body.find("<@U0PAY>"), std::string::npos) << body;
  EXPECT_NE(body.find("TEST — "), std::string::npos) << body;
  // Slack's message id (channel and ts) is what the command prints as the provider's id.
  EXPECT_NE(r.out.find(", id "), std::string::npos) << r.out;
}

TEST_F(NotifyTestCommand, TeamsPostsATestCardNamingThePerson) {
  PagePay("teams");
  json cards = Get("/_sim/teams/messages");
  ASSERT_EQ(cards.size(), 1u) << cards.dump();
  EXPECT_TRUE(StartsWith(cards[0]["title"], "TEST — ")) << cards.dump();
  EXPECT_EQ(cards[0]["facts"]["Paged"], "Payments L2 (test)");
}

TEST_F(NotifyTestCommand, TwilioTextsAndCallsThePersonsPhone) {
  CommandResult r = PagePay("twilio");
  json phones = Get("/_sim/twilio/phones");
  ASSERT_TRUE(phones.contains(kPayPhone)) << phones.dump();
  ASSERT_EQ(phones[kPayPhone]["sms"].size(), 1u) << phones.dump();
  ASSERT_EQ(phones[kPayPhone]["calls"].size(), 1u) << phones.dump();
  EXPECT_NE(phones[kPayPhone]["sms"][0]["body"].get<std::string>().find("TEST"), std::string::npos);
  EXPECT_EQ(phones.size(), 1u) << "nobody else's phone";
  EXPECT_NE(r.out.find(phones[kPayPhone]["sms"][0]["sid"].get<std::string>()), std::string::npos)
      << r.out;
}

TEST_F(NotifyTestCommand, EmailSendsATestMailToThePerson) {
  PagePay("email");
  json mails = Get("/_sim/requests?path=/smtp");
  ASSERT_EQ(mails.size(), 1u) << mails.dump();
  EXPECT_NE(mails[0]["headers"]["to"].dump().find("pay@example.com"), std::string::npos)
      << mails.dump();
  EXPECT_NE(mails[0]["body"].get<std::string>().find("TEST"), std::string::npos);
}

TEST_F(NotifyTestCommand, WebhookPostsATestPageNamingThePerson) {
  PagePay("webhook");
  json posts = Get("/_sim/requests?path=/webhook/paging");
  ASSERT_EQ(posts.size(), 1u) << posts.dump();
  json body = json::parse(posts[0]["body"].get<std::string>());
  EXPECT_EQ(body["state"], "test") << body.dump();
  EXPECT_TRUE(StartsWith(body["title"], "TEST — ")) << body.dump();
  EXPECT_TRUE(StartsWith(body["dedup_key"], "tocsin-test-pay-webhook-")) << body.dump();
  ASSERT_EQ(body["targets"].size(), 1u) << body.dump();
  EXPECT_EQ(body["targets"][0]["person"], "pay");
}

TEST_F(NotifyTestCommand, ARefusalIsPrintedAsTheProviderAnsweredAndExitsOne) {
  ASSERT_EQ(Post("/_sim/faults", {{"path", "/v2/alerts"},
                                  {"status", 422},
                                  {"body", R"({"message":"Key format is not valid!"})"}})
                .status,
            200);
  CommandResult r =
      NotifyTest(WriteConfig(ProviderYaml("opsgenie"), "opsgenie"), "opsgenie", "pay");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("refused, status 422"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Key format is not valid!"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did NOT accept"), std::string::npos) << r.out;
}

TEST_F(NotifyTestCommand, BadRequestsSayWhatToFixAndSendNothing) {
  const std::string config =
      WriteConfig(ProviderYaml("pagerduty") + ProviderYaml("opsgenie"), "pagerduty, opsgenie");
  CommandResult r = NotifyTest(config, "pagerdutty", "pay");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown provider \"pagerdutty\" (known: pagerduty, "), std::string::npos)
      << r.err;
  r = NotifyTest(config, "pagerduty", "olena");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no person \"olena\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(people: l1a, pay)"), std::string::npos) << r.err;
  r = NotifyTest(config, "twilio", "pay");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("add providers.twilio to the configuration"), std::string::npos) << r.err;
  r = NotifyTest(config, "opsgenie", "l1a");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("l1a has no opsgenie_username in the roster: add `opsgenie_username:` to "
                       "people.l1a"),
            std::string::npos)
      << r.err;
  // PagerDuty without its REST API could only page the service's on-call, not this person.
  r = NotifyTest(WriteConfig("  pagerduty:\n    events_url: " + sim_ +
                                 "\n    routing_key: " + kRoutingKey + "\n",
                             "pagerduty"),
                 "pagerduty", "pay");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("providers.pagerduty.api_token_file"), std::string::npos) << r.err;
  EXPECT_TRUE(Get("/_sim/requests?path=/").empty()) << Get("/_sim/requests?path=/").dump();
}

}  // namespace
}  // namespace tocsin
