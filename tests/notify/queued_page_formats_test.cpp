// Every form a queued page was ever stored in still loads, through the real stores on a real
// SQLite database: rows are written with raw SQL exactly as released versions wrote them.
// The outbox's first form numbered its enums by position; the incident store's first form had
// names but RFC 3339 times (and, before page intents kept their origin, no "origin").
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "notify_fixtures.h"
#include "support/temp_dir.h"
#include "tocsin/incident/page_json.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::notify {
namespace {

using incident::Channel;
using incident::PageAction;
using incident::PageRequest;
using testing::Olena;
using testing::T0;

// As the outbox's version 1 wrote it: action 0 = trigger, sev 1, channels 3 and 2 = email and
// slack, alert state 2 = firing, kind 1 = symptom, severity 0 = critical.
constexpr const char* kOutboxV1Trigger = R"({"v":1,"incident_id":"INC-7","dedup_key":"tocsin/INC-7",
"idempotency_key":"INC-7/step-1/trigger","action":0,"step":0,"sev":1,"title":"Deposits failing",
"state":"triggered","targets":[{"person":{"id":"olena","name":"Olena Kovalenko",
"time_zone":"Europe/Kyiv","slack_user_id":"U024BE7LH","pagerduty_user_id":"PXPGF42",
"opsgenie_username":"olena@example.com","email":"olena@example.com","phone":""},"role":"l1",
"channels":[3,2]}],"alerts":[{"labels":{"alertname":"DepositSuccessByPSP","psp":"PSP-A"},
"annotations":{"title":"Deposit success"},"state":2,"starts_at":1763776800000,"ends_at":0,
"updated_at":0,"generator_url":"","rule":"deposit","kind":1,"severity":0,"value":0.972,
"threshold":null,"burn_rate":14.0,"budget_consumed":null,"links":[{"href":"https://x",
"text":"X"}]}],"causes":[{"labels":{"alertname":"PspTimeout"},"annotations":{},"state":3,
"starts_at":0,"ends_at":0,"updated_at":0,"generator_url":"","rule":"","kind":2,"severity":3,
"value":null,"threshold":null,"burn_rate":null,"budget_consumed":null,"links":[]}],"text":"",
"actor":"","opened_at":1763776800000,"at":1763776860000})";

// Action 2 = resolve, sev 3, channel 4 = webhook.
constexpr const char* kOutboxV1Resolve = R"({"v":1,"incident_id":"INC-7","dedup_key":"tocsin/INC-7",
"idempotency_key":"INC-7/resolve","action":2,"step":0,"sev":3,"title":"Deposits failing",
"state":"resolved","targets":[{"person":{"id":"olena","name":"","time_zone":"",
"slack_user_id":"","pagerduty_user_id":"","opsgenie_username":"","email":"","phone":""},
"role":"l1","channels":[4]}],"alerts":[],"causes":[],"text":"","actor":"olena",
"opened_at":1763776800000,"at":1763777400000})";

PageRequest ExpectedV1Trigger() {
  PageRequest r;
  r.incident_id = "INC-7";
  r.dedup_key = "tocsin/INC-7";
  r.idempotency_key = "INC-7/step-1/trigger";
  r.action = PageAction::kTrigger;
  r.sev = incident::Sev::kSev1;
  r.title = "Deposits failing";
  r.state = "triggered";
  r.targets = {{Olena(), "l1", {Channel::kEmail, Channel::kSlack}}};
  Alert a;
  a.labels = Labels{{"alertname", "DepositSuccessByPSP"}, {"psp", "PSP-A"}};
  a.annotations = {{"title", "Deposit success"}};
  a.state = AlertState::kFiring;
  a.starts_at = T0();
  a.rule = "deposit";
  a.kind = AlertKind::kSymptom;
  a.severity = Severity::kCritical;
  a.value = 0.972;
  a.burn_rate = 14;
  a.links = {{"https://x", "X"}};
  Alert cause;
  cause.labels = Labels{{"alertname", "PspTimeout"}};
  cause.state = AlertState::kResolved;
  cause.kind = AlertKind::kCause;
  cause.severity = Severity::kInfo;
  r.alerts = {a};
  r.causes = {cause};
  r.opened_at = T0();
  r.at = T0() + std::chrono::minutes(1);
  return r;
}

