// Inbound acknowledgements are durable before they are answered, and a request acts at most
// once, across restarts: the real SQLite store, the real incident engine and the Slack and
// provider endpoints on a loopback server. A "restart" builds everything again on the same
// database file. Store failures are injected by a wrapper around the real store.
#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/incident/failing_incident_store.h"
#include "incident/incident_test_support.h"
#include "support/temp_dir.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/api/roster_person_directory.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/http/server.h"
#include "tocsin/http/signatures.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin {
// Its own namespace: this file shares a unity batch with files whose helpers have the same
// names (cmake/TocsinBuildSpeed.cmake).
namespace inbound_durability_test {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kSlackSecret = "slack-signing-secret-for-durability-tests";
constexpr const char* kPdSecret = "pagerduty-webhook-secret-for-durability-tests";
constexpr const char* kOgToken = "opsgenie-webhook-token-for-durability-tests";
constexpr const char* kJsmToken = "jsm-webhook-token-for-durability-tests";

// One tocsin process as far as inbound actions go: database, incident store (behind the fault
// wrapper), incident engine, inbound endpoints and the HTTP server, with its own loop thread.
// Destroying it is the process going away; everything durable stays in the database file.
class Process {
 public:
  Process(const std::string& db_path, SimulatedClock& clock,
          std::shared_ptr<const oncall::Schedule> schedule)
      : scheduler_(io_, clock) {
    auto db = store::Database::Open(db_path);
    EXPECT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    sqlite_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    EXPECT_TRUE(sqlite_->Migrate());
    store_ = std::make_unique<testing::FailingIncidentStore>(*sqlite_);
    incident::PolicySet policies;
    policies.policies["default"] = incident::DefaultPolicy();
    manager_ = std::make_unique<incident::IncidentManager>(scheduler_, *store_, pager_, schedule,
                                                           policies, incident::IncidentsConfig{});
    EXPECT_TRUE(manager_->Start());
    commands_ = std::make_unique<incident::ManagerIncidentCommands>(*manager_, clock);
    people_ = std::make_unique<incident::RosterPersonDirectory>(
        [this] { return manager_->schedule(); }, clock);
    handlers_ = std::make_unique<http::InboundHandlers>(
        http::InboundConfig{kSlackSecret, "/tocsin", {kPdSecret}, kOgToken, kJsmToken}, *commands_,
        *people_, scheduler_,
        [this](const std::string&, const std::string& body) {
          std::lock_guard lock(mu_);
          answers_.push_back(json::parse(body)["text"].get<std::string>());
          cv_.notify_all();
        },
        registry_);
    auto router = std::make_shared<http::Router>();
    handlers_->Register(*router);
    server_ = std::make_unique<http::Server>(io_, http::ServerOptions{}, registry_);
    server_->SetRouter(router);
    EXPECT_TRUE(server_->Start());
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~Process() {
    io_.stop();
    loop_.join();
  }

  // Runs `fn` on the loop thread (the incident engine's only thread) and waits for it.
  void OnLoop(const std::function<void()>& fn) {
    std::promise<void> done;
    scheduler_.Post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  // The n-th answer posted to a Slack response_url (a click's outcome comes after its 200).
  std::string Answer(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return answers_.size() >= n; });
    return answers_.size() >= n ? answers_[n - 1] : "";
  }

  unsigned short port() const { return server_->port(); }
  testing::FailingIncidentStore& store() { return *store_; }
  incident::IncidentManager& manager() { return *manager_; }

