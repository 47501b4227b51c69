// The Alertmanager API v2 handlers on the real HTTP server (loopback, port 0): alert ingest
// with Alertmanager's validation semantics, the alert list and its filters, silences and
// status, as Prometheus and amtool use them.
#include "tocsin/api/alertmanager_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <set>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "support/loopback_server.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/logging_group_sink.h"

namespace tocsin::dispatch {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Receivers both test configs use.
const char* kReceivers = R"(receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
  - {name: oncall, escalation_policy: default}
alertmanager: {resolve_timeout: 2m}
escalation_policies: {default: {}}
)";

const std::string kConfig = std::string(R"(
route:
  receiver: slack
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity="warning"']
    equal: [region]
)") + kReceivers;

class AlertmanagerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = testutil::RouterForEveryCaller();
    RegisterAlertmanagerApi(*router, dispatcher_, silences_, scheduler_.clock(),
                            {"0.1.0", "abc", "today", scheduler_.clock().Now()});
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  HttpClientResponse Call(const std::string& method, const std::string& path,
                          const std::string& body = {}) {
    return server_->Call(client_, method, path, body);
  }
  json GetJson(const std::string& path) {
    auto r = Call("GET", path);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  void Advance(Duration d) {
    server_->RunOnLoop([&] { scheduler_.AdvanceBy(d); });
  }
  // RegionDown in eu (to oncall), inhibiting Latency in eu; Latency in apac.
  void PostRegionAlerts() {
    auto r = Call("POST", "/api/v2/alerts", R"([
      {"labels": {"alertname": "RegionDown", "region": "eu", "severity": "critical"}},
      {"labels": {"alertname": "Latency", "region": "eu", "severity": "warning"}},
      {"labels": {"alertname": "Latency", "region": "apac", "severity": "warning"}}])");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Creates a silence through the API and returns its id.
  std::string AddSilence(const std::string& body) {
    auto r = Call("POST", "/api/v2/silences", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["silenceID"].get<std::string>() : "";
  }

  SimulatedScheduler scheduler_{*ParseTime("2026-11-22T03:00:00Z")};
  LoggingGroupSink sink_;
  fakes::MemorySilenceStore store_;
  Silences silences_{store_};
  prometheus::Registry registry_;
  DispatchConfig config_ = testutil::LoadOrDie(kConfig);
  Dispatcher dispatcher_{scheduler_, sink_, silences_, registry_, config_};
  CurlHttpClient client_;
  std::unique_ptr<testing::LoopbackServer> server_;  // last: stopped before the rest goes
};

TEST_F(AlertmanagerApiTest, PostKeepsValidAlertsAndRejectsTheRestWithAJsonString) {
  auto r = Call("POST", "/api/v2/alerts", R"([
    {"labels": {"alertname": "DepositErrors", "severity": "critical", "psp": "A"},
     "annotations": {"summary": "Deposit success 97.2 %"},
     "startsAt": "2026-11-22T02:55:00Z", "generatorURL": "http://prom/graph"},
    {"labels": {}},
    {"labels": {"bad-name": "x"}},
    {"labels": {"alertname": "Backwards"}, "startsAt": "2026-11-22T03:00:00Z",
     "endsAt": "2026-11-22T02:00:00Z"},
    {"labels": {"alertname": "LoginSlow", "severity": "warning"}, "startsAt": "yesterday"}
  ])");
  EXPECT_EQ(r.status, 400);
  auto msg = json::parse(r.body);
  ASSERT_TRUE(msg.is_string()) << r.body;
  std::string text = msg.get<std::string>();
  EXPECT_NE(text.find("4 of 5 alerts rejected"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 1: labels are required"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 2: invalid label name \"bad-name\""), std::string::npos) << text;
  EXPECT_NE(text.find("alert 3: endsAt is before startsAt"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 4: startsAt \"yesterday\""), std::string::npos) << text;

  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
  const auto& a = alerts[0];
  EXPECT_EQ(a["labels"]["alertname"], "DepositErrors");
  EXPECT_EQ(a["annotations"]["summary"], "Deposit success 97.2 %");
  EXPECT_EQ(a["startsAt"], "2026-11-22T02:55:00Z");
  EXPECT_EQ(a["endsAt"], "2026-11-22T03:02:00Z");  // now + resolve_timeout
  EXPECT_EQ(a["generatorURL"], "http://prom/graph");
  EXPECT_EQ(a["fingerprint"],
            Labels({{"alertname", "DepositErrors"}, {"severity", "critical"}, {"psp", "A"}})
                .fingerprint()
                .ToString());
  EXPECT_EQ(a["receivers"], json::parse(R"([{"name": "oncall"}])"));
  EXPECT_EQ(a["status"]["state"], "active");
  EXPECT_EQ(a["status"]["silencedBy"], json::array());
  EXPECT_EQ(a["status"]["inhibitedBy"], json::array());

  EXPECT_EQ(Call("POST", "/api/v2/alerts", "{not json").status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/alerts", R"({"labels": {}})").status, 400);
  auto ok = Call("POST", "/api/v2/alerts", R"([{"labels": {"alertname": "X"}}])");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "");
}