PageRequest ExpectedV1Resolve() {
  PageRequest r;
  r.incident_id = "INC-7";
  r.dedup_key = "tocsin/INC-7";
  r.idempotency_key = "INC-7/resolve";
  r.action = PageAction::kResolve;
  r.sev = incident::Sev::kSev3;
  r.title = "Deposits failing";
  r.state = "resolved";
  oncall::Person p;
  p.id = "olena";
  r.targets = {{p, "l1", {Channel::kWebhook}}};
  r.actor = "olena";
  r.opened_at = T0();
  r.at = T0() + std::chrono::minutes(10);
  return r;
}

// As the incident store wrote page intents: names, "sev" a number, times RFC 3339, alerts in
// the API's form. `origin` is left out by versions before page intents kept it.
std::string IncidentStoreForm(bool with_origin) {
  return fmt::format(
      R"({{"incident_id":"INC-8","dedup_key":"tocsin/INC-8","idempotency_key":"INC-8/ack",
"action":"acknowledge","step":1,"sev":2,"title":"Logins failing","state":"acknowledged",
"targets":[{{"role":"l2-payments","person":{{"id":"olena","name":"Olena Kovalenko",
"time_zone":"Europe/Kyiv","slack_user_id":"U024BE7LH","pagerduty_user_id":"PXPGF42",
"opsgenie_username":"olena@example.com","email":"olena@example.com","phone":""}},
"channels":["opsgenie","webhook"]}}],"alerts":[{{"labels":{{"alertname":"LoginErrors"}},
"annotations":{{"summary":"logins"}},"state":"firing","severity":"error",
"starts_at":"2025-11-22T02:00:00Z","ends_at":"","updated_at":"","generator_url":"",
"rule":"login","fingerprint":"0123456789abcdef","value":0.5,"links":[]}}],"causes":[],
"text":"","actor":"olena"{},"opened_at":"2025-11-22T02:00:00Z","at":"2025-11-22T02:05:00Z"}})",
      with_origin ? R"(,"origin":"pagerduty")" : "");
}

PageRequest ExpectedIncidentStoreForm(bool with_origin) {
  PageRequest r;
  r.incident_id = "INC-8";
  r.dedup_key = "tocsin/INC-8";
  r.idempotency_key = "INC-8/ack";
  r.action = PageAction::kAcknowledge;
  r.step = 1;
  r.sev = incident::Sev::kSev2;
  r.title = "Logins failing";
  r.state = "acknowledged";
  r.targets = {{Olena(), "l2-payments", {Channel::kOpsgenie, Channel::kWebhook}}};
  Alert a;
  a.labels = Labels{{"alertname", "LoginErrors"}};
  a.annotations = {{"summary", "logins"}};
  a.state = AlertState::kFiring;
  a.severity = Severity::kError;
  a.starts_at = T0();
  a.rule = "login";
  a.value = 0.5;
  r.alerts = {a};
  r.actor = "olena";
  if (with_origin) r.origin = "pagerduty";
  r.opened_at = T0();
  r.at = T0() + std::chrono::minutes(5);
  return r;
}

std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

class QueuedPageFormatsTest : public ::testing::Test {
 protected:
  QueuedPageFormatsTest() {
    db_ = std::move(*store::Database::Open(dir_.path() + "/tocsin.db"));
    outbox_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    incidents_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    EXPECT_TRUE(outbox_->Migrate());
    EXPECT_TRUE(incidents_->Migrate());
  }
  // An outbox row as version 1 inserted it (pending, due now).
  void InsertOutboxRow(const std::string& channel, const std::string& key,
                       const std::string& request) {
    auto sql = fmt::format(
        "INSERT INTO notify_outbox (channel, original_channel, kind, incident_id, "
        "idempotency_key, request, created_at, next_attempt_at) VALUES ({}, {}, 'page', 'INC-7', "
        "{}, {}, {}, {})",
        Quoted(channel), Quoted(channel), Quoted(key), Quoted(request), ToUnixMillis(T0()),
        ToUnixMillis(T0()));
    ASSERT_TRUE(db_->Exec(sql));
  }
  void InsertPageIntent(const std::string& key, const std::string& request) {
    ASSERT_TRUE(db_->Exec(fmt::format(
        "INSERT INTO incident_pages (idempotency_key, incident_id, request, handed_off) VALUES "
        "({}, 'INC-8', {}, 0)",
        Quoted(key), Quoted(request))));
  }

  tocsin::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_;
  std::unique_ptr<store::SqliteIncidentStore> incidents_;
};