 private:
  boost::asio::io_context io_;
  AsioScheduler scheduler_;
  prometheus::Registry registry_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteIncidentStore> sqlite_;
  std::unique_ptr<testing::FailingIncidentStore> store_;
  testing::RecordingPager pager_;
  std::unique_ptr<incident::IncidentManager> manager_;
  std::unique_ptr<incident::ManagerIncidentCommands> commands_;
  std::unique_ptr<incident::RosterPersonDirectory> people_;
  std::unique_ptr<http::InboundHandlers> handlers_;
  std::unique_ptr<http::Server> server_;
  std::thread loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> answers_;
};

class InboundDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", incident::kTestRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    Start();
    process_->OnLoop([&] {
      dispatch::AlertGroup g;
      g.key = "payments/deposit";
      g.receiver.name = "oncall";
      g.receiver.escalation_policy = "default";
      Alert a;
      a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"domain", "payments"}};
      a.severity = Severity::kCritical;
      a.annotations["summary"] = "Deposit success 97.2 % at PSP-A";
      a.state = AlertState::kFiring;
      g.alerts.push_back(a);
      auto inc = process_->manager().Open(g, "tocsin", clock_.Now());
      ASSERT_TRUE(inc) << inc.error().ToString();
      id_ = inc->id;
    });
  }

  void Start() { process_ = std::make_unique<Process>(path_, clock_, schedule_); }
  void Restart() {
    process_.reset();
    Start();
  }

  HttpClientResponse Post(const std::string& path, const std::string& body, Headers headers) {
    HttpClientRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(process_->port()) + path;
    req.body = body;
    req.headers = std::move(headers);
    auto r = client_.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : HttpClientResponse{};
  }

  Headers SlackHeaders(const std::string& body) {
    std::string ts = std::to_string(ToUnixMillis(clock_.Now()) / 1000);
    return {{"Content-Type", "application/x-www-form-urlencoded"},
            {"X-Slack-Request-Timestamp", ts},
            {"X-Slack-Signature", "v0=" + HmacSha256Hex(kSlackSecret, "v0:" + ts + ":" + body)}};
  }

  // `by_person`: the event's agent is Olena; without, null (PagerDuty acted itself).
  std::string PagerDutyBody(const std::string& event_id, const std::string& type,
                            bool by_person = true) {
    json agent = by_person ? json{{"id", "PXPGF42"}, {"summary", "Olena Kovalenko"}} : json();
    return json{{"event",
                 {{"id", event_id},
                  {"event_type", type},
                  {"resource_type", "incident"},
                  {"agent", agent},
                  {"data", {{"id", "Q1ABC"}, {"incident_key", "tocsin/" + id_}}}}}}
        .dump();
  }
  std::pair<long, json> PagerDuty(const std::string& body, const std::string& webhook_id) {
    auto r = Post("/webhooks/pagerduty", body,
                  {{"Content-Type", "application/json"},
                   {"X-Webhook-Id", webhook_id},
                   {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdSecret, body)}});
    return {r.status, json::parse(r.body, nullptr, false)};
  }

  // The timeline as stored, read on the loop.
  std::vector<incident::TimelineEvent> Events(const std::string& kind) {
    std::vector<incident::TimelineEvent> out;
    process_->OnLoop([&] {
      auto all = process_->store().Timeline(id_);
      ASSERT_TRUE(all);
      for (const auto& e : *all) {
        if (e.kind == kind) out.push_back(e);
      }
    });
    return out;
  }
  // The incident's timeline holds exactly one `kind` event, by `actor`, from `origin`.
  void ExpectOnce(const std::string& kind, const std::string& actor, const std::string& origin) {
    auto events = Events(kind);
    ASSERT_EQ(events.size(), 1u) << kind;
    EXPECT_EQ(events[0].actor, actor);
    EXPECT_EQ(json::parse(events[0].data)["origin"], origin);
  }
  std::string State() {
    std::string state;
    process_->OnLoop([&] {
      state = std::string(incident::IncidentStateName(process_->manager().Get(id_)->state));
    });
    return state;
  }
  bool Processed(const std::string& source, const std::string& id) {
    bool seen = false;
    process_->OnLoop([&] { seen = process_->store().HasDelivery(source, id).value_or(false); });
    return seen;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/tocsin.db";
  SimulatedClock clock_{FromUnixMillis(1795428000000)};  // 2026-11-23T10:00:00Z: l1a holds L1
  std::shared_ptr<const oncall::Schedule> schedule_;
  std::unique_ptr<Process> process_;
  CurlHttpClient client_;
  std::string id_;
};

