// The Slack and provider-webhook endpoints on a real loopback server: authentication first,
// nothing changes on a forged, expired or replayed request, and every accepted action reaches
// the incident side exactly once.
#include "tocsin/api/inbound_handlers.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/log_capture.h"
#include "support/raw_http.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/http/server.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {
namespace {

const char* kSlackSecret = "slack-signing-secret-for-tests";
const char* kPdSecret = "pagerduty-webhook-secret";
const char* kOgToken = "opsgenie-webhook-token";

// Records every action; each incident acknowledges once, then reports "unchanged". As strict
// about delivery keys as the real side: a processed key answers duplicate and does nothing, a
// key is recorded with an action that succeeded and never with one that failed.
class FakeIncidents final : public IncidentCommands {
 public:
  Result<ActionOutcome> Act(const ActionRequest& r) override {
    std::lock_guard lock(mu);
    requests.push_back(r);
    if (r.incident_ref != "INC-1" && r.incident_ref != "tocsin/INC-1") {
      return Fail(Error::NotFound("no such incident"));
    }
    if (r.delivery && processed.count(Key(*r.delivery))) {
      ActionOutcome dup{"INC-1", state, false, "Deposit success low at PSP-A"};
      dup.duplicate = true;
      return dup;
    }
    if (fail_next) {
      fail_next = false;
      return Fail(Error::Io("disk I/O error"));
    }
    std::string next = r.action == IncidentAction::kResolve ? "resolved" : "acknowledged";
    bool changed = state != next;
    state = next;
    if (r.delivery) processed.insert(Key(*r.delivery));
    return ActionOutcome{"INC-1", state, changed, "Deposit success low at PSP-A"};
  }
  Result<bool> Processed(const DeliveryKey& key) override {
    std::lock_guard lock(mu);
    return processed.count(Key(key)) > 0;
  }
  Result<void> RecordProcessed(const DeliveryKey& key) override {
    std::lock_guard lock(mu);
    if (!processed.insert(Key(key)).second) return Fail(Error::Conflict("already processed"));
    return {};
  }
  static std::string Key(const DeliveryKey& k) { return k.source + "\n" + k.id; }
  std::set<std::string> processed;
  bool fail_next = false;
  std::vector<IncidentBrief> OpenIncidents() override {
    return {{"INC-1", "Deposit success low at PSP-A", state, 1, "2026-11-22T02:00:00Z", {}}};
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return requests.size();
  }
  std::mutex mu;
  std::vector<ActionRequest> requests;
  std::string state = "triggered";
};

class FakePeople final : public PersonDirectory {
 public:
  std::optional<oncall::Person> BySlackUserId(const std::string& id) override {
    if (id != "U_OLENA") return std::nullopt;
    oncall::Person p;
    p.id = "olena";
    p.name = "Olena Kovalenko";
    p.slack_user_id = id;
    return p;
  }
  std::optional<oncall::Person> ByPhone(const std::string&) override { return std::nullopt; }
  std::vector<std::string> WhoIsOnCall(const std::string& team) override {
    if (!team.empty() && team != "payments") return {};
    return {"L1: Olena Kovalenko (<@U_OLENA>)"};
  }
};

class InboundHandlersTest : public ::testing::Test {
 protected:
  InboundHandlersTest()
      : clock_(FromUnixMillis(1795312391000)),
        scheduler_(io_, clock_),
        handlers_(
            InboundConfig{kSlackSecret, "/tocsin", {kPdSecret}, kOgToken, ""}, incidents_, people_,
            scheduler_,
            [this](const std::string& url, const std::string& body) {
              std::lock_guard lock(mu_);
              posted_.emplace_back(url, body);
              cv_.notify_all();
            },
            registry_),
        server_(io_, {}, registry_) {
    auto router = std::make_shared<Router>();
    handlers_.Register(*router);
    server_.SetRouter(router);
    EXPECT_TRUE(server_.Start());
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~InboundHandlersTest() override {
    io_.stop();
    loop_.join();
  }

  HttpClientResponse Post(const std::string& path, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
    HttpClientRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(server_.port()) + path;
    req.body = body;
    req.headers = std::move(headers);
    auto r = client_.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : HttpClientResponse{};
  }
  std::vector<std::pair<std::string, std::string>> SlackHeaders(const std::string& body,
                                                                long long ts_offset_s = 0) {
    std::string ts = std::to_string(ToUnixMillis(clock_.Now()) / 1000 + ts_offset_s);
    return {{"Content-Type", "application/x-www-form-urlencoded"},
            {"X-Slack-Request-Timestamp", ts},
            {"X-Slack-Signature", "v0=" + HmacSha256Hex(kSlackSecret, "v0:" + ts + ":" + body)}};
  }
  static std::string Click(const std::string& user, const std::string& action,
                           const std::string& action_ts = "1795312400.1") {
    nlohmann::json j = {
        {"type", "block_actions"},
        {"user", {{"id", user}, {"username", "someone"}}},
        {"team", {{"id", "T1"}}},
        {"channel", {{"id", "C_INCIDENTS"}}},
        {"container", {{"message_ts", "1795312391.000200"}}},
        {"response_url", "https://hooks.slack.test/actions/1"},
        {"actions", {{{"action_id", action}, {"value", "INC-1"}, {"action_ts", action_ts}}}}};
    return "payload=" + UrlEncode(j.dump());
  }
  // Waits for the n-th response_url post (the work runs after the 200, on the loop).
  std::string WaitPosted(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return posted_.size() >= n; });
    return posted_.size() >= n ? posted_[n - 1].second : "";
  }