TEST_F(QueuedPageFormatsTest, OutboxRowsOfVersionOneLoadWithTheirEnumsByTheOldPositions) {
  InsertOutboxRow("email", "INC-7/step-1/trigger", kOutboxV1Trigger);
  InsertOutboxRow("webhook", "INC-7/resolve", kOutboxV1Resolve);
  auto items = outbox_->LoadPending();
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].channel, Channel::kEmail);
  EXPECT_EQ((*items)[0].request, ExpectedV1Trigger());
  EXPECT_EQ((*items)[1].channel, Channel::kWebhook);
  EXPECT_EQ((*items)[1].request, ExpectedV1Resolve());
}

TEST_F(QueuedPageFormatsTest, PageIntentsOfTheIncidentStoreLoadWithAndWithoutOrigin) {
  InsertPageIntent("INC-8/ack", IncidentStoreForm(true));
  InsertPageIntent("INC-8/ack-before-origin", IncidentStoreForm(false));
  auto pages = incidents_->PendingPages();
  ASSERT_TRUE(pages) << pages.error().message();
  ASSERT_EQ(pages->size(), 2u);
  EXPECT_EQ((*pages)[0].request, ExpectedIncidentStoreForm(true));
  EXPECT_EQ((*pages)[1].request, ExpectedIncidentStoreForm(false));
}

TEST_F(QueuedPageFormatsTest, TodaysFormRoundTripsThroughBothStores) {
  auto page = testing::DepositPage("INC-9");
  page.text = "note ünïcode";
  page.actor = "olena";
  page.origin = "opsgenie";
  page.alerts[0].links = {{"https://x", "X"}};
  page.targets[0].channels = {Channel::kWebhook, Channel::kEmail, Channel::kOpsgenie};

  OutboxItem item;
  item.channel = Channel::kWebhook;
  item.original_channel = Channel::kWebhook;
  item.request = page;
  item.created_at = item.next_attempt_at = T0();
  bool inserted = false;  // the store has no writer thread: it answers at once
  outbox_->Insert({item}, {}, [&](auto r) { inserted = r.has_value(); });
  ASSERT_TRUE(inserted);
  auto items = outbox_->LoadPending();
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].request, page);

  incident::IncidentChange change;
  change.incident.id = "INC-9";
  change.incident.number = 9;
  change.incident.key = "tocsin/INC-9";
  change.pages = {page};
  ASSERT_TRUE(incidents_->Commit(change));
  auto pages = incidents_->PendingPages();
  ASSERT_TRUE(pages) << pages.error().message();
  ASSERT_EQ(pages->size(), 1u);
  EXPECT_EQ((*pages)[0].request, page);
}

TEST_F(QueuedPageFormatsTest, TodaysFormSpellsEveryEnumByName) {
  auto page = testing::DepositPage();
  auto j = incident::PageRequestToJson(page);
  EXPECT_EQ(j["v"], incident::kPageJsonVersion);
  EXPECT_EQ(j["action"], "trigger");
  EXPECT_EQ(j["sev"], "SEV-1");
  EXPECT_EQ(j["targets"][0]["channels"], nlohmann::json::array({"pagerduty", "slack"}));
  EXPECT_EQ(j["alerts"][0]["state"], "firing");
  EXPECT_EQ(j["alerts"][0]["kind"], "symptom");
  EXPECT_EQ(j["alerts"][0]["severity"], "critical");
  EXPECT_EQ(j["causes"][0]["kind"], "cause");
}

TEST_F(QueuedPageFormatsTest, AProviderNoLongerKnownKeepsItsNameInsteadOfBecomingSlack) {
  std::string row = incident::PageRequestToText(testing::DepositPage("INC-7"));
  InsertOutboxRow("pager-of-old", "INC-7/step-1/trigger", row);
  auto items = outbox_->LoadPending();
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].channel.name(), "pager-of-old");
  EXPECT_NE((*items)[0].channel, Channel::kSlack);
}

TEST_F(QueuedPageFormatsTest, AnUnreadableRowIsAnErrorThatNamesTheRowAndTheField) {
  std::string bad = kOutboxV1Resolve;
  bad.replace(bad.find("\"action\":2"), 10, "\"action\":9");
  InsertOutboxRow("webhook", "INC-7/resolve", bad);
  auto items = outbox_->LoadPending();
  ASSERT_FALSE(items);
  EXPECT_NE(items.error().message().find("outbox row 1"), std::string::npos)
      << items.error().message();
  EXPECT_NE(items.error().message().find("`action` 9"), std::string::npos)
      << items.error().message();
}