// Regression: the delivery id was recorded before the action and the answer was 202 even when
// the action failed, so PagerDuty's retry was discarded as a duplicate and the ack was lost.
TEST_F(InboundDurabilityTest, WebhookWhoseAckCannotBeStoredIs503AndItsRetryIsActedOnOnce) {
  const std::string body = PagerDutyBody("01EVTACK", "incident.acknowledged");
  process_->store().fail_commits = 1;
  auto [status, failed] = PagerDuty(body, "wh-1");
  EXPECT_EQ(status, 503) << failed.dump();
  EXPECT_EQ(failed["outcome"], "failed");
  EXPECT_EQ(process_->store().failed, 1);  // the ack's own commit was the one refused
  EXPECT_EQ(State(), "triggered");
  EXPECT_TRUE(Events("acknowledged").empty());
  EXPECT_FALSE(Processed("pagerduty", "01EVTACK"));

  // PagerDuty retries the delivery (same event, same X-Webhook-Id): now it is acted on.
  auto [retry_status, retried] = PagerDuty(body, "wh-1");
  EXPECT_EQ(retry_status, 200) << retried.dump();
  EXPECT_EQ(retried["outcome"], "acted");
  EXPECT_EQ(retried["incident"], id_);
  EXPECT_EQ(retried["state"], "acknowledged");
  EXPECT_EQ(State(), "acknowledged");
  EXPECT_TRUE(Processed("pagerduty", "01EVTACK"));

  // A third delivery of it changes nothing: the ack is recorded once, with who and from where.
  auto [again_status, again] = PagerDuty(body, "wh-1");
  EXPECT_EQ(again_status, 200);
  EXPECT_EQ(again["outcome"], "duplicate");
  ExpectOnce("acknowledged", "pagerduty:Olena Kovalenko", "pagerduty");
}

TEST_F(InboundDurabilityTest, AckOfAnAcknowledgedIncidentRecordsItsDeliveryAlone) {
  process_->OnLoop([&] {
    ASSERT_TRUE(process_->manager().Acknowledge(id_, "l1a", clock_.Now(), incident::kOriginApi));
  });
  const std::string body = PagerDutyBody("01EVTECHO", "incident.acknowledged");
  auto [status, answer] = PagerDuty(body, "wh-echo");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer["outcome"], "unchanged");
  EXPECT_EQ(answer["message"], id_ + " was already acknowledged");
  EXPECT_TRUE(Processed("pagerduty", "01EVTECHO"));
  EXPECT_EQ(Events("acknowledged").size(), 1u);

  // A failure to record even that is a 503 too, and nothing is recorded.
  const std::string other = PagerDutyBody("01EVTECHO2", "incident.acknowledged");
  process_->store().fail_commits = 1;
  EXPECT_EQ(PagerDuty(other, "wh-echo-2").first, 503);
  EXPECT_FALSE(Processed("pagerduty", "01EVTECHO2"));
  EXPECT_EQ(PagerDuty(other, "wh-echo-2").second["outcome"], "unchanged");
}

// Review finding: PagerDuty's incident.unacknowledged (a responder undid the ack, or the
// service's own ack timeout ran out), which docs/notifications.md asks to subscribe to, was
// answered "ignored": tocsin stayed acknowledged and its ladder never resumed. The incident is
// triggered again, once; a replay, and a withdrawal for an incident not acknowledged, change
// nothing.
TEST_F(InboundDurabilityTest, AnAckWithdrawnInPagerDutyTriggersTheIncidentAgainOnce) {
  ASSERT_EQ(PagerDuty(PagerDutyBody("01EVTACK", "incident.acknowledged"), "wh-a").first, 200);
  ASSERT_EQ(State(), "acknowledged");
  const std::string unack = PagerDutyBody("01EVTUNACK", "incident.unacknowledged");
  auto [status, answer] = PagerDuty(unack, "wh-u");
  EXPECT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["outcome"], "acted");
  EXPECT_EQ(answer["state"], "triggered");
  EXPECT_EQ(answer["message"], id_ +
                                   " acknowledgement withdrawn by pagerduty:Olena Kovalenko; "
                                   "triggered again");
  EXPECT_EQ(State(), "triggered");
  ExpectOnce("unacknowledged", "pagerduty:Olena Kovalenko", "pagerduty");
  EXPECT_EQ(Events("unacknowledged")[0].text,
            "pagerduty:Olena Kovalenko withdrew the acknowledgement by pagerduty:Olena Kovalenko "
            "via pagerduty; re-escalating");
  EXPECT_EQ(PagerDuty(unack, "wh-u").second["outcome"], "duplicate");
  auto [other_status, other] =
      PagerDuty(PagerDutyBody("01EVTUNACK2", "incident.unacknowledged"), "wh-u2");
  EXPECT_EQ(other_status, 200);
  EXPECT_EQ(other["outcome"], "unchanged");
  EXPECT_EQ(other["message"], id_ + " is triggered: no acknowledgement to withdraw; nothing done");
  ExpectOnce("unacknowledged", "pagerduty:Olena Kovalenko", "pagerduty");
}

