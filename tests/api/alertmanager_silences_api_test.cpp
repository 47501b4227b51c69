// Silences through the Alertmanager API v2 on the real HTTP server, as amtool and the panel
// use them: create, list, get, expire, filter, update, and what is refused with which reason.
#include "api/alertmanager_api_fixture.h"
#include "api/alertmanager_json.h"

namespace tocsin::dispatch {
namespace {

using am_api_test::AlertmanagerApiTest;
using am_api_test::json;
using namespace std::chrono_literals;

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
// Attack finding: a responder token (Olena's) posted a silence with createdBy "ihor", and
// nothing tied the silence to the token that made it. The token's person now follows an
// author that is not theirs (and the change is logged with it).
TEST(SilenceAuthorTest, TheTokensPersonFollowsAnAuthorThatIsNotTheirs) {
  EXPECT_EQ(amjson::SilenceAuthor("ihor", "olena"), "ihor (via olena)");
  EXPECT_EQ(amjson::SilenceAuthor("olena", "olena"), "olena");
  EXPECT_EQ(amjson::SilenceAuthor("", "olena"), "olena");
  EXPECT_EQ(amjson::SilenceAuthor("grafana-user", "token:grafana"),
            "grafana-user (via token:grafana)");
  // An update that posts back what GET answered is not noted twice.
  EXPECT_EQ(amjson::SilenceAuthor("ihor (via olena)", "olena"), "ihor (via olena)");
  // Without a token (a loopback caller of a daemon without tokens) nothing is known to add.
  EXPECT_EQ(amjson::SilenceAuthor("ihor", ""), "ihor");
}

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

}  // namespace
}  // namespace tocsin::dispatch