TEST_F(AlertmanagerApiTest, ResolvedAlertsLeaveTheActiveList) {
  ASSERT_EQ(Call("POST", "/api/v2/alerts", R"([{"labels": {"alertname": "A"}}])").status, 200);
  ASSERT_EQ(GetJson("/api/v2/alerts").size(), 1u);
  ASSERT_EQ(Call("POST", "/api/v2/alerts",
                 R"([{"labels": {"alertname": "A"}, "endsAt": "2026-11-22T02:59:00Z"}])")
                .status,
            200);
  EXPECT_EQ(GetJson("/api/v2/alerts").size(), 0u);
}

TEST_F(AlertmanagerApiTest, FiltersSelectByMatchersReceiverAndMuteState) {
  PostRegionAlerts();
  EXPECT_EQ(GetJson("/api/v2/alerts").size(), 3u);
  EXPECT_EQ(GetJson("/api/v2/alerts?filter=alertname%3D%22Latency%22").size(), 2u);
  EXPECT_EQ(
      GetJson("/api/v2/alerts?filter=alertname%3D%22Latency%22&filter=region%3D~%22ap.*%22").size(),
      1u);
  EXPECT_EQ(GetJson("/api/v2/alerts?receiver=onc.*").size(), 1u);
  auto not_inhibited = GetJson("/api/v2/alerts?inhibited=false");
  ASSERT_EQ(not_inhibited.size(), 2u);
  auto inhibited_only = GetJson("/api/v2/alerts?active=false");
  ASSERT_EQ(inhibited_only.size(), 1u);
  EXPECT_EQ(inhibited_only[0]["status"]["state"], "suppressed");
  EXPECT_EQ(inhibited_only[0]["labels"]["region"], "eu");
  EXPECT_EQ(inhibited_only[0]["status"]["inhibitedBy"].size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v2/alerts?filter=alertname%3D").status, 200);
  auto bad = Call("GET", "/api/v2/alerts?filter=%7Balertname");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/alerts?active=maybe").status, 400);
}

TEST_F(AlertmanagerApiTest, SilencesCreateListGetExpireThroughTheApi) {
  ASSERT_EQ(Call("POST", "/api/v2/alerts",
                 R"([{"labels": {"alertname": "PspErrors", "psp": "A", "severity": "critical"}}])")
                .status,
            200);
  auto created = Call("POST", "/api/v2/silences", R"({
    "matchers": [{"name": "psp", "value": "A", "isRegex": false, "isEqual": true},
                 {"name": "alertname", "value": "Psp.*", "isRegex": true}],
    "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "alice", "comment": "PSP-A maintenance"})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = json::parse(created.body)["silenceID"];
  EXPECT_EQ(id.size(), 36u);

  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["status"]["state"], "suppressed");
  EXPECT_EQ(alerts[0]["status"]["silencedBy"], json::array({id}));
  EXPECT_EQ(GetJson("/api/v2/alerts?silenced=false").size(), 0u);

  auto one = GetJson("/api/v2/silence/" + id);
  EXPECT_EQ(one["status"]["state"], "active");
  EXPECT_EQ(one["createdBy"], "alice");
  EXPECT_EQ(one["matchers"][1]["isRegex"], true);
  EXPECT_EQ(GetJson("/api/v2/silences?filter=psp%3D%22A%22").size(), 1u);
  EXPECT_EQ(GetJson("/api/v2/silences?filter=psp%3D%22B%22").size(), 0u);

  EXPECT_EQ(Call("DELETE", "/api/v2/silence/" + id).status, 200);
  EXPECT_EQ(GetJson("/api/v2/silence/" + id)["status"]["state"], "expired");
  EXPECT_EQ(GetJson("/api/v2/silences").size(), 1u);  // kept for audit
  EXPECT_EQ(GetJson("/api/v2/alerts?silenced=false").size(), 1u);
  EXPECT_EQ(Call("DELETE", "/api/v2/silence/nope").status, 404);
  EXPECT_EQ(Call("GET", "/api/v2/silence/nope").status, 404);
}

// Durable before acknowledged: POST /api/v2/silences answers only once the silence's write has
// committed (the store holds it in flight here, as the store thread does before its COMMIT).
TEST_F(AlertmanagerApiTest, SilenceIsAnsweredOnlyOnceItsWriteIsDurable) {
  std::promise<void> held;
  server_->RunOnLoop([&] {
    store_.hold = true;
    store_.on_held = [&held] { held.set_value(); };
  });
  auto answer = std::async(std::launch::async, [&] {
    return Call("POST", "/api/v2/silences", R"({
      "matchers": [{"name": "psp", "value": "A", "isRegex": false, "isEqual": true}],
      "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
      "createdBy": "alice", "comment": "PSP-A maintenance"})");
  });
  // The request reaches the loop and its write is in flight: no answer meanwhile.
  ASSERT_EQ(held.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "answered before the silence was durable";
  EXPECT_TRUE(store_.rows.empty());
  server_->RunOnLoop([&] { store_.Release(); });
  auto created = answer.get();
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = json::parse(created.body)["silenceID"];
  EXPECT_EQ(store_.rows.count(id), 1u);
  EXPECT_EQ(GetJson("/api/v2/silence/" + id)["status"]["state"], "active");
}

TEST_F(AlertmanagerApiTest, SilenceThatCannotBeStoredIs500AndMutesNothing) {
  server_->RunOnLoop([&] { store_.fail_puts = true; });
  auto r = Call("POST", "/api/v2/silences", R"({
    "matchers": [{"name": "psp", "value": "A", "isRegex": false, "isEqual": true}],
    "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "alice", "comment": "PSP-A maintenance"})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("injected store failure"), std::string::npos) << r.body;
  EXPECT_EQ(GetJson("/api/v2/silences").size(), 0u);
}

TEST_F(AlertmanagerApiTest, InvalidSilencesAre400WithTheReason) {
  auto empty = Call("POST", "/api/v2/silences",
                    R"({"matchers": [], "startsAt": "2026-11-22T03:00:00Z",
                        "endsAt": "2026-11-22T04:00:00Z", "createdBy": "a", "comment": "c"})");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(json::parse(empty.body).get<std::string>().find("at least one matcher"),
            std::string::npos);
  auto all = Call("POST", "/api/v2/silences",
                  R"({"matchers": [{"name": "a", "value": ".*", "isRegex": true}],
                      "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T04:00:00Z",
                      "createdBy": "a", "comment": "c"})");
  EXPECT_EQ(all.status, 400);
  auto past = Call("POST", "/api/v2/silences",
                   R"({"matchers": [{"name": "a", "value": "b"}],
                       "startsAt": "2026-11-22T01:00:00Z", "endsAt": "2026-11-22T02:00:00Z",
                       "createdBy": "a", "comment": "c"})");
  EXPECT_EQ(past.status, 400);
  auto unknown = Call("POST", "/api/v2/silences",
                      R"({"id": "no-such", "matchers": [{"name": "a", "value": "b"}],
                          "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T04:00:00Z",
                          "createdBy": "a", "comment": "c"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Call("POST", "/api/v2/silences", "[]").status, 400);
  // Fields of the wrong type are named, not reported as a library's type_error, and an id
  // that is not a string is refused instead of creating a second silence.
  const std::pair<const char*, const char*> wrong[] = {
      {R"("id": 123, "matchers": [{"name": "a", "value": "b"}])",
       "id: the id of the silence to update, as a string"},
      {R"("matchers": [{"name": "a", "value": 7}])", "matchers[0]: name and value must be strings"},
      {R"("matchers": [{"name": "a", "value": "b", "isRegex": "yes"}])",
       "matchers[0]: isRegex must be true or false"},
      {R"("matchers": [{"name": "a", "value": "b"}], "comment": ["c"])",
       "comment must be a string"}};
  for (const auto& [fields, message] : wrong) {
    auto r = Call("POST", "/api/v2/silences",
                  std::string("{") + fields +
                      R"(, "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T04:00:00Z"})");
    EXPECT_EQ(r.status, 400) << fields;
    EXPECT_EQ(json::parse(r.body, nullptr, false), json(message)) << r.body;
  }
  EXPECT_EQ(silences_.List().size(), 0u);
}