// The incident store wrote page intents with json::dump(), which throws on invalid UTF-8: a
// label with a stray byte made the incident's transition fail. Both stores now replace it.
TEST_F(QueuedPageFormatsTest, InvalidUtf8InALabelNoLongerFailsThePageIntent) {
  auto page = testing::DepositPage("INC-10");
  page.alerts[0].labels = Labels{{"alertname", "Deposit"}, {"psp", std::string("PSP-\xff")}};
  incident::IncidentChange change;
  change.incident.id = "INC-10";
  change.incident.number = 10;
  change.incident.key = "tocsin/INC-10";
  change.pages = {page};
  ASSERT_TRUE(incidents_->Commit(change));
  auto pages = incidents_->PendingPages();
  ASSERT_TRUE(pages) << pages.error().message();
  ASSERT_EQ(pages->size(), 1u);
  EXPECT_EQ((*pages)[0].request.incident_id, "INC-10");
  EXPECT_EQ((*pages)[0].request.alerts[0].labels.GetOr("psp"), "PSP-\xEF\xBF\xBD");
}

TEST_F(QueuedPageFormatsTest, ARowFromANewerVersionSaysSo) {
  auto r = incident::PageRequestFromText(R"({"v":3,"incident_id":"INC-1"})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("newer than this tocsin reads"), std::string::npos)
      << r.error().message();
}

// A row spoiled by hand or by a disk names the member that is wrong, and never reads as a page
// with that member left out.
TEST_F(QueuedPageFormatsTest, AMemberOfTheWrongTypeIsNamed) {
  const std::string good = incident::PageRequestToText(ExpectedV1Trigger());
  ASSERT_TRUE(incident::PageRequestFromText(good));
  struct Case {
    std::string from, to, says;
  };
  for (const Case& c : std::vector<Case>{
           {R"("psp":"PSP-A")", R"("psp":7)", "`labels` must be a string"},
           {R"("drill":false)", R"("drill":"no")", "`drill` must be true or false"},
           {R"("step":0)", R"("step":"first")", "`step` must be a number"},
           {R"("links":[{"href":"https://x","text":"X"}])", R"("links":{"href":"https://x"})",
            "`links` must be a list"},
           {R"("idempotency_key":"INC-7/step-1/trigger",)", "", "`idempotency_key` is missing"},
           {R"("sev":"SEV-1")", R"("sev":"SEV-9")", "`sev` \"SEV-9\" is not SEV-1 to SEV-4"},
           {R"("value":0.972)", R"("value":"high")", "`value` must be a number"},
           // A null is no more a flag, a SEV or a step than a string is.
           {R"("drill":false)", R"("drill":null)", "`drill` must be true or false"},
           {R"("sev":"SEV-1")", R"("sev":null)", "`sev` null is not SEV-1 to SEV-4"},
           {R"("at":1763776860000)", R"("at":1e300)", "`at` is out of range"},
           {R"("step":0)", R"("step":null)", "`step` must be a number"}}) {
    std::string text = good;
    auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from << " in " << text;
    text.replace(at, c.from.size(), c.to);
    auto r = incident::PageRequestFromText(text);
    ASSERT_FALSE(r) << c.to;
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("stored page request is not readable: "), 0u)
        << r.error().message();
  }
  auto not_json = incident::PageRequestFromText(good.substr(0, good.size() / 2));
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().message(), "stored page request is not readable: not JSON");
  auto list = incident::PageRequestFromText("[" + good + "]");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().message(), "stored page request is not a JSON object");
}

// A list may be left out or null (an empty list), a text or a time null (empty): the page
// loads the same.
TEST_F(QueuedPageFormatsTest, AListOrATextMayBeAbsentOrNull) {
  PageRequest expected = ExpectedV1Trigger();
  const std::string good = incident::PageRequestToText(expected);
  expected.causes.clear();
  expected.alerts[0].links.clear();
  expected.title.clear();
  expected.opened_at = {};
  std::string text = good;
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("links":[{"href":"https://x","text":"X"}])", R"("links":null)"},
           {R"("title":"Deposits failing",)", R"("title":null,)"},
           {R"("opened_at":1763776800000,)", R"("opened_at":null,)"}}) {
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in " << text;
    text.replace(at, from.size(), to);
  }
  // "causes" is the one list with a member after it that is not the last: cut it out whole.
  auto causes = text.find(R"("causes":[)");
  ASSERT_NE(causes, std::string::npos);
  auto end = text.find(R"(],"dedup_key")", causes);
  ASSERT_NE(end, std::string::npos) << text;
  text.erase(causes, end + 2 - causes);
  auto r = incident::PageRequestFromText(text);
  ASSERT_TRUE(r) << r.error().message() << "\n" << text;
  EXPECT_EQ(*r, expected) << text;
}

}  // namespace
}  // namespace tocsin::notify
