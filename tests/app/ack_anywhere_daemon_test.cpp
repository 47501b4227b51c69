// "Acknowledge from anywhere" against the real `tocsin serve`: one incident acknowledged by a
// signed Slack click, resolved by a signed PagerDuty webhook, and an API that only bearer
// tokens with the right role may use — with the token's person, never a body field, as the
// actor. Timers are not involved; the test only polls the process (bounded) for the Slack
// action, which runs on the loop turn after Slack got its 200.
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/http/signatures.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kSlackSecret = "slack-signing-secret-for-the-daemon-test";
constexpr const char* kPdSecret = "pagerduty-webhook-secret-for-the-daemon-test";
constexpr const char* kResponderToken = "responder-token-0123456789abcdef";
constexpr const char* kViewerToken = "viewer-token-0123456789abcdef";
constexpr const char* kTinyToken = "tiny-budget-token-0123456789abcdef";

constexpr const char* kRoster = R"(
people:
  olena: {name: Olena Kovalenko, time_zone: UTC, slack_user_id: U024BE7LH}
  marco: {name: Marco Rossi, time_zone: UTC, slack_user_id: U0MARCO}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [olena]}
  l2: {role: l2-sre-platform, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
  comms: {role: comms, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [marco]}
)";

class AckAnywhereDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("roster.yaml", kRoster);
    token_file_ = dir_.Write("token", std::string(kResponderToken) + "\n");
    config_ = dir_.Write("tocsin.yaml", Subst(R"(
log: {level: info}
roster_file: roster.yaml
providers:
  slack: {bot_token: xoxb-test, channel: "#incidents", signing_secret: %s}
  pagerduty: {routing_key: 0123456789abcdef0123456789abcdef, webhook_secret: %s}
api:
  tokens:
    - {name: olena-laptop, sha256: %s, role: responder, person: olena}
    - {name: grafana, sha256: %s, role: viewer}
    - {name: tiny, sha256: %s, role: viewer, requests_per_minute: 2}
)",
                                              {kSlackSecret, kPdSecret, Sha256Hex(kResponderToken),
                                               Sha256Hex(kViewerToken), Sha256Hex(kTinyToken)}));
    port_ = testing::FreePort();
    StartDaemon("tocsin.log");
  }

  void StartDaemon(const std::string& log_file) {
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config_, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 dir_.path() + "/data"},
        std::vector<std::string>{}, dir_.path() + "/" + log_file);
    ASSERT_TRUE(testing::WaitForPort(port_, 10s));
  }

  // printf-like %s substitution, so the YAML above stays readable.
  static std::string Subst(std::string text, const std::vector<std::string>& args) {
    for (const auto& a : args) text.replace(text.find("%s"), 2, a);
    return text;
  }

  HttpClientResponse Send(const std::string& method, const std::string& path,
                          const std::string& body, HttpHeaders headers) {
    HttpClientRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    r.body = body;
    r.headers = std::move(headers);
    auto resp = client_.Send(r);
    EXPECT_TRUE(resp) << resp.error().message();
    return resp ? *resp : HttpClientResponse{};
  }

  std::pair<long, json> Api(const std::string& method, const std::string& path,
                            const std::string& token, const json& body = nullptr) {
    HttpHeaders h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    if (!body.is_null()) h.emplace_back("Content-Type", "application/json");
    auto r = Send(method, path, body.is_null() ? "" : body.dump(), h);
    return {r.status, json::parse(r.body, nullptr, false)};
  }

  json Incident(const std::string& id) {
    return Api("GET", "/api/v1/incidents/" + id, kResponderToken).second;
  }

  std::vector<json> Events(const std::string& id, const std::string& kind) {
    std::vector<json> out;
    const json inc = Incident(id);
    for (const auto& e : inc["timeline"]) {
      if (e["kind"] == kind) out.push_back(e);
    }
    return out;
  }

  bool WaitForState(const std::string& id, const std::string& state) {
    for (auto until = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
      if (Incident(id)["incident"]["state"] == state) return true;
    }
    return false;
  }

  struct SignedRequest {
    std::string body;
    HttpHeaders headers;
  };
  SignedRequest SignedClick(const std::string& user, const std::string& action,
                            const std::string& incident, const std::string& secret) {
    json payload = {
        {"type", "block_actions"},
        {"user", {{"id", user}, {"username", "someone"}}},
        {"team", {{"id", "T1"}}},
        {"channel", {{"id", "C_INCIDENTS"}}},
        {"container", {{"message_ts", "1795312391.000200"}}},
        // Nothing listens there: the ephemeral answer fails quietly, off the loop.
        {"response_url", "http://127.0.0.1:9/slack-response"},
        {"actions",
         {{{"action_id", action}, {"value", incident}, {"action_ts", std::to_string(++clicks_)}}}}};
    std::string body = "payload=" + UrlEncode(payload.dump());
    std::string ts = std::to_string(std::time(nullptr));
    return {body,
            {{"Content-Type", "application/x-www-form-urlencoded"},
             {"X-Slack-Request-Timestamp", ts},
             {"X-Slack-Signature", "v0=" + HmacSha256Hex(secret, "v0:" + ts + ":" + body)}}};
  }
  HttpClientResponse SlackClick(const std::string& user, const std::string& action,
                                const std::string& incident, const std::string& secret) {
    auto click = SignedClick(user, action, incident, secret);
    return Send("POST", "/slack/interactivity", click.body, click.headers);
  }

  // Stops the daemon (SIGTERM, as systemd does) and starts it again on the same data.
  void RestartDaemon() {
    ASSERT_TRUE(daemon_->Signal(SIGTERM));
    ASSERT_TRUE(daemon_->Wait(10s).has_value());
    StartDaemon("tocsin-restarted.log");
  }

  HttpClientResponse PagerDutyWebhook(const std::string& type, const std::string& dedup_key,
                                      const std::string& webhook_id,
                                      const std::string& event_id = "") {
    json body = {
        {"event",
         {{"id", event_id.empty() ? "01EVT" + webhook_id : event_id},
          {"event_type", type},
          {"resource_type", "incident"},
          {"occurred_at", "2026-11-22T03:10:00Z"},
          {"agent", {{"id", "PXPGF42"}, {"summary", "Olena Kovalenko"}}},
          {"data", {{"id", "Q1ABC"}, {"type", "incident"}, {"incident_key", dedup_key}}}}}};
    std::string raw = body.dump();
    return Send("POST", "/webhooks/pagerduty", raw,
                {{"Content-Type", "application/json"},
                 {"X-Webhook-Id", webhook_id},
                 {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, raw)}});
  }

  std::string OpenIncident(const std::string& title) {
    // The body names someone else: the token's person is the actor regardless.
    auto [status, created] =
        Api("POST", "/api/v1/incidents", kResponderToken,
            {{"actor", "mallory"}, {"title", title}, {"severity", "critical"}});
    EXPECT_EQ(status, 201) << created.dump();
    return created["incident"]["id"].get<std::string>();
  }

  int Cli(const std::string& args, const std::string& env = "") {
    std::string cmd = env + " " + TOCSIN_BINARY + " incidents " + args +
                      " --url http://127.0.0.1:" + std::to_string(port_) + " >" + dir_.path() +
                      "/cli.out 2>" + dir_.path() + "/cli.err";
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string CliErr() {
    std::ifstream in(dir_.path() + "/cli.err");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  testing::TempDir dir_;
  std::string config_;
  std::string token_file_;
  unsigned short port_ = 0;
  std::unique_ptr<Process> daemon_;
  CurlHttpClient client_;
  int clicks_ = 0;
};

TEST_F(AckAnywhereDaemonTest, SlackAcksPagerDutyResolvesForgeriesAndReplaysChangeNothing) {
  const std::string id = OpenIncident("Deposit success 97.2 % at PSP-A");
  auto opened = Events(id, "opened");
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0]["actor"], "olena");

  // A forged Slack signature: 403 and the incident is untouched.
  // (Delivery results of the page keep landing in the timeline meanwhile: count actions only.)
  EXPECT_EQ(SlackClick("U024BE7LH", "tocsin_ack", id, "guessed-secret").status, 403);
  EXPECT_EQ(Incident(id)["incident"]["state"], "triggered");
  EXPECT_TRUE(Events(id, "acknowledged").empty());

  // A signed click by Olena's Slack user acknowledges it, as Olena, from Slack.
  auto click = SlackClick("U024BE7LH", "tocsin_ack", id, kSlackSecret);
  EXPECT_EQ(click.status, 200);
  ASSERT_TRUE(WaitForState(id, "acknowledged"));
  auto acks = Events(id, "acknowledged");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["actor"], "olena");
  EXPECT_EQ(acks[0]["data"]["origin"], "slack");

  // PagerDuty says it was resolved there: signed, found by tocsin's dedup key.
  auto resolve = PagerDutyWebhook("incident.resolved", "tocsin/" + id, "wh-1");
  EXPECT_EQ(resolve.status, 200);
  EXPECT_EQ(json::parse(resolve.body, nullptr, false)["outcome"], "acted") << resolve.body;
  auto inc = Incident(id);
  EXPECT_EQ(inc["incident"]["state"], "resolved");
  EXPECT_EQ(inc["incident"]["resolved_by"], "pagerduty:Olena Kovalenko");
  auto resolved = Events(id, "resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["data"]["origin"], "pagerduty");

  // PagerDuty delivers at least once: the same delivery again changes nothing, and neither
  // does the same signed body replayed under another X-Webhook-Id.
  auto again = PagerDutyWebhook("incident.resolved", "tocsin/" + id, "wh-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body, nullptr, false)["outcome"], "duplicate") << again.body;
  auto replayed = PagerDutyWebhook("incident.resolved", "tocsin/" + id, "wh-2", "01EVTwh-1");
  EXPECT_EQ(replayed.status, 200);
  EXPECT_EQ(json::parse(replayed.body, nullptr, false)["outcome"], "duplicate") << replayed.body;
  EXPECT_EQ(Events(id, "resolved").size(), 1u);

  auto [vs, verify] = Api("GET", "/api/v1/incidents/" + id + "/verify", kViewerToken);
  EXPECT_EQ(vs, 200);
  EXPECT_TRUE(verify["ok"].get<bool>()) << verify.dump();
}

// Regression: Slack's replay cache was in memory only, so a captured click sent again after a
// restart (inside the 5-minute window) was acted on again.
TEST_F(AckAnywhereDaemonTest, SlackClickReplayedAfterADaemonRestartIsRefused) {
  const std::string id = OpenIncident("Login p95 over 800 ms");
  auto click = SignedClick("U024BE7LH", "tocsin_ack", id, kSlackSecret);
  EXPECT_EQ(Send("POST", "/slack/interactivity", click.body, click.headers).status, 200);
  ASSERT_TRUE(WaitForState(id, "acknowledged"));
  RestartDaemon();
  auto replay = Send("POST", "/slack/interactivity", click.body, click.headers);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(replay.body, "replayed request\n");
  EXPECT_EQ(Events(id, "acknowledged").size(), 1u);
}

// Regression: a note on a resolved incident moved its stored timeline past the copy kept for
// reopening, and opening it again through the API failed on a UNIQUE constraint.
TEST_F(AckAnywhereDaemonTest, ReopeningAJustResolvedIncidentThroughTheApi) {
  const json body = {{"key", "payments/psp-a"}, {"title", "PSP-A deposits failing"}};
  auto [s1, first] = Api("POST", "/api/v1/incidents", kResponderToken, body);
  ASSERT_EQ(s1, 201) << first.dump();
  const std::string id = first["incident"]["id"];
  EXPECT_EQ(Api("POST", "/api/v1/incidents/" + id + "/resolve", kResponderToken).first, 200);
  EXPECT_EQ(
      Api("POST", "/api/v1/incidents/" + id + "/note", kResponderToken, {{"text", "PSP fixed"}})
          .first,
      200);
  auto [s2, again] = Api("POST", "/api/v1/incidents", kResponderToken, body);
  ASSERT_EQ(s2, 201) << again.dump();
  EXPECT_EQ(again["incident"]["id"], id);
  EXPECT_EQ(again["incident"]["state"], "triggered");
  EXPECT_EQ(Events(id, "reopened").size(), 1u);
  auto [sl, list] = Api("GET", "/api/v1/incidents?state=all", kResponderToken);
  EXPECT_EQ(sl, 200);
  EXPECT_EQ(list["incidents"].size(), 1u) << list.dump();
  auto [vs, verify] = Api("GET", "/api/v1/incidents/" + id + "/verify", kViewerToken);
  EXPECT_EQ(vs, 200);
  EXPECT_TRUE(verify["ok"].get<bool>()) << verify.dump();
}

TEST_F(AckAnywhereDaemonTest, ApiNeedsATokenWithTheRightRoleAndTheTokenNamesTheActor) {
  const std::string id = OpenIncident("WS p95 up in APAC");
  // No token: 401 with a challenge, even from loopback once tokens are configured.
  auto [s0, unauth] = Api("GET", "/api/v1/incidents", "");
  EXPECT_EQ(s0, 401) << unauth.dump();
  EXPECT_EQ(Api("GET", "/api/v1/incidents", "not-a-configured-token").first, 401);
  // A viewer reads, but may not acknowledge.
  EXPECT_EQ(Api("GET", "/api/v1/incidents/" + id, kViewerToken).first, 200);
  auto [s1, forbidden] =
      Api("POST", "/api/v1/incidents/" + id + "/ack", kViewerToken, {{"actor", "olena"}});
  EXPECT_EQ(s1, 403) << forbidden.dump();
  EXPECT_EQ(Incident(id)["incident"]["state"], "triggered");
  // A responder acknowledges; the body's actor is ignored, the token's person is recorded.
  auto [s2, acked] =
      Api("POST", "/api/v1/incidents/" + id + "/ack", kResponderToken, {{"actor", "marco"}});
  EXPECT_EQ(s2, 200) << acked.dump();
  EXPECT_EQ(acked["incident"]["state"], "acknowledged");
  auto acks = Events(id, "acknowledged");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["actor"], "olena");
  EXPECT_EQ(acks[0]["data"]["origin"], "api");
  // Nor can a header choose the actor.
  HttpHeaders h{{"Authorization", std::string("Bearer ") + kResponderToken},
                {"X-Tocsin-Actor", "marco"},
                {"Content-Type", "application/json"}};
  auto note = Send("POST", "/api/v1/incidents/" + id + "/note", R"({"text": "PSP lag"})", h);
  EXPECT_EQ(note.status, 200) << note.body;
  EXPECT_EQ(Events(id, "note").back()["actor"], "olena");
  // Reload needs admin.
  EXPECT_EQ(Api("POST", "/-/reload", kResponderToken).first, 403);
  EXPECT_EQ(Api("POST", "/-/reload", "").first, 401);
}