TEST_F(AlertmanagerApiTest, StatusHasEveryFieldAmtoolReads) {
  auto s = GetJson("/api/v2/status");
  EXPECT_EQ(s["cluster"]["status"], "disabled");
  EXPECT_TRUE(s["cluster"]["peers"].is_array());
  for (const char* k : {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}) {
    EXPECT_TRUE(s["versionInfo"][k].is_string()) << k;
  }
  EXPECT_NE(s["config"]["original"].get<std::string>().find("receiver: \"slack\""),
            std::string::npos);
  EXPECT_TRUE(ParseTime(s["uptime"].get<std::string>()));
  auto receivers = GetJson("/api/v2/receivers");
  EXPECT_EQ(receivers.size(), 2u);
}

TEST_F(AlertmanagerApiTest, GroupsIntrospectionShowsPendingGroups) {
  ASSERT_EQ(Call("POST", "/api/v2/alerts", R"([
    {"labels": {"alertname": "A", "severity": "critical"}},
    {"labels": {"alertname": "B"}}])")
                .status,
            200);
  auto groups = GetJson("/api/v1/groups");
  ASSERT_EQ(groups.size(), 2u) << groups.dump();
  std::set<std::string> receivers;
  for (const auto& g : groups) {
    receivers.insert(g["receiver"].get<std::string>());
    EXPECT_EQ(g["alerts"], 1);
    EXPECT_EQ(g["flushed"], false);
    EXPECT_EQ(g["nextFlush"], "2026-11-22T03:00:30Z");
  }
  EXPECT_EQ(receivers, (std::set<std::string>{"oncall", "slack"}));
}

