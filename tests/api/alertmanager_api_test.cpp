// The Alertmanager API v2 handlers on the real HTTP server (loopback, port 0): alert ingest
// with Alertmanager's validation semantics, the alert list and its filters, groups and status,
// as Prometheus and amtool use them. Silences: alertmanager_silences_api_test.cpp.
#include "tocsin/api/alertmanager_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <set>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "api/alertmanager_api_fixture.h"
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

using am_api_test::AlertmanagerApiTest;
using am_api_test::json;
using am_api_test::kReceivers;
using namespace std::chrono_literals;

// A byte that is not UTF-8 in one alert's label (a bridge that sends Latin-1) is read as
// U+FFFD, as Alertmanager reads it: the batch's critical alert is not lost with it.
TEST_F(AlertmanagerApiTest, ABadByteInOneAlertKeepsTheBatch) {
  auto r = Call("POST", "/api/v2/alerts",
                "[{\"labels\": {\"alertname\": \"DepositErrors\", \"severity\": \"critical\"}},"
                " {\"labels\": {\"alertname\": \"Bad\", \"x\": \"caf\xE9\"}}]");
  EXPECT_EQ(r.status, 200) << r.body;
  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 2u) << alerts.dump();
  const auto& bad = alerts[0]["labels"]["alertname"] == "Bad" ? alerts[0] : alerts[1];
  EXPECT_EQ(bad["labels"]["x"], "caf\xEF\xBF\xBD");
}

// Half a surrogate pair escaped alone ("\ud83d", cut from an emoji) is read as U+FFFD, as
// Alertmanager reads it; a whole pair is the character. Before, simdjson's refusal of the one
// string refused the batch, its critical alert with it.
TEST_F(AlertmanagerApiTest, ALoneSurrogateEscapeInOneAlertKeepsTheBatch) {
  auto r = Call("POST", "/api/v2/alerts",
                R"([{"labels": {"alertname": "DepositErrors", "severity": "critical"}},)"
                R"( {"labels": {"alertname": "Cut", "x": "up \ud83d", "y": "\udc00\ud83d\ude00"},)"
                "  \"annotations\": {\"summary\": \"caf\xE9 \\\\ud83d\"}}]");
  EXPECT_EQ(r.status, 200) << r.body;
  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 2u) << alerts.dump();
  const auto& cut = alerts[0]["labels"]["alertname"] == "Cut" ? alerts[0] : alerts[1];
  EXPECT_EQ(cut["labels"]["x"], "up \xEF\xBF\xBD");
  EXPECT_EQ(cut["labels"]["y"], "\xEF\xBF\xBD\xF0\x9F\x98\x80");
  // A Latin-1 byte in the same alert is read as U+FFFD too (both replacements in one body); an
  // escaped backslash before "ud83d" is no escape: that text stays as sent.
  EXPECT_EQ(cut["annotations"]["summary"], "caf\xEF\xBF\xBD \\ud83d");
}

TEST_F(AlertmanagerApiTest, PostKeepsValidAlertsAndRejectsTheRestWithAJsonString) {
  auto r = Call("POST", "/api/v2/alerts", R"([
    {"labels": {"alertname": "DepositErrors", "severity": "critical", "psp": "A"},
     "annotations": {"summary": "Deposit success 97.2 %"},
     "startsAt": "2026-11-22T02:55:00Z", "generatorURL": "http://prom/graph"},
    {"labels": {}},
    {"labels": {"bad-name": "x"}},
    {"labels": {"alertname": "Backwards"}, "startsAt": "2026-11-22T03:00:00Z",
     "endsAt": "2026-11-22T02:00:00Z"},
    {"labels": {"alertname": "LoginSlow", "severity": "warning"}, "startsAt": "yesterday"},
    {"labels": {"alertname": "A"}, "annotations": "see runbook"},
    {"labels": {"alertname": "B"}, "annotations": {"summary": 97.2}},
    {"labels": {"alertname": "C"}, "generatorURL": 5},
    {"labels": {"alertname": "D"}, "startsAt": 1764816900},
    {"labels": {"alertname": "E"}, "annotations": {"summary": null}, "generatorURL": null,
     "endsAt": null}
  ])");
  EXPECT_EQ(r.status, 400);
  auto msg = json::parse(r.body);
  ASSERT_TRUE(msg.is_string()) << r.body;
  std::string text = msg.get<std::string>();
  EXPECT_NE(text.find("8 of 10 alerts rejected"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 1: labels are required"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 2: invalid label name \"bad-name\""), std::string::npos) << text;
  EXPECT_NE(text.find("alert 3: endsAt is before startsAt"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 4: startsAt \"yesterday\""), std::string::npos) << text;
  // Members of the wrong type are refused with their names, never dropped.
  EXPECT_NE(text.find("alert 5: annotations must be an object of strings"), std::string::npos);
  EXPECT_NE(text.find("alert 6: annotation summary must have a string value"), std::string::npos);
  EXPECT_NE(text.find("alert 7: generatorURL must be a string"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 8: startsAt must be an RFC 3339 time in a string"), std::string::npos);

  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 2u) << alerts.dump();  // DepositErrors, and E with its nulls
  const auto& a = alerts[0]["labels"]["alertname"] == "DepositErrors" ? alerts[0] : alerts[1];
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

  // A body that is not a list held no alert: the answer says what the body is, and counts none.
  auto not_json = Call("POST", "/api/v2/alerts", "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.body.rfind("\"body is not valid JSON: ", 0), 0u) << not_json.body;
  auto not_list = Call("POST", "/api/v2/alerts", R"({"labels": {}})");
  EXPECT_EQ(not_list.status, 400);
  EXPECT_EQ(not_list.body, "\"body must be a JSON array of alerts\"");
  auto ok = Call("POST", "/api/v2/alerts", R"([{"labels": {"alertname": "X"}}])");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "");
}

