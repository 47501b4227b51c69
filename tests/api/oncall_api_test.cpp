// The panel's on-call API on the real HTTP server (loopback) over a real SQLite override store:
// now and next, the calendar, the roster check, and overrides that the fairness rules accept
// or refuse field by field, stored durably with who added them.
#include "tocsin/api/oncall_api.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "support/loopback_server.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/store/sqlite_override_store.h"

namespace tocsin::oncall {
namespace {

using json = nlohmann::json;

// Kyiv is UTC+2 in November: shifts run 06:00-18:00 and 18:00-06:00 UTC. e shadows a.
constexpr const char* kRoster = R"(
people:
  a: {name: Anna, time_zone: Europe/Kyiv}
  b: {name: Bohdan, time_zone: Europe/Kyiv}
  c: {name: Chrystia, time_zone: Europe/Kyiv}
  d: {name: Dmytro, time_zone: Europe/Kyiv}
  e: {name: Eva, time_zone: Europe/Kyiv}
  f: {name: Fedir, time_zone: Europe/Kyiv}
  g: {name: Halyna, time_zone: Europe/Kyiv}
teams:
  payments: {members: [a, b, c, d, e, f, g]}
rotations:
  l1: {role: l1, team: payments, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b, c, d, f, g]}
shadows:
  - {newcomer: e, buddy: a, from: 2026-11-01, to: 2026-12-01}
)";

class OncallApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::Diagnostics diags;
    auto roster = LoadRosterString("roster.yaml", kRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    roster_ = *roster;
    schedule_ = std::make_shared<const Schedule>(roster_);
    OpenStore();
    StartServer();
  }
  void OpenStore() {
    auto db = store::Database::Open(dir_.path() + "/tocsin.db");
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate(store::SqliteOverrideStore::Migrations()));
    store_ = std::make_unique<store::SqliteOverrideStore>(*db_);
  }
  void StartServer() {
    auto router = dispatch::testutil::RouterForEveryCaller();
    OncallApiDeps deps;
    deps.schedule = [this] { return schedule_; };
    deps.overrides = &counted_;
    // As the daemon does: the added override goes on top of the roster file, and is kept.
    auto loaded = store_->LoadAll();
    ASSERT_TRUE(loaded);
    recorded_ = *loaded;
    deps.recorded = [this]() -> const std::vector<RecordedOverride>& { return recorded_; };
    deps.on_added = [this](const RecordedOverride& added) {
      recorded_.push_back(added);
      Roster r = schedule_->roster();
      r.overrides.push_back(added.override);
      schedule_ = std::make_shared<const Schedule>(std::move(r));
    };
    deps.refuse_changes = [this] { return refusal_; };
    adder_ = RegisterOncallApi(*router, std::move(deps), scheduler_.clock());
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  HttpClientResponse Call(const std::string& method, const std::string& path,
                          const std::string& body = {}) {
    return server_->Call(client_, method, path, body);
  }
  json Get(const std::string& path, int status = 200) {
    auto r = Call("GET", path);
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json Post(const json& body, int status) {
    auto r = Call("POST", "/api/v1/oncall/overrides", body.dump());
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // The messages of the errors about `field`.
  static std::vector<std::string> ErrorsOf(const json& answer, const std::string& field) {
    std::vector<std::string> out;
    for (const auto& e : answer["errors"]) {
      if (e["field"] == field) out.push_back(e["message"].get<std::string>());
    }
    return out;
  }

  std::optional<std::string> refusal_;  // what refuse_changes answers (a standby's reason)
  testing::TempDir dir_;
  // 10 November 2026, 12:00 in Kyiv: the day shift since 08:00 local.
  SimulatedScheduler scheduler_{ParseTime("2026-11-10T10:00:00Z").value()};
  Roster roster_;
  std::shared_ptr<const Schedule> schedule_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOverrideStore> store_;
  // The real store, counting the whole-table reads.
  class CountingOverrideStore final : public OverrideStore {
   public:
    explicit CountingOverrideStore(OncallApiTest& t) : t_(t) {}
    void Add(RecordedOverride entry, Done done) override {
      if (hold) {
        held.emplace_back(std::move(entry), std::move(done));
        return;
      }
      t_.store_->Add(std::move(entry), std::move(done));
    }
    // While set, an add waits in `held` (a store thread that has not committed yet).
    bool hold = false;
    std::vector<std::pair<RecordedOverride, Done>> held;
    Result<std::vector<RecordedOverride>> LoadAll() override {
      ++loads;
      return t_.store_->LoadAll();
    }
    int loads = 0;

   private:
    OncallApiTest& t_;
  } counted_{*this};
  std::vector<RecordedOverride> recorded_;
  OverrideAdder adder_;  // what the POST does, as a standby's forwarded override reaches it
  prometheus::Registry registry_;
  std::unique_ptr<testing::LoopbackServer> server_;
  CurlHttpClient client_;
};

TEST_F(OncallApiTest, NowAndNextPerRotationWithZoneAndShadows) {
  auto holder = schedule_->WhoHolds("l1", scheduler_.clock().Now());
  ASSERT_EQ(holder.size(), 1u);
  auto j = Get("/api/v1/oncall/now");
  ASSERT_EQ(j["rotations"].size(), 1u);
  const auto& l1 = j["rotations"][0];
  EXPECT_EQ(l1["team"], "payments");
  EXPECT_EQ(l1["time_zones"], json::array({"Europe/Kyiv"}));
  ASSERT_EQ(l1["now"].size(), 1u);
  EXPECT_EQ(l1["now"][0]["person"], holder[0]);
  EXPECT_EQ(l1["now"][0]["start"], "2026-11-10T06:00:00Z");
  EXPECT_EQ(l1["now"][0]["start_local"], "2026-11-10 08:00 EET");
  ASSERT_EQ(l1["next"].size(), 1u);
  EXPECT_EQ(l1["next"][0]["start"], "2026-11-10T18:00:00Z");
  EXPECT_NE(l1["next"][0]["person"], holder[0]);
  // Whoever holds it, a's shifts carry e's shadow and the others none.
  for (const auto& s : {l1["now"][0], l1["next"][0]}) {
    EXPECT_EQ(s["shadows"].size(), s["person"] == "a" ? 1u : 0u) << s.dump();
  }
  EXPECT_EQ(Get("/api/v1/oncall/now?team=search")["rotations"].size(), 0u);
  ASSERT_EQ(j["people"].size(), 7u);
  EXPECT_EQ(j["people"][0], (json{{"id", "a"}, {"name", "Anna"}, {"time_zone", "Europe/Kyiv"}}));
}

TEST_F(OncallApiTest, CalendarRangeListsEveryShiftAndRefusesTooLongARange) {
  auto week = Get("/api/v1/oncall/shifts?from=2026-11-09T06:00:00Z&to=2026-11-16T06:00:00Z");
  ASSERT_EQ(week["shifts"].size(), 14u);  // two 12-hour shifts a day
  EXPECT_EQ(week["shifts"][0]["start"], "2026-11-09T06:00:00Z");
  EXPECT_EQ(week["shifts"][0]["end"], "2026-11-09T18:00:00Z");
  auto bad = Get("/api/v1/oncall/shifts?from=2026-11-01T00:00:00Z&to=2027-03-01T00:00:00Z", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("at most 93 days"), std::string::npos);
  auto garbage = Get("/api/v1/oncall/shifts?from=yesterday", 400);
  EXPECT_NE(garbage["error"].get<std::string>().find("from: \"yesterday\""), std::string::npos);
}

TEST_F(OncallApiTest, FindingsAreTheRosterCheck) {
  EXPECT_EQ(Get("/api/v1/oncall/findings")["findings"].size(), 0u);
  auto bad = Get("/api/v1/oncall/findings?weeks=0", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("weeks"), std::string::npos);
}

TEST_F(OncallApiTest, CoverIsStoredWithItsActorAndTakesEffect) {
  auto holder = schedule_->WhoHolds("l1", scheduler_.clock().Now()).at(0);
  std::string cover = holder == "c" ? "d" : "c";
  // Local times, as in the roster file: the rest of today's day shift.
  auto added = Post({{"type", "cover"},
                     {"rotation", "l1"},
                     {"from", "2026-11-10T12:00"},
                     {"to", "2026-11-10T20:00"},
                     {"person", cover},
                     {"replaces", holder},
                     {"reason", "dentist"},
                     {"actor", "olena"}},
                    201);
  EXPECT_EQ(added["override"]["created_by"], "olena");
  EXPECT_EQ(added["override"]["from"], "2026-11-10T10:00:00Z");
  auto now = Get("/api/v1/oncall/now")["rotations"][0]["now"][0];
  EXPECT_EQ(now["person"], cover);
  EXPECT_EQ(now["override"], "dentist");
  auto listed = Get("/api/v1/oncall/overrides")["overrides"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["created_by"], "olena");
  // Regression: every GET read the whole overrides table on the loop; it answers from memory.
  EXPECT_EQ(counted_.loads, 0);
  // Durable: a store opened afresh on the same file has it.
  server_.reset();
  store_.reset();
  db_.reset();
  OpenStore();
  auto stored = store_->LoadAll();
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].override.person, cover);
  EXPECT_EQ((*stored)[0].override.reason, "dentist");
  EXPECT_EQ((*stored)[0].created_by, "olena");
}