// Regression: GET /api/v2/alerts/groups answered 404, so amtool and dashboards built on it
// saw nothing.
TEST_F(AlertmanagerApiTest, AlertGroupsAnsweredInAlertmanagersShapeAndOrder) {
  PostRegionAlerts();
  auto groups = GetJson("/api/v2/alerts/groups");
  ASSERT_EQ(groups.size(), 2u) << groups.dump();
  // No group_by: one group per route with empty labels, ordered by receiver name.
  EXPECT_EQ(groups[0]["receiver"]["name"], "oncall");
  EXPECT_EQ(groups[0]["labels"], json::object());
  ASSERT_EQ(groups[0]["alerts"].size(), 1u);
  EXPECT_EQ(groups[0]["alerts"][0]["labels"]["alertname"], "RegionDown");
  EXPECT_EQ(groups[1]["receiver"]["name"], "slack");
  ASSERT_EQ(groups[1]["alerts"].size(), 2u);
  EXPECT_EQ(groups[1]["alerts"][0]["labels"]["region"], "apac");  // LabelSet order
  EXPECT_EQ(groups[1]["alerts"][1]["labels"]["region"], "eu");
  EXPECT_EQ(groups[1]["alerts"][1]["status"]["state"], "suppressed");
  EXPECT_EQ(groups[1]["alerts"][1]["receivers"], json::parse(R"([{"name": "slack"}])"));

  auto oncall = GetJson("/api/v2/alerts/groups?receiver=onc.*");
  ASSERT_EQ(oncall.size(), 1u);
  EXPECT_EQ(oncall[0]["receiver"]["name"], "oncall");
  auto not_inhibited = GetJson("/api/v2/alerts/groups?inhibited=false&filter=region%3D%22eu%22");
  ASSERT_EQ(not_inhibited.size(), 1u) << not_inhibited.dump();
  EXPECT_EQ(not_inhibited[0]["alerts"][0]["labels"]["alertname"], "RegionDown");
  EXPECT_EQ(Call("GET", "/api/v2/alerts/groups?receiver=%28").status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/alerts/groups?active=maybe").status, 400);
}

// Regression: `receiver=` with an empty value filtered every alert out; Alertmanager's API
// treats an empty query value as not given.
TEST_F(AlertmanagerApiTest, EmptyReceiverParameterIsIgnored) {
  ASSERT_EQ(Call("POST", "/api/v2/alerts", R"([{"labels": {"alertname": "A"}},
    {"labels": {"alertname": "B", "severity": "critical"}}])")
                .status,
            200);
  EXPECT_EQ(GetJson("/api/v2/alerts?receiver=").size(), 2u);
  EXPECT_EQ(GetJson("/api/v2/alerts/groups?receiver=").size(), 2u);
  EXPECT_EQ(GetJson("/api/v2/alerts?receiver=nobody").size(), 0u);
}

