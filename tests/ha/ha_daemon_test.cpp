// Two real `tocsin serve` processes on one PostgreSQL store (the CTest fixture `pg`): exactly
// one is active; the active paused by SIGSTOP past its lease steps down when it resumes (exit
// 75) while the other has taken over under a new epoch; kill -9 of the active hands the lease
// to the standby within lease + lease/3. The tests poll with deadlines; nothing sleeps.
#include <signal.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace tocsin::ha {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kLeaseSeconds = 3;

struct Role {
  std::string role;
  std::int64_t epoch = -1;
};

std::optional<Role> RoleOf(unsigned short port) {
  std::string answer = testing::RawExchange(
      port, "GET /api/v1/ha HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 1000);
  auto body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return std::nullopt;
  auto j = nlohmann::json::parse(answer.substr(body + 4), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return Role{j.value("role", ""), j.value("epoch", std::int64_t{-1})};
}

class HaDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::TestStore::Create(store::Dialect::kPostgres);
    ASSERT_TRUE(store_ != nullptr);
    config_ = dir_.path() + "/tocsin.yaml";
    std::ofstream(config_) << "server: {listen: \"127.0.0.1:0\"}\n"
                              "log: {level: info}\n"
                              "ha: {cluster_name: test, lease: "
                           << kLeaseSeconds << "s}\n";
  }

  struct Instance {
    std::unique_ptr<testing::Process> process;
    unsigned short port = 0;
    std::string log;
  };

  Instance Start(const std::string& name) {
    Instance i;
    i.port = testing::FreePort();
    i.log = dir_.path() + "/" + name + ".log";
    i.process = std::make_unique<testing::Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config_, "--instance", name,
                                 "--listen", "127.0.0.1:" + std::to_string(i.port), "--data-dir",
                                 dir_.path() + "/data-" + name},
        std::vector<std::string>{"TOCSIN_STORE_URL=" + store_->url().ToString(),
                                 "TOCSIN_STORE_PASSWORD=" + store_->url().password},
        i.log);
    EXPECT_TRUE(testing::WaitForPort(i.port, seconds(30))) << Log(i);
    return i;
  }

  // "a", active once it has read the lease, then "b", a standby.
  void StartActiveAndStandby(Instance& a, Instance& b) {
    a = Start("a");
    ASSERT_TRUE(WaitForRole(a.port, "active", seconds(15))) << Log(a);
    b = Start("b");
    ASSERT_TRUE(WaitForRole(b.port, "standby", seconds(15))) << Log(b);
  }

  // The configuration of the tests that page: `roster` and a one-step ladder to its L1.
  void UseRoster(const std::string& roster) {
    std::ofstream(dir_.path() + "/roster.yaml") << roster;
    std::ofstream(config_) << "server: {listen: \"127.0.0.1:0\"}\n"
                              "log: {level: info}\n"
                              "roster_file: roster.yaml\n"
                              "escalation_policies:\n"
                              "  default:\n"
                              "    steps: [{after: 0s, targets: [{role: l1}]}]\n"
                              "ha: {cluster_name: test, lease: "
                           << kLeaseSeconds << "s, forward_timeout: 1s}\n";
  }

  // Status and body of a POST of `body` as JSON.
  static std::pair<int, std::string> Post(unsigned short port, const std::string& path,
                                          const nlohmann::json& body) {
    const std::string text = body.dump();
    std::string raw = testing::RawExchange(
        port,
        "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
            "\r\n\r\n" + text,
        10000);
    return std::make_pair(testing::StatusOf(raw), testing::BodyOf(raw));
  }

  static std::pair<int, std::string> Get(unsigned short port, const std::string& path) {
    std::string raw = testing::RawExchange(
        port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 10000);
    return std::make_pair(testing::StatusOf(raw), testing::BodyOf(raw));
  }

  static std::string Log(const Instance& i) {
    std::ifstream in(i.log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // Polls until `port` reports `role` having read the lease; returns it, or nullopt at the
  // deadline.
  static std::optional<Role> WaitForRole(unsigned short port, const std::string& role,
                                         Clock::duration within) {
    auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      // Epoch 0: the instance has not read the lease yet.
      if (auto r = RoleOf(port); r && r->role == role && r->epoch > 0) return r;
      std::this_thread::sleep_for(milliseconds(100));  // the poll interval, not a timer wait
    }
    return std::nullopt;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TestStore> store_;
  std::string config_;
};

TEST_F(HaDaemonTest, OneActivePausedActiveStepsDownAndKillNineFailsOverWithinTheLease) {
  Instance a = Start("a");
  auto first = WaitForRole(a.port, "active", seconds(15));
  ASSERT_TRUE(first) << Log(a);
  Instance b = Start("b");
  auto standby = WaitForRole(b.port, "standby", seconds(15));
  ASSERT_TRUE(standby) << Log(b);
  EXPECT_EQ(standby->epoch, first->epoch);
  EXPECT_EQ(RoleOf(a.port)->role, "active");

  // SIGSTOP the active past its lease: the standby takes over under a new epoch.
  ASSERT_TRUE(a.process->Signal(SIGSTOP));
  auto took = WaitForRole(b.port, "active", seconds(4 * kLeaseSeconds));
  ASSERT_TRUE(took) << Log(b);
  EXPECT_EQ(took->epoch, first->epoch + 1);
  // Resumed, the old active steps down by its own clock and exits for a clean restart.
  ASSERT_TRUE(a.process->Signal(SIGCONT));
  auto code = a.process->Wait(seconds(10));
  ASSERT_TRUE(code.has_value()) << Log(a);
  EXPECT_EQ(*code, 75) << Log(a);
  EXPECT_NE(Log(a).find("STEPS DOWN"), std::string::npos) << Log(a);
  EXPECT_EQ(RoleOf(b.port)->role, "active");

  // Restarted, it is a standby; kill -9 of the active hands the lease over.
  Instance a2 = Start("a");
  ASSERT_TRUE(WaitForRole(a2.port, "standby", seconds(15))) << Log(a2);
  ASSERT_TRUE(b.process->Signal(SIGKILL));
  auto killed_at = Clock::now();
  auto again = WaitForRole(a2.port, "active", seconds(4 * kLeaseSeconds));
  ASSERT_TRUE(again) << Log(a2);
  EXPECT_EQ(again->epoch, took->epoch + 1);
  // At most lease + lease/3 + the time to start paging; generous for a loaded machine.
  EXPECT_LT(Clock::now() - killed_at, seconds(kLeaseSeconds + kLeaseSeconds / 3 + 4));
  EXPECT_NE(Log(a2).find("role change: instance *a* is now the active instance"), std::string::npos)
      << Log(a2);
}

// Every instance is useful: an ack, a note, a refusal, a silence and its expiry asked of the
// standby are carried to the active through the database and answered with the active's
// result (an ack within a second); a
// change asked while no instance is active is withdrawn and answered "nothing was changed",
// and it is indeed never applied.
TEST_F(HaDaemonTest, TheStandbyPassesAcksToTheActiveAndSaysWhenNobodyTookOne) {
  UseRoster(R"(
people:
  l1a: {name: L1 Day, time_zone: UTC}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [l1a]}
)");
  Instance a, b;
  ASSERT_NO_FATAL_FAILURE(StartActiveAndStandby(a, b));
  auto post = &Post;
  auto [opened, created] = post(a.port, "/api/v1/incidents",
                                {{"actor", "l1a"},
                                 {"title", "Deposit success 97.2 % at PSP-A"},
                                 {"labels", {{"domain", "payments"}}},
                                 {"severity", "critical"}});
  ASSERT_EQ(opened, 201) << created;

  const auto asked = Clock::now();
  auto [acked, ack_body] = post(b.port, "/api/v1/incidents/INC-1/ack", {{"actor", "l1a"}});
  const auto took = Clock::now() - asked;
  ASSERT_EQ(acked, 200) << ack_body << Log(b);
  EXPECT_EQ(nlohmann::json::parse(ack_body)["incident"]["state"], "acknowledged") << ack_body;
  EXPECT_LT(took, seconds(1)) << "the active polls every 200 ms";
  auto [noted, note_body] = post(b.port, "/api/v1/incidents/INC-1/note",
                                 {{"actor", "l1a"}, {"text", "PSP A answers 504"}});
  EXPECT_EQ(noted, 200) << note_body;
  // The active's refusal, word for word, with its status.
  auto [refused, refusal] = post(b.port, "/api/v1/incidents/INC-1/ack", {{"actor", "nobody"}});
  EXPECT_TRUE(refused == 401 || refused == 403) << refused << " " << refusal;
  EXPECT_NE(refusal.find("not a person of the roster"), std::string::npos) << refusal;
  std::string on_active = testing::BodyOf(testing::RawExchange(
      a.port,
      "GET /api/v1/incidents/INC-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(on_active.find("acknowledged by l1a via api"), std::string::npos) << on_active;
  EXPECT_NE(on_active.find("PSP A answers 504"), std::string::npos) << on_active;
  EXPECT_NE(Log(a).find("forwarded by standby b"), std::string::npos) << Log(a);

  // A silence set and expired through the standby (amtool pointed at it, or the panel): the
  // active mutes with it, and both instances list it as the active wrote it.
  auto get = &Get;
  auto state_of = [&](unsigned short port, const std::string& id) -> std::string {
    auto [status, body] = get(port, "/api/v2/silence/" + id);
    if (status != 200) return "HTTP " + std::to_string(status) + " " + body;
    return nlohmann::json::parse(body)["status"]["state"].get<std::string>();
  };
  auto [silenced, silence_body] =
      post(b.port, "/api/v2/silences",
           {{"matchers", {{{"name", "psp"}, {"value", "A"}, {"isRegex", false}}}},
            {"startsAt", "2026-01-01T00:00:00Z"},
            {"endsAt", "2099-01-01T00:00:00Z"},
            {"createdBy", "l1a"},
            {"comment", "PSP-A maintenance window"}});
  ASSERT_EQ(silenced, 200) << silence_body << Log(b);
  const std::string silence_id = nlohmann::json::parse(silence_body)["silenceID"];
  EXPECT_EQ(state_of(a.port, silence_id), "active");
  EXPECT_EQ(state_of(b.port, silence_id), "active");
  EXPECT_NE(Log(a).find(R"(applying silence upsert (new) by "l1a", forwarded by standby b)"),
            std::string::npos)
      << Log(a);
  std::string deleted =
      testing::RawExchange(b.port,
                           "DELETE /api/v2/silence/" + silence_id +
                               " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                           10000);
  EXPECT_EQ(testing::StatusOf(deleted), 200) << deleted;
  EXPECT_EQ(state_of(a.port, silence_id), "expired");
  EXPECT_EQ(state_of(b.port, silence_id), "expired");

  // A reload keeps the instance's name (given by --instance, absent from the file): the
  // takeover below announces it.
  ASSERT_TRUE(b.process->Signal(SIGHUP));
  for (auto until = Clock::now() + seconds(10);
       Log(b).find("config reloaded from") == std::string::npos && Clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(100));  // polling the log, not a timer wait
  }
  ASSERT_NE(Log(b).find("config reloaded from"), std::string::npos) << Log(b);

  // No active instance: the note is withdrawn after forward_timeout and never applied.
  ASSERT_TRUE(a.process->Signal(SIGKILL));
  a.process->Wait(seconds(5));
  auto [lost, lost_body] = post(b.port, "/api/v1/incidents/INC-1/note",
                                {{"actor", "l1a"}, {"text", "asked while nobody was active"}});
  EXPECT_EQ(lost, 503) << lost_body;
  EXPECT_NE(lost_body.find("nothing was changed"), std::string::npos) << lost_body;
  ASSERT_TRUE(WaitForRole(b.port, "active", seconds(4 * kLeaseSeconds))) << Log(b);
  std::string after = testing::BodyOf(testing::RawExchange(
      b.port,
      "GET /api/v1/incidents/INC-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(after.find("PSP A answers 504"), std::string::npos) << after;
  EXPECT_EQ(after.find("asked while nobody was active"), std::string::npos) << after;
  EXPECT_NE(Log(b).find("instance *b* is now the active instance"), std::string::npos) << Log(b);
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

// The rest of what a person asks a standby for: an on-call override (checked by the active,
// its refusals word for word), an incident opened by hand, a drill and a post-mortem record.
// And an override added on the active just before it dies is in force on the instance that
// takes over: its ladders page the person the override put on call.
TEST_F(HaDaemonTest, TheStandbyPassesOverridesOpensAndDrillsAndTheNextActiveKeepsTheOverrides) {
  UseRoster(R"(
people:
  l1a: {name: L1 Day, time_zone: UTC}
  l1b: {name: L1 Cover, time_zone: UTC}
  l1c: {name: L1 Second Cover, time_zone: UTC}
  dm: {name: Duty Manager, time_zone: UTC}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [l1a]}
  dm: {role: duty_manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [dm]}
)");
  Instance a, b;
  ASSERT_NO_FATAL_FAILURE(StartActiveAndStandby(a, b));
  auto post = &Post;
  auto get = [](unsigned short port, const std::string& path) {
    return nlohmann::json::parse(Get(port, path).second);
  };
  auto l1_now = [&](unsigned short port) {
    auto answer = get(port, "/api/v1/oncall/now");
    for (const auto& r : answer["rotations"]) {
      if (r["rotation"] != "l1") continue;
      std::string people;
      for (const auto& shift : r["now"])
        people += (people.empty() ? "" : ",") + shift["person"].get<std::string>();
      return people;
    }
    return answer.dump();
  };
  const auto now = std::chrono::system_clock::now();
  const nlohmann::json cover = {{"type", "cover"},
                                {"rotation", "l1"},
                                {"person", "l1b"},
                                {"replaces", "l1a"},
                                {"from", Rfc3339(now - std::chrono::minutes(1))},
                                {"to", Rfc3339(now + std::chrono::hours(2))},
                                {"reason", "l1a is ill"},
                                {"actor", "dm"}};
  ASSERT_EQ(l1_now(b.port), "l1a");
  auto [added, added_body] = post(b.port, "/api/v1/oncall/overrides", cover);
  ASSERT_EQ(added, 201) << added_body << Log(b);
  const auto id = nlohmann::json::parse(added_body)["override"]["id"];
  EXPECT_EQ(l1_now(a.port), "l1b") << "in force on the active";
  EXPECT_EQ(l1_now(b.port), "l1b") << "and read again by the standby before it answered";
  EXPECT_NE(Log(a).find("applying an on-call override by dm, forwarded by standby b"),
            std::string::npos)
      << Log(a);
  // Sent twice: the one recorded, nothing stored twice.
  auto [again, again_body] = post(b.port, "/api/v1/oncall/overrides", cover);
  EXPECT_EQ(again, 200) << again_body;
  EXPECT_EQ(nlohmann::json::parse(again_body)["override"]["id"], id) << again_body;
  EXPECT_EQ(get(a.port, "/api/v1/oncall/overrides")["overrides"].size(), 1u);
  // The active's refusal, with its status and each field.
  nlohmann::json unknown = cover;
  unknown["person"] = "nobody";
  auto [refused, refusal] = post(b.port, "/api/v1/oncall/overrides", unknown);
  EXPECT_EQ(refused, 400) << refusal;
  auto errors = nlohmann::json::parse(refusal)["errors"];
  ASSERT_EQ(errors.size(), 1u) << refusal;
  EXPECT_EQ(errors[0]["field"], "person");
  EXPECT_EQ(errors[0]["message"], "no person \"nobody\" in the roster");

  // Opened by hand through the standby: the active opens it and pages the override's person.
  auto [opened, opened_body] = post(b.port, "/api/v1/incidents",
                                    {{"actor", "dm"},
                                     {"title", "Deposit success 97.2 % at PSP-A"},
                                     {"labels", {{"domain", "payments"}}},
                                     {"severity", "critical"}});
  ASSERT_EQ(opened, 201) << opened_body << Log(b);
  EXPECT_EQ(nlohmann::json::parse(opened_body)["incident"]["id"], "INC-1") << opened_body;
  auto inc = get(a.port, "/api/v1/incidents/INC-1");
  EXPECT_EQ(inc["incident"]["paged"], nlohmann::json::array({"l1b"})) << inc.dump();
  auto [drilled, drill_body] = post(b.port, "/api/v1/drills",
                                    {{"actor", "dm"},
                                     {"scenario", "psp-down"},
                                     {"team", "payments"},
                                     {"alerts", {{{"labels", {{"alertname", "PspDown"}}}}}}});
  ASSERT_EQ(drilled, 201) << drill_body;
  EXPECT_EQ(nlohmann::json::parse(drill_body)["incident"]["drill"], true) << drill_body;
  auto [recorded, recorded_body] = post(b.port, "/api/v1/incidents/INC-1/postmortem",
                                        {{"actor", "dm"}, {"url", "https://wiki.example/pm/1"}});
  EXPECT_EQ(recorded, 200) << recorded_body;
  EXPECT_NE(get(a.port, "/api/v1/incidents/INC-1").dump().find("post-mortem recorded"),
            std::string::npos);

  // A second override, added on the active itself, then the active dies at once: the standby
  // takes over with it in force (it reads the overrides when it takes the lease, whether or
  // not its periodic read came in between).
  nlohmann::json second = cover;
  second["person"] = "l1c";
  second["replaces"] = "l1b";
  auto [direct, direct_body] = post(a.port, "/api/v1/oncall/overrides", second);
  ASSERT_EQ(direct, 201) << direct_body;
  ASSERT_TRUE(a.process->Signal(SIGKILL));
  a.process->Wait(seconds(5));
  ASSERT_TRUE(WaitForRole(b.port, "active", seconds(4 * kLeaseSeconds))) << Log(b);
  auto [after, after_body] = post(b.port, "/api/v1/incidents",
                                  {{"actor", "dm"},
                                   {"title", "Game launches failing"},
                                   {"labels", {{"domain", "games"}}},
                                   {"severity", "critical"}});
  ASSERT_EQ(after, 201) << after_body << Log(b);
  const std::string next = nlohmann::json::parse(after_body)["incident"]["id"];
  EXPECT_EQ(get(b.port, "/api/v1/incidents/" + next)["incident"]["paged"],
            nlohmann::json::array({"l1c"}));
}

// SQLite: one instance, always active, no lease; amtool sees no cluster.
TEST(HaSingleInstance, SqliteIsAlwaysActiveAndNamesItself) {
  testing::TempDir dir;
  const std::string config = dir.path() + "/tocsin.yaml";
  std::ofstream(config) << "server: {listen: \"127.0.0.1:0\"}\nha: {cluster_name: solo}\n";
  const unsigned short port = testing::FreePort();
  testing::Process p(
      {TOCSIN_BINARY, "serve", "--config", config, "--instance", "only-one", "--listen",
       "127.0.0.1:" + std::to_string(port), "--data-dir", dir.path() + "/data"},
      {}, dir.path() + "/serve.log");
  ASSERT_TRUE(testing::WaitForPort(port, seconds(30)));
  std::string answer = testing::RawExchange(
      port, "GET /api/v1/ha HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  auto j = nlohmann::json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
  EXPECT_EQ(j["instance"], "only-one");
  EXPECT_EQ(j["cluster"], "solo");
  EXPECT_EQ(j["role"], "active");
  EXPECT_EQ(j["store"], "sqlite");
  EXPECT_EQ(j["epoch"], 0);
  EXPECT_TRUE(j["peers"].empty());
  answer = testing::RawExchange(
      port, "GET /api/v2/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  auto status = nlohmann::json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
  // As Alertmanager with clustering off: no name (the conformance test compares the two).
  EXPECT_FALSE(status["cluster"].contains("name"));
  EXPECT_EQ(status["cluster"]["status"], "disabled");
}

}  // namespace
}  // namespace tocsin::ha