  boost::asio::io_context io_;
  SimulatedClock clock_;
  AsioScheduler scheduler_;
  prometheus::Registry registry_;
  FakeIncidents incidents_;
  FakePeople people_;
  InboundHandlers handlers_;
  Server server_;
  std::thread loop_;
  CurlHttpClient client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> posted_;
};

TEST_F(InboundHandlersTest, AckButtonActsForTheRosteredPersonAndAnswersEphemerally) {
  std::string body = Click("U_OLENA", "tocsin_ack");
  auto r = Post("/slack/interactivity", body, SlackHeaders(body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  auto answer = nlohmann::json::parse(WaitPosted(1));
  EXPECT_EQ(answer["response_type"], "ephemeral");
  EXPECT_EQ(answer["text"], "INC-1 acknowledged: Deposit success low at PSP-A");
  ASSERT_EQ(incidents_.count(), 1u);
  EXPECT_EQ(incidents_.requests[0].actor, "olena");
  EXPECT_EQ(incidents_.requests[0].origin, ActionOrigin::kSlack);
  EXPECT_EQ(incidents_.requests[0].action, IncidentAction::kAcknowledge);
}

TEST_F(InboundHandlersTest, DoubleClickIsIdempotent) {
  std::string first = Click("U_OLENA", "tocsin_ack", "1795312400.1");
  std::string second = Click("U_OLENA", "tocsin_ack", "1795312400.7");
  EXPECT_EQ(Post("/slack/interactivity", first, SlackHeaders(first)).status, 200);
  EXPECT_EQ(Post("/slack/interactivity", second, SlackHeaders(second)).status, 200);
  EXPECT_NE(WaitPosted(2).find("INC-1 was already acknowledged"), std::string::npos);
}

TEST_F(InboundHandlersTest, SomeoneNotInTheRosterGetsAnEphemeralRefusal) {
  std::string body = Click("U_STRANGER", "tocsin_resolve");
  EXPECT_EQ(Post("/slack/interactivity", body, SlackHeaders(body)).status, 200);
  EXPECT_NE(WaitPosted(1).find("not in the tocsin roster"), std::string::npos);
  EXPECT_EQ(incidents_.count(), 0u);
}

TEST_F(InboundHandlersTest, ForgedExpiredReplayedAndUnsignedRequestsChangeNothing) {
  std::string body = Click("U_OLENA", "tocsin_ack");
  auto forged = SlackHeaders(body);
  forged[2].second = "v0=" + HmacSha256Hex("guessed-secret", "v0:" + forged[1].second + ":" + body);
  EXPECT_EQ(Post("/slack/interactivity", body, forged).status, 403);
  EXPECT_EQ(Post("/slack/interactivity", body, SlackHeaders(body, -301)).status, 401);
  EXPECT_EQ(
      Post("/slack/interactivity", body, {{"Content-Type", "application/x-www-form-urlencoded"}})
          .status,
      401);
  auto good = SlackHeaders(body);
  EXPECT_EQ(Post("/slack/interactivity", body, good).status, 200);
  WaitPosted(1);
  EXPECT_EQ(Post("/slack/interactivity", body, good).status, 401);  // the same request again
  EXPECT_EQ(incidents_.count(), 1u);
}

TEST_F(InboundHandlersTest, MalformedPayloadWithAValidSignatureIs400) {
  std::string body = "payload=%7Bnot-json";
  EXPECT_EQ(Post("/slack/interactivity", body, SlackHeaders(body)).status, 400);
  EXPECT_EQ(incidents_.count(), 0u);
}

TEST_F(InboundHandlersTest, SlashCommands) {
  auto run = [&](const std::string& text, const std::string& user = "U_OLENA") {
    std::string body = "command=%2Ftocsin&user_id=" + user +
                       "&team_id=T1&channel_id=C1&text=" + UrlEncode(text) + "&response_url=x";
    auto r = Post("/slack/command", body, SlackHeaders(body));
    EXPECT_EQ(r.status, 200);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["response_type"], "ephemeral");
    return j["text"].get<std::string>();
  };
  EXPECT_EQ(run("ack inc-1"), "INC-1 acknowledged: Deposit success low at PSP-A");
  EXPECT_EQ(run("ack INC-1"), "INC-1 was already acknowledged.");
  EXPECT_EQ(run("escalate INC-1"), "INC-1 was escalated moments ago; nothing more was paged.");
  EXPECT_NE(run("resolve INC-9").find("No incident INC-9"), std::string::npos);
  EXPECT_NE(run("who payments").find("L1: Olena Kovalenko"), std::string::npos);
  EXPECT_NE(run("incidents").find("INC-1 SEV-1 acknowledged"), std::string::npos);
  EXPECT_NE(run("status").find("1 open incident(s), 1 acknowledged."), std::string::npos);
  EXPECT_NE(run("frobnicate").find("Usage:"), std::string::npos);
  EXPECT_NE(run("resolve INC-1", "U_STRANGER").find("not in the tocsin roster"), std::string::npos);
  // two acks, the escalate and the unknown incident, not the stranger
  EXPECT_EQ(incidents_.count(), 4u);
}

TEST_F(InboundHandlersTest, PagerDutyWebhookAppliesOnceAndMarksItsOrigin) {
  std::string body =
      R"({"event":{"id":"E1","event_type":"incident.acknowledged",)"
      R"("agent":{"summary":"Olena Kovalenko"},"data":{"incident_key":"tocsin/INC-1"}}})";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"X-Webhook-Id", "delivery-1"},
      {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, body)}};
  auto first = Post("/webhooks/pagerduty", body, headers);
  EXPECT_EQ(first.status, 200);
  auto answer = nlohmann::json::parse(first.body, nullptr, false);
  EXPECT_EQ(answer["outcome"], "acted") << first.body;
  EXPECT_EQ(answer["incident"], "INC-1");
  EXPECT_EQ(answer["state"], "acknowledged");
  EXPECT_EQ(answer["delivery"], "E1");
  auto again = Post("/webhooks/pagerduty", body, headers);  // redelivery
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(nlohmann::json::parse(again.body, nullptr, false)["outcome"], "duplicate");
  ASSERT_EQ(incidents_.count(), 2u);
  EXPECT_EQ(incidents_.state, "acknowledged");
  EXPECT_EQ(incidents_.requests[0].origin, ActionOrigin::kPagerDuty);
  EXPECT_EQ(incidents_.requests[0].actor, "pagerduty:Olena Kovalenko");
  EXPECT_EQ(incidents_.requests[0].incident_ref, "tocsin/INC-1");
  ASSERT_TRUE(incidents_.requests[0].delivery);
  EXPECT_EQ(incidents_.requests[0].delivery->source, "pagerduty");
  EXPECT_EQ(incidents_.requests[0].delivery->id, "E1");

  headers[2].second = "v1=" + HmacSha256Hex("wrong", body);
  headers[1].second = "delivery-2";
  EXPECT_EQ(Post("/webhooks/pagerduty", body, headers).status, 403);
  std::string broken = "{";
  EXPECT_EQ(Post("/webhooks/pagerduty", broken,
                 {{"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, broken)}})
                .status,
            400);
  EXPECT_EQ(incidents_.count(), 2u);
}

// Regression: the unsigned X-Webhook-Id header was the dedup key, so a captured, signed body
// replayed under a new header was acted on again.
TEST_F(InboundHandlersTest, PagerDutyBodyReplayedUnderANewWebhookIdIsADuplicate) {
  std::string body =
      R"({"event":{"id":"E7","event_type":"incident.resolved",)"
      R"("agent":{"summary":"Olena Kovalenko"},"data":{"incident_key":"tocsin/INC-1"}}})";
  auto send = [&](const std::string& webhook_id) {
    auto r = Post("/webhooks/pagerduty", body,
                  {{"X-Webhook-Id", webhook_id},
                   {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, body)}});
    EXPECT_EQ(r.status, 200);
    return nlohmann::json::parse(r.body, nullptr, false)["outcome"].get<std::string>();
  };
  EXPECT_EQ(send("delivery-1"), "acted");
  EXPECT_EQ(send("a-new-id-chosen-by-the-replayer"), "duplicate");
  EXPECT_EQ(send(""), "duplicate");
}

TEST_F(InboundHandlersTest, PagerDutyWebhookWhoseActionFailsIs503AndItsRetryActs) {
  std::string body =
      R"({"event":{"id":"E9","event_type":"incident.acknowledged",)"
      R"("agent":{"summary":"Olena Kovalenko"},"data":{"incident_key":"tocsin/INC-1"}}})";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, body)}};
  incidents_.fail_next = true;
  auto failed = Post("/webhooks/pagerduty", body, headers);
  EXPECT_EQ(failed.status, 503);
  auto answer = nlohmann::json::parse(failed.body, nullptr, false);
  EXPECT_EQ(answer["outcome"], "failed");
  EXPECT_NE(answer["message"].get<std::string>().find("nothing was changed"), std::string::npos);
  EXPECT_EQ(incidents_.state, "triggered");
  auto retried = Post("/webhooks/pagerduty", body, headers);
  EXPECT_EQ(retried.status, 200);
  EXPECT_EQ(nlohmann::json::parse(retried.body, nullptr, false)["outcome"], "acted");
  EXPECT_EQ(incidents_.state, "acknowledged");
}

