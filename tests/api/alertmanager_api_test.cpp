// The Alertmanager API v2 handlers on the real HTTP server (loopback, port 0): alert ingest
// with Alertmanager's validation semantics, the alert list and its filters, silences and
// status, as Prometheus and amtool use them.
#include "tocsin/api/alertmanager_api.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <nlohmann/json.hpp>
#include <set>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "support/loopback_server.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/logging_group_sink.h"

namespace tocsin::dispatch {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* kConfig = R"(
route:
  receiver: slack
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
  - {name: oncall, escalation_policy: default}
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity="warning"']
    equal: [region]
alertmanager: {resolve_timeout: 2m}
escalation_policies: {default: {}}
)";

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
    HttpClientRequest req;
    req.method = method;
    req.url = server_->url() + path;
    req.body = body;
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    auto r = client_.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : HttpClientResponse{};
  }
  json GetJson(const std::string& path) {
    auto r = Call("GET", path);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
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
  ASSERT_EQ(Call("POST", "/api/v2/alerts", R"([
    {"labels": {"alertname": "RegionDown", "region": "eu", "severity": "critical"}},
    {"labels": {"alertname": "Latency", "region": "eu", "severity": "warning"}},
    {"labels": {"alertname": "Latency", "region": "apac", "severity": "warning"}}
  ])")
                .status,
            200);
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
}

TEST_F(AlertmanagerApiTest, StatusHasEveryFieldAmtoolReads) {
  auto s = GetJson("/api/v2/status");
  EXPECT_EQ(s["cluster"]["status"], "disabled");
  EXPECT_TRUE(s["cluster"]["peers"].is_array());
  for (const char* k : {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}) {
    EXPECT_TRUE(s["versionInfo"][k].is_string()) << k;
  }
  EXPECT_NE(s["config"]["original"].get<std::string>().find("receiver: slack"), std::string::npos);
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

}  // namespace
}  // namespace tocsin::dispatch
