// The real `tocsin serve` process: incidents over HTTP, and the crash test — SIGKILL in the
// middle of an escalation, restart, and the ladder resumes on its original deadlines without
// paging anyone twice. Escalation steps are 3 s apart here so the real clock can be used.
#include <gtest/gtest.h>

#include <signal.h>
#include <algorithm>

#include <thread>

#include <nlohmann/json.hpp>

#include "incident/incident_test_support.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"

namespace tocsin::incident {
namespace {

using nlohmann::json;
using testing::Process;

class IncidentDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("roster.yaml", kTestRoster);
    config_ = dir_.Write("tocsin.yaml", R"(
log: {level: info}
roster_file: roster.yaml
escalation_policies:
  default:
    steps:
      - {after: 0s, targets: [{role: l1}]}
      - {after: 3s, targets: [{role: "l2-{domain}"}, {role: comms}]}
      - {after: 6s, targets: [{role: duty-manager}]}
incidents: {reminder_interval: 1h}
)");
    port_ = testing::FreePort();
  }

  std::unique_ptr<Process> Start() {
    auto p = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config_, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 dir_.path() + "/data"},
        std::vector<std::string>{}, dir_.path() + "/tocsin.log");
    EXPECT_TRUE(testing::WaitForPort(port_, std::chrono::seconds(10)));
    return p;
  }

  std::pair<long, json> Http(const std::string& method, const std::string& path,
                             const json& body = nullptr) {
    HttpClientRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers.emplace_back("Content-Type", "application/json");
    }
    auto resp = client_.Send(r);
    if (!resp) return {0, json()};
    return {resp->status, json::parse(resp->body, nullptr, false)};
  }

  // The "page_decided" events of the incident's timeline, in order.
  std::vector<json> Notified(const std::string& id) {
    std::vector<json> out;
    auto [status, body] = Http("GET", "/api/v1/incidents/" + id);
    if (status != 200) return out;
    for (const auto& e : body["timeline"]) {
      if (e["kind"] == "page_decided") out.push_back(e);
    }
    return out;
  }

  bool WaitForNotified(const std::string& id, std::size_t n, std::chrono::seconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (Notified(id).size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  testing::TempDir dir_;
  std::string config_;
  unsigned short port_ = 0;
  CurlHttpClient client_;
};

TEST_F(IncidentDaemonTest, KillDashNineMidEscalationThenRestartResumesTheLadderOnce) {
  auto daemon = Start();
  auto [status, created] = Http("POST", "/api/v1/incidents",
                                {{"actor", "l1a"},
                                 {"title", "Deposit success 97.2 % at PSP-A"},
                                 {"labels", {{"domain", "payments"}, {"psp", "psp-a"}}},
                                 {"severity", "critical"}});
  ASSERT_EQ(status, 201) << created.dump();
  const std::string id = created["incident"]["id"];
  EXPECT_EQ(id, "INC-1");
  auto opened_at = ParseTime(created["incident"]["opened_at"].get<std::string>()).value();
  ASSERT_TRUE(WaitForNotified(id, 1, std::chrono::seconds(2)));

  // Step 2 (L2 + Comms, due at +3 s) fires; kill -9 before step 3 (due at +6 s).
  ASSERT_TRUE(WaitForNotified(id, 2, std::chrono::seconds(5)));
  ASSERT_TRUE(daemon->Signal(SIGKILL));
  daemon->Wait(std::chrono::seconds(5));
  daemon.reset();
  // Stay down until step 3's deadline has passed.
  auto deadline = std::chrono::system_clock::time_point(opened_at.time_since_epoch()) +
                  std::chrono::milliseconds(6500);
  std::this_thread::sleep_until(deadline);

  auto restarted = Start();
  // Same incident, same opening time.
  auto [s2, same] = Http("GET", "/api/v1/incidents/" + id);
  ASSERT_EQ(s2, 200);
  EXPECT_EQ(same["incident"]["opened_at"], created["incident"]["opened_at"]);
  // The overdue step fired once, at once, after the restart.
  ASSERT_TRUE(WaitForNotified(id, 3, std::chrono::seconds(3)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto notified = Notified(id);
  ASSERT_EQ(notified.size(), 3u);
  std::set<std::string> keys;
  for (const auto& n : notified) keys.insert(n["data"]["idempotency_key"].get<std::string>());
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_TRUE(keys.count("INC-1/step-2/trigger"));
  // Original deadlines: each step was due at T0 + after, and the overdue one says so.
  EXPECT_EQ(notified[1]["data"]["due_at"], FormatRfc3339(opened_at + std::chrono::seconds(3)));
  EXPECT_EQ(notified[2]["data"]["due_at"], FormatRfc3339(opened_at + std::chrono::seconds(6)));
  auto fired = ParseTime(notified[2]["at"].get<std::string>()).value();
  EXPECT_GE(fired, opened_at + std::chrono::milliseconds(6500));
  EXPECT_NE(notified[2]["text"].get<std::string>().find("dm"), std::string::npos);

  // The timeline is intact and the ack works on the restarted daemon.
  auto [s3, verify] = Http("GET", "/api/v1/incidents/" + id + "/verify");
  EXPECT_EQ(s3, 200);
  EXPECT_TRUE(verify["ok"].get<bool>()) << verify.dump();
  auto [s4, acked] = Http("POST", "/api/v1/incidents/" + id + "/ack", {{"actor", "l1a"}});
  EXPECT_EQ(s4, 200) << acked.dump();
  EXPECT_EQ(acked["incident"]["state"], "acknowledged");
}

TEST_F(IncidentDaemonTest, ApiActsOnIncidentsAndAnswersWhoIsOnCall) {
  auto daemon = Start();
  auto [s0, created] =
      Http("POST", "/api/v1/incidents",
           {{"actor", "l1a"}, {"title", "WS p95 up in APAC"}, {"severity", "error"}});
  ASSERT_EQ(s0, 201) << created.dump();
  const std::string id = created["incident"]["id"];
  EXPECT_EQ(created["incident"]["sev"], "SEV-3");
  // Members of the wrong type are refused with what to fix, not a 500.
  auto [s_num, numeric] =
      Http("POST", "/api/v1/incidents", {{"actor", "l1a"}, {"title", "x"}, {"severity", 3}});
  EXPECT_EQ(s_num, 400) << numeric.dump();
  EXPECT_EQ(numeric["error"], "`severity` of a manual incident must be a string");
  auto [s_lab, labels] =
      Http("POST", "/api/v1/incidents", {{"actor", "l1a"}, {"title", "x"}, {"labels", "psp-a"}});
  EXPECT_EQ(s_lab, 400) << labels.dump();
  EXPECT_EQ(labels["error"], "`labels` must be an object of label names to values");
  // Optional members of the wrong type are refused with their names, never dropped, and so is
  // a policy the config does not define (the incident would otherwise run on `default`).
  const json alert = {{"labels", {{"alertname", "DepositErrors"}, {"psp", "psp-a"}}}};
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"title", "x"}, {"policy", 7}}, "`policy` of an incident must be a string"},
      {{{"title", "x"}, {"key", json::array()}}, "`key` of an incident must be a string"},
      {{{"title", 1}, {"alerts", {alert}}}, "`title` of an incident must be a string"},
      {{{"title", "x"}, {"policy", "paymnts"}},
       "`policy` \"paymnts\" is not an escalation policy of the config; known: default"},
      {{{"alerts", {alert, {{"labels", {{"alertname", "A"}}}, {"annotations", 5}}}}},
       "`annotations` of alerts[1] must be an object"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"annotations", {{"summary", 5}}}}}}},
       "annotation `summary` of alerts[0] must be a string"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}, {"psp", 1}}}}}}},
       "label `psp` of alerts[0] must be a string"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}, {"bad-name", "v"}}}}}}},
       "label name \"bad-name\" of alerts[0] is not valid: letters, digits and _, not starting "
       "with a digit"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"starts_at", "yesterday"}}}}},
       "`starts_at` of alerts[0]: "},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"generator_url", false}}}}},
       "`generator_url` of alerts[0] must be a string"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"value", "12%"}}}}},
       "`value` of alerts[0] must be a number"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"links", {{{"href", 3}}}}}}}},
       "`href` of links[0] of alerts[0] must be a string"},
      {{{"alerts", {{{"labels", {{"alertname", "A"}}}, {"links", {"http://x"}}}}}},
       "links[0] of alerts[0] must be an object {href, text}"},
  };
  for (auto [body, error] : refused) {
    body["actor"] = "l1a";
    auto [status, answer] = Http("POST", "/api/v1/incidents", body);
    EXPECT_EQ(status, 400) << body.dump() << " -> " << answer.dump();
    EXPECT_EQ(answer.value("error", "").rfind(error, 0), 0u)
        << body.dump() << " -> " << answer.dump();
  }
  // Without a `severity` member a manual incident takes its `severity` label (before: critical).
  auto [s_sev, by_label] =
      Http("POST", "/api/v1/incidents",
           {{"actor", "l1a"}, {"title", "slow reports"}, {"labels", {{"severity", "warning"}}}});
  ASSERT_EQ(s_sev, 201) << by_label.dump();
  EXPECT_EQ(by_label["incident"]["alerts"][0]["severity"], "warning");
  // A label that names no severity tocsin knows (a team's "P1") leaves the default.
  auto [s_p1, p1] =
      Http("POST", "/api/v1/incidents",
           {{"actor", "l1a"}, {"title", "P1 by hand"}, {"labels", {{"severity", "P1"}}}});
  ASSERT_EQ(s_p1, 201) << p1.dump();
  EXPECT_EQ(p1["incident"]["alerts"][0]["severity"], "critical");
  EXPECT_EQ(
      Http("POST", "/api/v1/incidents/" + p1["incident"]["id"].get<std::string>() + "/resolve",
           {{"actor", "l1a"}})
          .first,
      200);
  EXPECT_EQ(Http("POST",
                 "/api/v1/incidents/" + by_label["incident"]["id"].get<std::string>() + "/resolve",
                 {{"actor", "l1a"}})
                .first,
            200);
  auto [s_limit, limit] = Http("GET", "/api/v1/incidents?limit=10abc", nullptr);
  EXPECT_EQ(s_limit, 400) << limit.dump();
  // Outside 1-10000 is refused as the docs say, not clamped and answered 200.
  for (const char* out_of_range : {"0", "-1", "10001"}) {
    auto [status, body] =
        Http("GET", std::string("/api/v1/incidents?limit=") + out_of_range, nullptr);
    EXPECT_EQ(status, 400) << out_of_range << " " << body.dump();
  }
  EXPECT_EQ(Http("GET", "/api/v1/incidents?limit=10000", nullptr).first, 200);
  auto [s1, bad_ack] = Http("POST", "/api/v1/incidents/" + id + "/ack", {{"actor", "mallory"}});
  EXPECT_EQ(s1, 403) << bad_ack.dump();
  // The CLI says why, and only why: no second line about token roles (issue 13).
  auto nobody = testing::RunCommand({TOCSIN_BINARY, "incidents", "ack", id, "--actor", "nobody",
                                     "--url", "http://127.0.0.1:" + std::to_string(port_)});
  EXPECT_EQ(nobody.exit_code, 1) << nobody.err;
  EXPECT_EQ(
      nobody.err.rfind(
          "POST /api/v1/incidents/" + id + "/ack: 403 \"nobody\" is not a person of the roster", 0),
      0u)
      << nobody.err;
  EXPECT_EQ(std::count(nobody.err.begin(), nobody.err.end(), '\n'), 1) << nobody.err;
  auto [s2, noted] = Http("POST", "/api/v1/incidents/" + id + "/note",
                          {{"actor", "l1a"}, {"text", "provider lag, switching provider"}});
  EXPECT_EQ(s2, 200) << noted.dump();
  auto [s3, resolved] = Http("POST", "/api/v1/incidents/" + id + "/resolve", {{"actor", "l1a"}});
  EXPECT_EQ(s3, 200);
  EXPECT_EQ(resolved["incident"]["state"], "resolved");
  auto [s4, list] = Http("GET", "/api/v1/incidents?state=resolved");
  ASSERT_EQ(s4, 200);
  ASSERT_EQ(list["incidents"].size(), 3u);  // this one and the two of the severity label
  auto [s5, missing] = Http("GET", "/api/v1/incidents/INC-999");
  EXPECT_EQ(s5, 404);
  auto [s6, oncall] = Http("GET", "/api/v1/oncall?at=2026-11-23T10:00:00Z&role=l1");
  ASSERT_EQ(s6, 200);
  ASSERT_EQ(oncall["oncall"].size(), 1u);
  EXPECT_EQ(oncall["oncall"][0]["person"], "l1a");
  // The CLI talks to the same API.
  std::string cmd = std::string(TOCSIN_BINARY) + " incidents verify " + id +
                    " --url http://127.0.0.1:" + std::to_string(port_) + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  // tocsin backup copies the live database; the copy holds the incident.
  std::string backup = dir_.path() + "/backup.db";
  cmd = std::string(TOCSIN_BINARY) + " backup " + backup + " --database " + dir_.path() +
        "/data/tocsin.db >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  cmd = "sqlite3 " + backup + " \"SELECT id FROM incidents\" | grep -q " + id;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// `tocsin incidents postmortem ID --done URL` records through the daemon where the post-mortem