// Regression: GET /api/v2/silences was ordered by id; Alertmanager lists active silences
// (next to end first), then pending (next to start first), then expired (latest end first).
TEST_F(AlertmanagerApiTest, SilencesAreListedActiveThenPendingThenExpired) {
  auto body = [](const std::string& name, const std::string& start, const std::string& end) {
    return R"({"matchers": [{"name": ")" + name + R"(", "value": "x", "isRegex": false}],
      "startsAt": ")" +
           start + R"(", "endsAt": ")" + end + R"(", "createdBy": "a",
      "comment": "c"})";
  };
  std::string late_pending = AddSilence(body("p2", "2026-11-22T06:00:00Z", "2026-11-22T07:00:00Z"));
  std::string long_active = AddSilence(body("a2", "2026-11-22T03:00:00Z", "2026-11-22T09:00:00Z"));
  std::string early_expired =
      AddSilence(body("e1", "2026-11-22T03:00:00Z", "2026-11-22T04:00:00Z"));
  std::string soon_pending = AddSilence(body("p1", "2026-11-22T04:00:00Z", "2026-11-22T07:00:00Z"));
  std::string short_active = AddSilence(body("a1", "2026-11-22T03:00:00Z", "2026-11-22T05:00:00Z"));
  std::string late_expired = AddSilence(body("e2", "2026-11-22T03:00:00Z", "2026-11-22T08:00:00Z"));
  ASSERT_EQ(Call("DELETE", "/api/v2/silence/" + early_expired).status, 200);
  Advance(10min);
  ASSERT_EQ(Call("DELETE", "/api/v2/silence/" + late_expired).status, 200);
  std::vector<std::string> ids;
  for (const auto& sil : GetJson("/api/v2/silences")) ids.push_back(sil["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{short_active, long_active, soon_pending, late_pending,
                                           late_expired, early_expired}));
}

// Regression: the silences `filter` matched regex and negative filter matchers against the
// silence's equality matchers only; Alertmanager lists the silences that contain each filter
// matcher as written (same name, operator and value).
TEST_F(AlertmanagerApiTest, SilencesFilterFindsRegexAndNegativeMatchersAsWritten) {
  std::string regex = AddSilence(R"({"matchers": [
      {"name": "service", "value": "pay.*", "isRegex": true},
      {"name": "env", "value": "staging", "isRegex": false, "isEqual": false}],
    "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "c"})");
  std::string equal = AddSilence(R"({"matchers": [
      {"name": "service", "value": "payments", "isRegex": false}],
    "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "c"})");
  auto ids = [&](const std::string& query) {
    std::set<std::string> out;
    for (const auto& sil : GetJson("/api/v2/silences" + query)) out.insert(sil["id"]);
    return out;
  };
  EXPECT_EQ(ids("?filter=service%3D~%22pay.*%22"), std::set<std::string>{regex});
  EXPECT_EQ(ids("?filter=env%21%3D%22staging%22"), std::set<std::string>{regex});
  EXPECT_EQ(ids("?filter=service%3D%22payments%22"), std::set<std::string>{equal});
  EXPECT_EQ(ids("?filter=service%3D~%22pay.*%22&filter=env%21%3D%22staging%22"),
            std::set<std::string>{regex});
  EXPECT_TRUE(ids("?filter=service%3D~%22pay%22").empty());
  EXPECT_TRUE(ids("?filter=env%3D%22staging%22").empty());
  EXPECT_EQ(ids("").size(), 2u);
}

// Regression: DELETE of an expired silence answered 400; Alertmanager answers 200 and leaves
// the silence as it was.
TEST_F(AlertmanagerApiTest, DeletingAnExpiredSilenceAnswers200AndChangesNothing) {
  std::string id = AddSilence(R"({"matchers": [{"name": "a", "value": "b", "isRegex": false}],
    "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "c"})");
  ASSERT_EQ(Call("DELETE", "/api/v2/silence/" + id).status, 200);
  auto first = GetJson("/api/v2/silence/" + id);
  Advance(5min);
  auto again = Call("DELETE", "/api/v2/silence/" + id);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(GetJson("/api/v2/silence/" + id), first);
}