TEST_F(AckAnywhereDaemonTest, SpentBudgetIs429) {
  EXPECT_EQ(Api("GET", "/api/v1/incidents", kTinyToken).first, 200);
  EXPECT_EQ(Api("GET", "/api/v1/incidents", kTinyToken).first, 200);
  HttpHeaders h{{"Authorization", std::string("Bearer ") + kTinyToken}};
  auto limited = Send("GET", "/api/v1/incidents", "", h);
  EXPECT_EQ(limited.status, 429);
  // Other tokens have budgets of their own.
  EXPECT_EQ(Api("GET", "/api/v1/incidents", kViewerToken).first, 200);
}

TEST_F(AckAnywhereDaemonTest, CliSendsTheTokenFromAFileOrTheEnvironment) {
  const std::string id = OpenIncident("Bonus wallet lag");
  EXPECT_EQ(Cli("list"), 2);
  EXPECT_NE(CliErr().find("--token-file"), std::string::npos) << CliErr();
  EXPECT_EQ(Cli("list --token-file " + token_file_), 0) << CliErr();
  EXPECT_EQ(Cli("ack " + id + " --token-file " + token_file_), 0) << CliErr();
  EXPECT_EQ(Events(id, "acknowledged").at(0)["actor"], "olena");
  EXPECT_EQ(Cli("resolve " + id, std::string("TOCSIN_TOKEN=") + kViewerToken), 1);
  EXPECT_NE(CliErr().find("role"), std::string::npos) << CliErr();
  EXPECT_EQ(Cli("resolve " + id, std::string("TOCSIN_TOKEN=") + kResponderToken), 0) << CliErr();
  EXPECT_EQ(Incident(id)["incident"]["state"], "resolved");
  EXPECT_EQ(Cli("list --token-file " + dir_.path() + "/missing"), 2);
}

TEST_F(AckAnywhereDaemonTest, ReloadSwapsTokensAndTheOldOneStopsWorking) {
  constexpr const char* kRotated = "rotated-token-0123456789abcdef";
  std::string text;
  {
    std::ifstream in(config_);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = text.find(Sha256Hex(kResponderToken));
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 64, Sha256Hex(kRotated));
  dir_.Write("tocsin.yaml", text);
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  bool swapped = false;
  for (auto until = std::chrono::steady_clock::now() + 5s;
       !swapped && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
    swapped = Api("GET", "/api/v1/incidents", kRotated).first == 200;
  }
  ASSERT_TRUE(swapped);
  EXPECT_EQ(Api("GET", "/api/v1/incidents", kResponderToken).first, 401);
}

}  // namespace
}  // namespace tocsin