// is; the draft, read from the daemon's database, then says so.
TEST_F(IncidentDaemonTest, APostmortemIsRecordedThroughTheDaemonAndTheDraftSaysWhere) {
  auto daemon = Start();
  auto [s0, created] = Http("POST", "/api/v1/incidents",
                            {{"actor", "l1a"}, {"title", "PSP A down"}, {"severity", "critical"}});
  ASSERT_EQ(s0, 201) << created.dump();
  const std::string id = created["incident"]["id"];
  auto [s1, resolved] = Http("POST", "/api/v1/incidents/" + id + "/resolve", {{"actor", "l1a"}});
  ASSERT_EQ(s1, 200) << resolved.dump();
  auto [s2, no_url] = Http("POST", "/api/v1/incidents/" + id + "/postmortem", {{"actor", "l1a"}});
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(no_url["error"], "`url`: where the post-mortem is (a document or a ticket)");
  const std::string url = "https://wiki.example/pm/" + id;
  auto done =
      testing::RunCommand({TOCSIN_BINARY, "incidents", "postmortem", id, "--done", url, "--actor",
                           "l1a", "--url", "http://127.0.0.1:" + std::to_string(port_)});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(done.out, id + ": post-mortem recorded: " + url + "\n");
  auto [s3, shown] = Http("GET", "/api/v1/incidents/" + id);
  ASSERT_EQ(s3, 200);
  int recorded = 0;
  for (const auto& e : shown["timeline"]) {
    if (e["kind"] != "postmortem") continue;
    ++recorded;
    EXPECT_EQ(e["actor"], "l1a");
    EXPECT_EQ(e["text"], "post-mortem recorded: " + url);
  }
  EXPECT_EQ(recorded, 1);
  auto draft = testing::RunCommand({TOCSIN_BINARY, "incidents", "postmortem", id, "--config",
                                    config_, "--database", dir_.path() + "/data/tocsin.db"});
  ASSERT_EQ(draft.exit_code, 0) << draft.err;
  EXPECT_NE(draft.out.find("| Post-mortem recorded | " + url + " (by l1a at "), std::string::npos)
      << draft.out;
  EXPECT_NE(draft.out.find("## Impact\n\nNot available: the incident's alerts name no SLO"),
            std::string::npos)
      << draft.out;
}