TEST_F(OncallApiTest, AStandbyRefusesAnOverrideWithItsReasonAndStoresNothing) {
  refusal_ = "tocsin instance b is a standby: try the active instance";
  auto holder = schedule_->WhoHolds("l1", scheduler_.clock().Now()).at(0);
  auto refused = Post({{"type", "cover"},
                       {"rotation", "l1"},
                       {"from", "2026-11-10T12:00"},
                       {"to", "2026-11-10T20:00"},
                       {"person", holder == "c" ? "d" : "c"},
                       {"actor", "olena"}},
                      503);
  EXPECT_NE(refused.dump().find("is a standby"), std::string::npos) << refused;
  auto stored = store_->LoadAll();
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->empty());
  EXPECT_EQ(schedule_->WhoHolds("l1", scheduler_.clock().Now()).at(0), holder);
}

// The same override asked twice by one person (a form sent twice, two forwarded requests in
// one batch of the active): the second, while the first is being stored, is refused 409; once
// stored, it is answered with the one recorded. One row either way.
TEST_F(OncallApiTest, TheSameOverrideAskedTwiceIsStoredOnce) {
  auto holder = schedule_->WhoHolds("l1", scheduler_.clock().Now()).at(0);
  const json body = {{"type", "cover"},
                     {"rotation", "l1"},
                     {"from", "2026-11-10T12:00"},
                     {"to", "2026-11-10T20:00"},
                     {"person", holder == "c" ? "d" : "c"},
                     {"replaces", holder}};
  std::vector<Result<std::string>> answers;
  auto answer = [&](Result<std::string> r) { answers.push_back(std::move(r)); };
  auto status_of = [](const Result<std::string>& r) {
    return json::parse(r ? *r : r.error().message())["status"].get<int>();
  };
  counted_.hold = true;
  adder_(body, "olena", scheduler_.clock().Now(), answer);
  adder_(body, "olena", scheduler_.clock().Now(), answer);
  ASSERT_EQ(answers.size(), 1u) << "the second is answered at once";
  ASSERT_FALSE(answers[0]);
  EXPECT_EQ(status_of(answers[0]), 409);
  EXPECT_NE(answers[0].error().message().find("being stored already"), std::string::npos);
  ASSERT_EQ(counted_.held.size(), 1u);
  counted_.hold = false;
  auto [entry, done] = std::move(counted_.held[0]);
  store_->Add(std::move(entry), std::move(done));
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[1]) << answers[1].error().message();
  EXPECT_EQ(status_of(answers[1]), 201);
  adder_(body, "olena", scheduler_.clock().Now(), answer);
  ASSERT_EQ(answers.size(), 3u);
  ASSERT_TRUE(answers[2]);
  EXPECT_EQ(status_of(answers[2]), 200);
  EXPECT_EQ(store_->LoadAll().value().size(), 1u);
}