TEST_F(InboundHandlersTest, WebhookAnswersSayWhatHappened) {
  auto send = [&](const std::string& type, const std::string& id, const std::string& key) {
    std::string body = R"({"event":{"id":")" + id + R"(","event_type":")" + type +
                       R"(","agent":null,"data":{"incident_key":")" + key + R"("}}})";
    auto r = Post("/webhooks/pagerduty", body,
                  {{"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, body)}});
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
  };
  auto unknown = send("incident.acknowledged", "E1", "not-a-tocsin-incident");
  EXPECT_EQ(unknown["outcome"], "unknown_incident");
  EXPECT_EQ(send("incident.triggered", "E2", "tocsin/INC-1")["outcome"], "ignored");
  auto acted = send("incident.acknowledged", "E3", "tocsin/INC-1");
  EXPECT_EQ(acted["outcome"], "acted");
  EXPECT_EQ(acted["message"], "INC-1 acknowledged by pagerduty:unknown");
  auto unchanged = send("incident.acknowledged", "E4", "tocsin/INC-1");
  EXPECT_EQ(unchanged["outcome"], "unchanged");
  EXPECT_EQ(unchanged["message"], "INC-1 was already acknowledged");
  EXPECT_EQ(incidents_.state, "acknowledged");
}

TEST_F(InboundHandlersTest, OpsgenieWebhookNeedsItsToken) {
  std::string body = R"({"action":"Close","alert":{"alertId":"a1","alias":"tocsin/INC-1",)"
                     R"("username":"olena@example.com","updatedAt":1}})";
  EXPECT_EQ(Post("/webhooks/opsgenie", body, {}).status, 401);
  EXPECT_EQ(Post("/webhooks/opsgenie", body, {{"X-Tocsin-Token", "nope"}}).status, 403);
  EXPECT_EQ(incidents_.count(), 0u);
  auto first = Post("/webhooks/opsgenie", body, {{"X-Tocsin-Token", kOgToken}});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(nlohmann::json::parse(first.body, nullptr, false)["outcome"], "acted");
  auto again = Post("/webhooks/opsgenie", body, {{"X-Tocsin-Token", kOgToken}});
  EXPECT_EQ(nlohmann::json::parse(again.body, nullptr, false)["outcome"], "duplicate");
  ASSERT_GE(incidents_.count(), 1u);
  EXPECT_EQ(incidents_.requests[0].action, IncidentAction::kResolve);
  EXPECT_EQ(incidents_.requests[0].origin, ActionOrigin::kOpsgenie);
  EXPECT_EQ(incidents_.requests[0].actor, "opsgenie:olena@example.com");
  EXPECT_EQ(incidents_.state, "resolved");
}

// Nobody without a provider's credentials makes the server read a body: a request whose header
// fields cannot pass is answered at once, its announced body never sent and never waited for
// (before, each waited for the body until the read timeout, and the exchange got no answer).
TEST_F(InboundHandlersTest, ASignedRouteWhoseHeadersCannotPassIsAnsweredBeforeItsBody) {
  const std::string now_s = std::to_string(ToUnixMillis(clock_.Now()) / 1000);
  const std::string stale_s = std::to_string(ToUnixMillis(clock_.Now()) / 1000 - 301);
  const std::string sig = "X-Slack-Signature: v0=" + std::string(64, '0') + "\r\n";
  struct Case {
    std::string path;
    std::string fields;
    int status;
  };
  const std::vector<Case> cases = {
      {"/slack/interactivity", "", 401},
      {"/slack/command", "X-Slack-Request-Timestamp: " + stale_s + "\r\n" + sig, 401},
      {"/slack/command", "X-Slack-Request-Timestamp: soon\r\n" + sig, 400},
      {"/slack/command", "X-Slack-Request-Timestamp: " + now_s + "\r\nX-Slack-Signature: v0=1\r\n",
       400},
      {"/webhooks/pagerduty", "", 401},
      {"/webhooks/pagerduty", "X-PagerDuty-Signature: v1=abc\r\n", 400},
      {"/webhooks/opsgenie", "", 401},
      {"/webhooks/opsgenie?token=nope", "", 403},  // the token is in the header or the query
      {"/webhooks/opsgenie", "X-Tocsin-Token: nope\r\n", 403},
      {"/webhooks/jsm", "X-Tocsin-Token: anything\r\n", 404},  // no JSM token configured here
  };
  for (const auto& c : cases) {
    auto raw = testing::RawExchange(server_.port(),
                                    "POST " + c.path +
                                        " HTTP/1.1\r\nHost: tocsin\r\nContent-Type: "
                                        "application/json\r\n" +
                                        c.fields + "Content-Length: 100000\r\n\r\n",
                                    5000);
    EXPECT_EQ(testing::StatusOf(raw), c.status) << c.path << " with " << c.fields;
    EXPECT_NE(raw.find("Connection: close"), std::string::npos) << raw;
  }
  EXPECT_EQ(incidents_.count(), 0u);
  // Headers that can pass get their body read and checked: a fresh timestamp, a wrong HMAC.
  std::string body = "payload=%7B%7D";
  auto headers = SlackHeaders(body);
  headers[2].second = "v0=" + std::string(64, '0');
  EXPECT_EQ(Post("/slack/command", body, headers).status, 403);
  // Each request counted once, by its screen or by its handler, never by both.
  double counted = 0;
  for (const auto& family : registry_.Collect()) {
    if (family.name != "tocsin_inbound_requests_total") continue;
    for (const auto& m : family.metric) counted += m.counter.value;
  }
  EXPECT_EQ(counted, static_cast<double>(cases.size() + 1));
}

// Strangers send refused requests by the thousand: each is counted, and the log has one line
// per endpoint and reason every 10 s, saying that repeats may be held back.
TEST_F(InboundHandlersTest, RefusalsAreCountedEachAndLoggedOnce) {
  testing::LogCapture log(spdlog::level::warn);
  const std::string body = R"({"event":{}})";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Post("/webhooks/pagerduty", body, {{"X-PagerDuty-Signature", "v1=zz"}}).status, 400);
  }
  // A replayed Slack request (its signature good) had a line each time.
  const std::string click = Click("U_OLENA", "tocsin_ack");
  const auto signed_once = SlackHeaders(click);
  EXPECT_EQ(Post("/slack/interactivity", click, signed_once).status, 200);
  WaitPosted(1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Post("/slack/interactivity", click, signed_once).status, 401);
  }
  std::size_t lines = 0, replays = 0;
  for (const auto& l : log.lines()) {
    lines += l.find("pagerduty: refused") != std::string::npos;
    replays += l.find("refused /slack/interactivity from") != std::string::npos &&
               l.find("a replayed request") != std::string::npos;
  }
  EXPECT_EQ(lines, 1u) << ::testing::PrintToString(log.lines());
  EXPECT_EQ(replays, 1u) << ::testing::PrintToString(log.lines());
  double counted = 0;
  for (const auto& family : registry_.Collect()) {
    if (family.name != "tocsin_inbound_requests_total") continue;
    for (const auto& m : family.metric) counted += m.counter.value;
  }
  EXPECT_EQ(counted, 11.0);  // 5 forged, 1 click, 5 replays
}