// Status updates and drills through the real daemon and the real CLI: each answer comes after
// the change is in the timeline (the GET right after sees it), bad input is refused with a
// reason, and the shipped scenarios file runs as it is.
TEST_F(IncidentDaemonTest, StatusUpdateAndDrillThroughTheCliAndTheApi) {
  auto daemon = Start();
  const std::string url = "http://127.0.0.1:" + std::to_string(port_);
  auto [s0, created] = Http("POST", "/api/v1/incidents",
                            {{"actor", "l1a"},
                             {"title", "Deposits failing at PSP-A"},
                             {"labels", {{"market", "DE"}, {"brand", "casino-main"}}}});
  ASSERT_EQ(s0, 201) << created.dump();
  const std::string id = created["incident"]["id"];
  auto [s1, bad] = Http("POST", "/api/v1/incidents/" + id + "/updates", {{"actor", "l1a"}});
  EXPECT_EQ(s1, 400);
  EXPECT_NE(bad.dump().find("situation"), std::string::npos) << bad.dump();
  // Zero meant "not given" inside, and was taken as the reminder interval without a word.
  auto [s1b, zero] = Http("POST", "/api/v1/incidents/" + id + "/updates",
                          {{"actor", "l1a"}, {"situation", "s"}, {"next", "0s"}});
  EXPECT_EQ(s1b, 400);
  EXPECT_NE(zero.dump().find("1m to 24h, not 0s"), std::string::npos) << zero.dump();
  // An alert that ends before it starts was "no firing alert in the group" (404).
  auto [s1c, backwards] = Http("POST", "/api/v1/incidents",
                               {{"actor", "l1a"},
                                {"alerts",
                                 {{{"labels", {{"alertname", "A"}}},
                                   {"starts_at", "2030-01-01T00:00:00Z"},
                                   {"ends_at", "2020-01-01T00:00:00Z"}}}}});
  EXPECT_EQ(s1c, 400);
  EXPECT_NE(backwards.dump().find("alerts[0]: `ends_at` 2020-01-01T00:00:00Z is before "
                                  "`starts_at` 2030-01-01T00:00:00Z"),
            std::string::npos)
      << backwards.dump();
  // Without a starts_at (now), the answer does not name a time the caller never sent.
  auto [s1d, ended] =
      Http("POST", "/api/v1/incidents",
           {{"actor", "l1a"},
            {"alerts", {{{"labels", {{"alertname", "A"}}}, {"ends_at", "2020-01-01T00:00:00Z"}}}}});
  EXPECT_EQ(s1d, 400);
  EXPECT_NE(ended.dump().find("alerts[0]: `ends_at` 2020-01-01T00:00:00Z is in the past (no "
                              "`starts_at`: now, "),
            std::string::npos)
      << ended.dump();
  auto update = testing::RunCommand(
      {TOCSIN_BINARY, "incidents", "update", id, "--situation", "PSP-A rejects 80 % of DE deposits",
       "--measures", "routing to PSP-B", "--next", "30m", "--actor", "l1a", "--url", url});
  ASSERT_EQ(update.exit_code, 0) << update.err;
  EXPECT_NE(update.out.find(id + ": status update posted"), std::string::npos) << update.out;
  auto [s2, shown] = Http("GET", "/api/v1/incidents/" + id);
  ASSERT_EQ(s2, 200);
  bool found = false;
  for (const auto& e : shown["timeline"]) {
    if (e["kind"] != "status_update") continue;
    found = true;
    EXPECT_NE(e["text"].get<std::string>().find("markets DE; brands casino-main"),
              std::string::npos)
        << e.dump();
  }
  EXPECT_TRUE(found) << shown.dump();

  const std::string scenarios = std::string(TOCSIN_SOURCE_DIR) + "/config/drills.yaml";
  auto unknown = testing::RunCommand({TOCSIN_BINARY, "drill", "start", "--scenario", "nope",
                                      "--scenarios", scenarios, "--url", url});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("known: psp-outage, game-provider-lag, ws-cluster-failure"),
            std::string::npos)
      << unknown.err;
  auto start = testing::RunCommand({TOCSIN_BINARY, "drill", "start", "--scenario", "psp-outage",
                                    "--team", "payments", "--scenarios", scenarios, "--actor",
                                    "l1a", "--url", url, "-o", "json"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto drill = json::parse(start.out)["incident"];
  const std::string drill_id = drill["id"];
  EXPECT_EQ(drill["drill"], true);
  EXPECT_EQ(drill["title"].get<std::string>().rfind("DRILL \u2014 ", 0), 0u) << drill.dump();
  auto refused =
      testing::RunCommand({TOCSIN_BINARY, "drill", "stop", id, "--actor", "l1a", "--url", url});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("is not a drill"), std::string::npos) << refused.err;
  auto stop = testing::RunCommand(
      {TOCSIN_BINARY, "drill", "stop", drill_id, "--actor", "l1a", "--url", url});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  auto [s3, stopped] = Http("GET", "/api/v1/incidents/" + drill_id);
  EXPECT_EQ(stopped["incident"]["state"], "resolved");

  auto report = testing::RunCommand({TOCSIN_BINARY, "report", "drills", "--from", "2000-01-01",
                                     "--to", "2100-01-01", "--database",
                                     dir_.path() + "/data/tocsin.db", "-o", "json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  auto drills = json::parse(report.out);
  ASSERT_EQ(drills.size(), 1u) << report.out;
  EXPECT_EQ(drills[0]["incident_id"], drill_id);
  EXPECT_EQ(drills[0]["scenario"], "psp-outage");
  EXPECT_EQ(drills[0]["team"], "payments");
  EXPECT_EQ(drills[0]["runbook"], "deposit-psp");
  EXPECT_EQ(drills[0]["state"], "stopped");
}

}  // namespace
}  // namespace tocsin::incident