TEST_F(OncallApiTest, OverrideBreakingAFairnessRuleIsRefusedAtItsFieldAndNotStored) {
  // Three days in a row for b: far longer than a 12-hour shift, three nights in a row.
  auto answer = Post({{"rotation", "l1"},
                      {"from", "2026-11-11T08:00"},
                      {"to", "2026-11-14T08:00"},
                      {"person", "b"},
                      {"actor", "olena"}},
                     422);
  auto person = ErrorsOf(answer, "person");
  ASSERT_FALSE(person.empty()) << answer.dump();
  std::set<std::string> rules;
  for (const auto& e : answer["errors"]) rules.insert(e.value("rule", ""));
  EXPECT_TRUE(rules.count("max-shift-length")) << answer.dump();
  EXPECT_TRUE(rules.count("max-consecutive-nights")) << answer.dump();
  EXPECT_NE(answer["error"].get<std::string>().find("nothing was changed"), std::string::npos);
  auto stored = store_->LoadAll();
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->empty());
}

// Regression: a cover splitting someone's over-long shift changed the wording of that
// person's existing finding, which was then taken for a new one and the cover refused.
TEST_F(OncallApiTest, CoverThatShortensAnExistingOverLongShiftIsAccepted) {
  config::Diagnostics diags;
  auto roster = LoadRosterString("roster.yaml", R"(
people:
  a: {name: Anna, time_zone: UTC}
  b: {name: Bohdan, time_zone: UTC}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [a]}
)",
                                 diags);
  ASSERT_TRUE(roster) << diags.ToString();
  schedule_ = std::make_shared<const Schedule>(*roster);
  ASSERT_FALSE(Get("/api/v1/oncall/findings")["findings"].empty());  // a never stops
  Post({{"rotation", "l1"},
        {"from", "2026-11-10T12:00"},
        {"to", "2026-11-10T16:00"},
        {"person", "b"},
        {"actor", "olena"}},
       201);
}

TEST_F(OncallApiTest, BadFieldsAreEachNamed) {
  auto answer = Post({{"type", "swap"},
                      {"rotation", "l1"},
                      {"from", "2026-11-12T08:00"},
                      {"to", "2026-11-11T08:00"},
                      {"person", "zed"},
                      {"actor", "olena"}},
                     400);
  EXPECT_EQ(ErrorsOf(answer, "person"),
            std::vector<std::string>{"no person \"zed\" in the roster"});
  EXPECT_EQ(ErrorsOf(answer, "to"), std::vector<std::string>{"must be after from"});
  EXPECT_EQ(ErrorsOf(answer, "with").size(), 1u);  // a swap needs someone to swap with
  auto no_rotation = Post({{"rotation", "l9"}, {"actor", "olena"}}, 400);
  EXPECT_EQ(ErrorsOf(no_rotation, "rotation"),
            std::vector<std::string>{"no rotation \"l9\" in the roster"});
  EXPECT_EQ(ErrorsOf(no_rotation, "from").size(), 1u);
  auto past = Post({{"rotation", "l1"},
                    {"from", "2026-11-01T08:00"},
                    {"to", "2026-11-01T20:00"},
                    {"person", "b"},
                    {"actor", "olena"}},
                   400);
  EXPECT_EQ(ErrorsOf(past, "to"), std::vector<std::string>{"is in the past: nothing to change"});
  // Fifty years would hold the loop for seconds in the fairness check: refused before it.
  auto decades = Post({{"rotation", "l1"},
                       {"from", "2027-02-01T08:00"},
                       {"to", "2077-02-01T08:00"},
                       {"person", "b"},
                       {"actor", "olena"}},
                      400);
  EXPECT_EQ(ErrorsOf(decades, "to"),
            std::vector<std::string>{"is more than 366 days after from: an override covers at "
                                     "most a year; for longer, change the roster file"});
  // A member of another type is named as such, not read as missing or as a cover.
  auto typed = Post({{"type", 1},
                     {"rotation", "l1"},
                     {"from", 1795000000},
                     {"to", "2027-02-01T20:00"},
                     {"person", "b"},
                     {"actor", "olena"}},
                    400);
  EXPECT_EQ(ErrorsOf(typed, "type"), std::vector<std::string>{"must be a string"});
  EXPECT_EQ(ErrorsOf(typed, "from"), std::vector<std::string>{"must be a string"});
  auto anonymous = Call("POST", "/api/v1/oncall/overrides", R"({"rotation":"l1"})");
  EXPECT_EQ(anonymous.status, 400);
  EXPECT_NE(anonymous.body.find("actor"), std::string::npos);
}

}  // namespace
}  // namespace tocsin::oncall