// Plausible header fields pass a screen (any 64 hex digits look like a signature), so a signed
// route's body is held to 256 KiB, not the intake's 4 MiB: announced (Content-Length) or sent
// in chunks. A provider's real request (a click, an event) is a few KB.
TEST_F(InboundHandlersTest, ASignedRoutesBodyIsHeldToItsOwnLimit) {
  const std::string head =
      "POST /webhooks/pagerduty HTTP/1.1\r\nHost: tocsin\r\nContent-Type: application/json\r\n"
      "X-PagerDuty-Signature: v1=" +
      std::string(64, '0') + "\r\n";
  auto announced =
      testing::RawExchange(server_.port(), head + "Content-Length: 262145\r\n\r\n", 5000);
  EXPECT_EQ(testing::StatusOf(announced), 413) << announced;
  EXPECT_NE(testing::BodyOf(announced).find("262144"), std::string::npos) << announced;
  auto chunked = testing::RawExchange(server_.port(),
                                      head + "Transfer-Encoding: chunked\r\n\r\n40000\r\n" +
                                          std::string(0x40000, 'x') + "\r\n1\r\nx\r\n0\r\n\r\n",
                                      5000);
  EXPECT_EQ(testing::StatusOf(chunked), 413) << chunked.substr(0, 200);
  // At the limit it is read and checked: the signature is wrong.
  auto at_limit = testing::RawExchange(
      server_.port(), head + "Content-Length: 262144\r\n\r\n" + std::string(262144, ' '), 5000);
  EXPECT_EQ(testing::StatusOf(at_limit), 403) << at_limit;
  EXPECT_EQ(incidents_.count(), 0u);
}

}  // namespace
}  // namespace tocsin::http