// A review of that change: PagerDuty's own acknowledgement timeout (the event without an agent)
// would have re-escalated every acked incident when the service's timer ran out, paging people
// from two systems; and undoing in PagerDuty an ack since given in Slack dropped that ack.
TEST_F(InboundDurabilityTest, AnAckPagerDutyDidNotGiveOrATimeoutOfItsOwnIsNotWithdrawn) {
  process_->OnLoop([&] {
    ASSERT_TRUE(process_->manager().Acknowledge(id_, "l1a", clock_.Now(), incident::kOriginApi));
  });
  auto [status, answer] =
      PagerDuty(PagerDutyBody("01EVTUNACK3", "incident.unacknowledged"), "wh-u3");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer["outcome"], "unchanged");
  EXPECT_EQ(answer["message"],
            id_ +
                " stays acknowledged: its acknowledgement was not given in pagerduty; nothing "
                "done");
  EXPECT_TRUE(Processed("pagerduty", "01EVTUNACK3"));
  ASSERT_EQ(PagerDuty(PagerDutyBody("01EVTACK4", "incident.resolved"), "wh-r").first, 200);
  EXPECT_EQ(State(), "resolved");
}

TEST_F(InboundDurabilityTest, PagerDutysOwnAckTimeoutLeavesTheAckToTocsin) {
  ASSERT_EQ(PagerDuty(PagerDutyBody("01EVTACK5", "incident.acknowledged"), "wh-a5").first, 200);
  auto [status, answer] = PagerDuty(
      PagerDutyBody("01EVTUNACK5", "incident.unacknowledged", /*by_person=*/false), "wh-u5");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer["outcome"], "ignored");
  EXPECT_EQ(State(), "acknowledged");
  EXPECT_TRUE(Events("unacknowledged").empty());
}

// Regression: the unsigned X-Webhook-Id header was the dedup key, so a captured signed body
// replayed under a new header was acted on again; here across a restart as well.
TEST_F(InboundDurabilityTest, PagerDutyBodyReplayedUnderANewWebhookIdAfterARestartActsOnce) {
  const std::string body = PagerDutyBody("01EVTRES", "incident.resolved");
  auto [status, answer] = PagerDuty(body, "wh-original");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer["outcome"], "acted");
  EXPECT_EQ(State(), "resolved");
  Restart();
  auto [replay_status, replay] = PagerDuty(body, "wh-chosen-by-the-replayer");
  EXPECT_EQ(replay_status, 200);
  EXPECT_EQ(replay["outcome"], "duplicate");
  ExpectOnce("resolved", "pagerduty:Olena Kovalenko", "pagerduty");
}

// Regression: Slack's replay cache lived in memory only, so a captured signed request sent
// again after a restart (still inside the five-minute window) was acted on again.
TEST_F(InboundDurabilityTest, SlackCommandReplayedAfterARestartIsRefused) {
  std::string ack = "command=%2Ftocsin&user_id=U1&team_id=T1&channel_id=C1&text=ack+" + id_;
  Headers ack_headers = SlackHeaders(ack);
  auto first = Post("/slack/command", ack, ack_headers);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(json::parse(first.body)["text"],
            id_ + " acknowledged: Deposit success 97.2 % at PSP-A");
  std::string who = "command=%2Ftocsin&user_id=U1&team_id=T1&channel_id=C1&text=who";
  Headers who_headers = SlackHeaders(who);
  EXPECT_EQ(Post("/slack/command", who, who_headers).status, 200);

  Restart();
  clock_.Set(clock_.Now() + std::chrono::minutes(2));  // inside the replay window
  auto replay = Post("/slack/command", ack, ack_headers);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(replay.body, "replayed request\n");
  EXPECT_EQ(Post("/slack/command", who, who_headers).status, 401);
  ExpectOnce("acknowledged", "l1a", "slack");

  // A new request (new signature) by the same person is answered, truthfully.
  auto again = Post("/slack/command", ack, SlackHeaders(ack));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["text"], id_ + " was already acknowledged.");
}

TEST_F(InboundDurabilityTest, SlackClickReplayedAfterARestartIsRefused) {
  json payload = {{"type", "block_actions"},
                  {"user", {{"id", "U1"}, {"username", "l1a"}}},
                  {"team", {{"id", "T1"}}},
                  {"channel", {{"id", "C_INCIDENTS"}}},
                  {"response_url", "https://hooks.slack.test/actions/1"},
                  {"actions", {{{"action_id", "tocsin_resolve"}, {"value", id_}}}}};
  std::string click = "payload=" + UrlEncode(payload.dump());
  Headers headers = SlackHeaders(click);
  EXPECT_EQ(Post("/slack/interactivity", click, headers).status, 200);
  EXPECT_EQ(process_->Answer(1), id_ + " resolved: Deposit success 97.2 % at PSP-A");
  Restart();
  EXPECT_EQ(Post("/slack/interactivity", click, headers).status, 401);
  ExpectOnce("resolved", "l1a", "slack");
}