// Regression: changing the matchers of a pending silence updated it in place; Alertmanager
// expires it and answers with a new id.
TEST_F(AlertmanagerApiTest, ChangingMatchersOfAPendingSilenceAnswersANewId) {
  std::string id = AddSilence(R"({"matchers": [{"name": "a", "value": "b", "isRegex": false}],
    "startsAt": "2026-11-22T04:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "c"})");
  std::string changed = AddSilence(R"({"id": ")" + id + R"(",
    "matchers": [{"name": "a", "value": "c", "isRegex": false}],
    "startsAt": "2026-11-22T04:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "c"})");
  EXPECT_NE(changed, id);
  EXPECT_EQ(GetJson("/api/v2/silence/" + id)["status"]["state"], "expired");
  EXPECT_EQ(GetJson("/api/v2/silence/" + id)["matchers"][0]["value"], "b");
  EXPECT_EQ(GetJson("/api/v2/silence/" + changed)["status"]["state"], "pending");
  std::string later = AddSilence(R"({"id": ")" + changed + R"(",
    "matchers": [{"name": "a", "value": "c", "isRegex": false}],
    "startsAt": "2026-11-22T04:30:00Z", "endsAt": "2026-11-22T05:00:00Z",
    "createdBy": "a", "comment": "moved"})");
  EXPECT_EQ(later, changed);  // same matchers, start still ahead: updated in place
}

// Regression: config.original held tocsin's own YAML, which amtool cannot load; it now holds
// the route tree, receivers and inhibit rules in Alertmanager's format (the conformance test
// loads it with amtool).
TEST_F(AlertmanagerApiTest, StatusConfigIsTheRouteTreeInAlertmanagersFormat) {
  std::string original = GetJson("/api/v2/status")["config"]["original"];
  EXPECT_EQ(original, AlertmanagerConfigYaml(config_));
  EXPECT_EQ(original.find("escalation_policies"), std::string::npos) << original;
  for (const char* part :
       {"resolve_timeout: 2m", "matchers: [\"severity=\\\"critical\\\"\"]", "receiver: \"oncall\"",
        "source_matchers: [\"alertname=\\\"RegionDown\\\"\"]", "equal: [\"region\"]",
        "group_wait: 30s", "repeat_interval: 4h"}) {
    EXPECT_NE(original.find(part), std::string::npos) << part << "\n" << original;
  }
}

// Every part of a route tree Alertmanager can express comes out as configuration that
// Alertmanager's own checker (amtool check-config) accepts.
TEST(AlertmanagerConfigYamlTest, RichRouteTreePassesAmtoolCheckConfig) {
  if (!std::filesystem::exists("/usr/bin/amtool")) GTEST_SKIP() << "amtool missing";
  auto config = testutil::LoadOrDie(std::string(R"(
route:
  receiver: slack
  group_by: ['...']
  group_wait: 1m30s
  routes:
    - matchers: ['service=~"pay.*"', 'env!="staging"', 'team="a \"quoted\" one"']
      receiver: oncall
      continue: true
      group_by: [alertname, region]
      routes:
        - matchers: ['region!~"eu-.*"']
          receiver: slack
          repeat_interval: 12h
    - matchers: ['severity="critical"']
      receiver: oncall
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity=~"warning|info"']
    equal: [region, service]
)") + kReceivers);
  testing::TempDir dir;
  auto file = dir.Write("alertmanager.yml", AlertmanagerConfigYaml(config));
  auto check = testing::RunCommand({"/usr/bin/amtool", "check-config", file});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << AlertmanagerConfigYaml(config);
  EXPECT_NE(check.out.find("1 inhibit rules"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("2 receivers"), std::string::npos) << check.out;
  auto routes = testing::RunCommand({"/usr/bin/amtool", "config", "routes", "--config.file", file});
  EXPECT_EQ(routes.exit_code, 0) << routes.err;
  EXPECT_NE(routes.out.find("{env!=\"staging\",service=~\"pay.*\",team=\"a \\\"quoted\\\" one\"}  "
                            "continue: true  receiver: oncall"),
            std::string::npos)
      << routes.out;
  EXPECT_NE(routes.out.find("{region!~\"eu-.*\"}  receiver: slack"), std::string::npos)
      << routes.out;
}

}  // namespace
}  // namespace tocsin::dispatch