// Attack findings: a time in unix seconds, with a leap second or with an offset of 99:99 was
// taken; a startsAt in the future without an endsAt was refused as "endsAt is before
// startsAt", an endsAt the client never sent.
TEST_F(AlertmanagerApiTest, TimesAreRfc3339OnlyAndAFutureStartWithoutAnEndSaysWhy) {
  auto r = Call("POST", "/api/v2/alerts", R"([
    {"labels": {"alertname": "Unix"}, "startsAt": "1700000000"},
    {"labels": {"alertname": "Leap"}, "startsAt": "2016-12-31T23:59:60Z"},
    {"labels": {"alertname": "Offset"}, "startsAt": "2026-11-22T02:00:00+99:99"},
    {"labels": {"alertname": "Future"}, "startsAt": "2030-01-01T00:00:00Z"},
    {"labels": {"alertname": "Fine"}, "startsAt": "2026-11-22T04:00:00+02:00"}
  ])");
  EXPECT_EQ(r.status, 400);
  const std::string text = json::parse(r.body).get<std::string>();
  EXPECT_NE(text.find("4 of 5 alerts rejected"), std::string::npos) << text;
  EXPECT_NE(text.find("alert 0: startsAt \"1700000000\" is not an RFC 3339 time"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("alert 1: startsAt \"2016-12-31T23:59:60Z\" is not"), std::string::npos);
  EXPECT_NE(text.find("alert 2: startsAt \"2026-11-22T02:00:00+99:99\" is not"), std::string::npos);
  EXPECT_NE(text.find("alert 3: startsAt 2030-01-01T00:00:00Z is after the endsAt an alert "
                      "without one gets (now + resolve_timeout, 2026-11-22T03:02:00Z)"),
            std::string::npos)
      << text;
  auto alerts = GetJson("/api/v2/alerts");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["startsAt"], "2026-11-22T02:00:00Z");
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

// Attack finding: tocsin's own alerts (from its rules: no end until the rule resolves them)
// were listed with endsAt 1970-01-01, which an Alertmanager client reads as resolved.
TEST_F(AlertmanagerApiTest, AnAlertWithoutAnEndIsListedAsAlertmanagerListsOneThatCameWithout) {
  Alert own;
  own.labels = Labels{{"alertname", "tocsin_source_down"}, {"severity", "critical"}};
  own.starts_at = scheduler_.clock().Now();
  server_->RunOnLoop([&] { dispatcher_.Ingest({own}, scheduler_.clock().Now()); });
  ASSERT_EQ(Call("POST", "/api/v2/alerts", R"([{"labels": {"alertname": "Pushed"}}])").status, 200);
  Advance(30s);
  // Both end resolve_timeout (2m) after they came: the pushed one's endsAt was set on intake.
  auto listed = GetJson("/api/v2/alerts");
  ASSERT_EQ(listed.size(), 2u);
  for (const auto& a : listed) {
    const bool pushed = a["labels"]["alertname"] == "Pushed";
    EXPECT_EQ(a["endsAt"], pushed ? "2026-11-22T03:02:00Z" : "2026-11-22T03:02:30Z") << a;
    EXPECT_EQ(a["status"]["state"], "active");
  }
  auto groups = GetJson("/api/v2/alerts/groups");
  for (const auto& g : groups) {
    for (const auto& a : g["alerts"]) {
      EXPECT_GT(a["endsAt"].get<std::string>(), "2026-11-22T03:00:30Z") << a;
    }
  }
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
    EXPECT_EQ(g["keptFromReload"], false);
    EXPECT_EQ(g["recalled"], false);
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