TEST_F(InboundDurabilityTest, SlackClickWhoseAckCannotBeStoredSaysSoAndChangesNothing) {
  json payload = {{"type", "block_actions"},
                  {"user", {{"id", "U1"}, {"username", "l1a"}}},
                  {"response_url", "https://hooks.slack.test/actions/1"},
                  {"actions", {{{"action_id", "tocsin_ack"}, {"value", id_}}}}};
  std::string click = "payload=" + UrlEncode(payload.dump());
  process_->store().fail_commits = 1;
  EXPECT_EQ(Post("/slack/interactivity", click, SlackHeaders(click)).status, 200);
  const std::string answer = process_->Answer(1);
  EXPECT_NE(answer.find("Could not acknowledge " + id_), std::string::npos) << answer;
  EXPECT_NE(answer.find("Nothing was changed; try again."), std::string::npos) << answer;
  EXPECT_EQ(State(), "triggered");
  // The person clicks again: a new request, acted on.
  clock_.Set(clock_.Now() + std::chrono::seconds(5));
  EXPECT_EQ(Post("/slack/interactivity", click, SlackHeaders(click)).status, 200);
  EXPECT_EQ(process_->Answer(2), id_ + " acknowledged: Deposit success 97.2 % at PSP-A");
  EXPECT_EQ(Events("acknowledged").size(), 1u);
}

TEST_F(InboundDurabilityTest, OpsgenieCloseActsOnceAcrossARestart) {
  const std::string body = json{
      {"action", "Close"},
      {"alert",
       {{"alertId", "og-1"},
        {"alias", "tocsin/" + id_},
        {"username", "olena@example.com"},
        {"updatedAt",
         1795428060000LL}}}}.dump();
  auto first = Post("/webhooks/opsgenie", body, {{"X-Tocsin-Token", kOgToken}});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(json::parse(first.body)["outcome"], "acted");
  Restart();
  auto again = Post("/webhooks/opsgenie", body, {{"X-Tocsin-Token", kOgToken}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["outcome"], "duplicate");
  ExpectOnce("resolved", "opsgenie:olena@example.com", "opsgenie");
}

// JSM Operations' outgoing webhook, for the alert of the ladder's second step (aliased
// "<dedup key>/step-2"): a store write that fails answers 503 and records nothing, so JSM's
// retry of the same body acts, once.
TEST_F(InboundDurabilityTest, JsmAckWhoseStoreWriteFailsIs503AndItsRetryActsOnce) {
  const std::string body = json{{"source", {{"name", ""}, {"type", "web"}}},
                                {"action", "Acknowledge"},
                                {"integrationName", "tocsin"},
                                {"alert",
                                 {{"alertId", "jsm-7"},
                                  {"alias", "tocsin/" + id_ + "/step-2"},
                                  {"username", "pay@example.com"},
                                  {"updatedAt", 1795428360000000000LL}}}}
                               .dump();
  process_->store().fail_commits = 1;
  auto failed = Post("/webhooks/jsm", body, {{"X-Tocsin-Token", kJsmToken}});
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_EQ(State(), "triggered");
  EXPECT_FALSE(Processed("jsm", "jsm-7/Acknowledge/1795428360000000000"));
  auto retried = Post("/webhooks/jsm", body, {{"X-Tocsin-Token", kJsmToken}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(json::parse(retried.body)["outcome"], "acted");
  EXPECT_EQ(State(), "acknowledged");
  EXPECT_TRUE(Processed("jsm", "jsm-7/Acknowledge/1795428360000000000"));
  auto again = Post("/webhooks/jsm", body, {{"X-Tocsin-Token", kJsmToken}});
  EXPECT_EQ(json::parse(again.body)["outcome"], "duplicate");
  ExpectOnce("acknowledged", "jsm:pay@example.com", "jsm");
  // Without the custom header JSM was told to send, nothing is done.
  EXPECT_EQ(Post("/webhooks/jsm", body, {}).status, 401);
  EXPECT_EQ(Post("/webhooks/jsm", body, {{"X-Tocsin-Token", "wrong"}}).status, 403);
}

}  // namespace
}  // namespace inbound_durability_test
}  // namespace tocsin
