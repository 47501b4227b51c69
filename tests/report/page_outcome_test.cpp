// What became of each page, in the on-call report and the drill report: a page whose every
// delivery failed or could not be made reached nobody and woke nobody; MTTA and a drill's time
// to ack count to the first acknowledgement, whatever came after it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "oncall_scenario.h"
#include "tocsin/report/drill_report.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report {
namespace {

using scenario::At;
using scenario::LoadSchedule;
using scenario::Scenario;
using scenario::TheWeek;
using json = nlohmann::json;
using std::chrono::minutes;

// A page with its key and what became of its delivery to the person, as the incident manager
// and the outbox write them.
void KeyedPage(IncidentRecord& r, const char* at, const char* person, const char* role,
               const std::string& key, int step = 0) {
  Scenario::Event(r, at, "page_decided", "tocsin",
                  json{{"step", step},
                       {"idempotency_key", key},
                       {"targets", json::array({{{"person", person}, {"role", role}}})}}
                      .dump());
}
// A PagerDuty delivery as the outbox reports it: one delivery of kind "page" for the page,
// without a person of its own; the people it reaches are named when it is queued only.
void Delivery(IncidentRecord& r, const char* at, const char* kind, const char* person,
              const std::string& key, const char* state) {
  json data{{"idempotency_key", key}, {"channel", "pagerduty"}, {"via", "pagerduty"},
            {"kind", "page"},         {"person", ""},           {"state", state}};
  if (std::string_view(kind) == "queued") data["people"] = json::array({person});
  Scenario::Event(r, at, kind, "tocsin", data.dump());
}

// kyiv's night pages that reached nobody (PagerDuty refused the first for good, no channel
// reaches them for the second) woke nobody; the reopened incident's MTTA is its first ack.
TEST(OncallReportTest, APageThatReachedNobodyWakesNobodyAndMttaIsTheFirstAck) {
  Scenario s;
  auto& a = s.Open(1, "payments", incident::Sev::kSev2, "2026-11-03T01:00:00Z", "DepositErrors");
  KeyedPage(a, "2026-11-03T01:00:00Z", "kyiv", "l1", "INC-1/step-0/trigger");
  Delivery(a, "2026-11-03T01:00:00Z", "queued", "kyiv", "INC-1/step-0/trigger", "queued");
  Delivery(a, "2026-11-03T01:00:05Z", "failed", "kyiv", "INC-1/step-0/trigger", "failed");
  KeyedPage(a, "2026-11-03T01:05:00Z", "ny", "l2-payments", "INC-1/step-1/trigger");
  Delivery(a, "2026-11-03T01:05:00Z", "queued", "ny", "INC-1/step-1/trigger", "queued");
  Delivery(a, "2026-11-03T01:05:01Z", "sent", "ny", "INC-1/step-1/trigger", "sent");
  Scenario::Ack(a, "2026-11-03T01:06:00Z", "ny");
  Scenario::Resolve(a, "2026-11-03T01:10:00Z", "ny");
  // Reopened within the reopen window (which clears the incident's ack), acknowledged again.
  Scenario::Event(a, "2026-11-03T01:20:00Z", "reopened", "tocsin", "{}");
  Scenario::Ack(a, "2026-11-03T01:40:00Z", "ny");
  Scenario::Resolve(a, "2026-11-03T01:50:00Z", "ny");
  auto& b = s.Open(2, "payments", incident::Sev::kSev2, "2026-11-03T02:00:00Z", "DepositErrors");
  KeyedPage(b, "2026-11-03T02:00:00Z", "kyiv", "l1", "INC-2/step-0/trigger");
  Scenario::Event(b, "2026-11-03T02:00:00Z", "not_paged", "tocsin",
                  json{{"idempotency_key", "INC-2/step-0/trigger"},
                       {"person", "kyiv"},
                       {"role", "l1"},
                       {"reason", "no channel reaches kyiv"}}
                      .dump());

  // PagerDuty answered 503 to this one: the outbox retries it, it is on its way.
  auto& c = s.Open(3, "payments", incident::Sev::kSev2, "2026-11-03T03:00:00Z", "DepositErrors");
  KeyedPage(c, "2026-11-03T03:00:00Z", "kyiv", "l1", "INC-3/step-0/trigger");
  Delivery(c, "2026-11-03T03:00:00Z", "queued", "kyiv", "INC-3/step-0/trigger", "queued");
  Delivery(c, "2026-11-03T03:00:01Z", "failed", "kyiv", "INC-3/step-0/trigger", "retrying");

  auto schedule = LoadSchedule();
  auto r = BuildOncallReport(s.records, &schedule, TheWeek());
  EXPECT_EQ(r.acknowledged, 1);
  ASSERT_EQ(r.response.size(), 1u);
  EXPECT_EQ(r.response[0].mtta.p50, minutes(6));  // not 40m, the second ack
  EXPECT_EQ(r.pages, 4);
  EXPECT_EQ(r.pages_undelivered, 2);
  // kyiv's pages at 03:00 and 04:00 Kyiv time reached nobody: no wake-up; the one at 05:00,
  // still being retried, is one. ny's came at 20:05 New York time.
  ASSERT_EQ(r.nights.size(), 1u);
  EXPECT_EQ(r.nights[0].person, "kyiv");
  EXPECT_EQ(r.nights[0].wakeups, 1);
  auto kyiv = std::find_if(r.load.begin(), r.load.end(),
                           [](const PersonLoad& l) { return l.person == "kyiv"; });
  ASSERT_NE(kyiv, r.load.end());
  EXPECT_EQ(kyiv->pages, 3);
  EXPECT_EQ(kyiv->undelivered, 2);
  const auto table = RenderOncallTable(r);
  auto row = table.find("  pages that reached nobody ");
  ASSERT_NE(row, std::string::npos) << table;
  EXPECT_EQ(table.substr(table.find('\n', row) - 2, 3), " 2\n") << table;
}

// A night page the outbox withdrew (its incident was resolved before PagerDuty answered) woke
// nobody, and is not a page that reached nobody either: nobody needed it any more.
TEST(OncallReportTest, AWithdrawnPageIsNeitherAWakeUpNorUndelivered) {
  Scenario s;
  auto& a = s.Open(4, "payments", incident::Sev::kSev2, "2026-11-03T01:00:00Z", "DepositErrors");
  KeyedPage(a, "2026-11-03T01:00:00Z", "kyiv", "l1", "INC-4/step-0/trigger");
  Delivery(a, "2026-11-03T01:00:00Z", "queued", "kyiv", "INC-4/step-0/trigger", "queued");
  Delivery(a, "2026-11-03T01:00:01Z", "failed", "kyiv", "INC-4/step-0/trigger", "retrying");
  Delivery(a, "2026-11-03T01:02:00Z", "skipped", "kyiv", "INC-4/step-0/trigger", "skipped");
  Scenario::Resolve(a, "2026-11-03T01:02:00Z", "tocsin");
  auto schedule = LoadSchedule();
  auto r = BuildOncallReport(s.records, &schedule, TheWeek());
  EXPECT_EQ(r.pages, 1);
  EXPECT_EQ(r.pages_undelivered, 0);
  EXPECT_TRUE(r.nights.empty());
}

// A drill whose step 1 never reached its L1: the ack came from step 2's page, and the report
// says step 1 reached nobody instead of reading as "L1 took 6 minutes".
TEST(DrillReportTest, AStepWhosePageReachedNobodySaysSo) {
  Scenario s;
  auto& d = s.Open(57, "payments", incident::Sev::kSev2, "2026-11-25T14:00:00Z", "DrillPsp");
  d.incident.drill = true;
  KeyedPage(d, "2026-11-25T14:00:00Z", "kyiv", "l1", "INC-57/step-0/trigger", 0);
  Delivery(d, "2026-11-25T14:00:00Z", "queued", "kyiv", "INC-57/step-0/trigger", "queued");
  Delivery(d, "2026-11-25T14:00:02Z", "failed", "kyiv", "INC-57/step-0/trigger", "failed");
  KeyedPage(d, "2026-11-25T14:05:00Z", "ny", "l2-payments", "INC-57/step-1/trigger", 1);
  Delivery(d, "2026-11-25T14:05:00Z", "sent", "ny", "INC-57/step-1/trigger", "sent");
  Scenario::Ack(d, "2026-11-25T14:06:00Z", "ny");
  Scenario::Ack(d, "2026-11-25T14:50:00Z", "ny");  // again, after its ack timeout
  auto drills = BuildDrillReport(s.records, "");
  ASSERT_EQ(drills.size(), 1u);
  EXPECT_EQ(drills[0].time_to_ack, minutes(6));
  EXPECT_EQ(drills[0].acknowledged_by, "ny");
  ASSERT_EQ(drills[0].steps.size(), 2u);
  EXPECT_TRUE(drills[0].steps[0].reached_nobody);
  EXPECT_EQ(drills[0].steps[0].deliveries, std::vector<std::string>{"kyiv: pagerduty failed"});
  EXPECT_FALSE(drills[0].steps[1].reached_nobody);
  EXPECT_EQ(drills[0].steps[1].time_to_ack, minutes(1));
  EXPECT_THAT(RenderDrillTable(drills),
              ::testing::HasSubstr("step 1: 6m (reached nobody), step 2: 1m"));
}

// Two steps decided in the same millisecond (an escalation pressed as the incident opened) in a
// timeline written before pages had keys: each step lists its own people's deliveries. They
// were matched by key and time, so step 1 took step 2's SMS and read as reached.
TEST(DrillReportTest, StepsOfTheSameMomentKeepTheirOwnDeliveries) {
  Scenario s;
  auto& d = s.Open(58, "payments", incident::Sev::kSev2, "2026-11-25T14:00:00Z", "DrillPsp");
  d.incident.drill = true;
  KeyedPage(d, "2026-11-25T14:00:00Z", "kyiv", "l1", "", 0);
  KeyedPage(d, "2026-11-25T14:00:00Z", "ny", "l2-payments", "", 1);
  auto sms = [&d](const char* at, const char* person, const char* state) {
    Scenario::Event(d, at, state, "tocsin",
                    json{{"idempotency_key", ""},
                         {"channel", "sms"},
                         {"via", "sms"},
                         {"kind", "page"},
                         {"person", person},
                         {"state", state}}
                        .dump());
  };
  sms("2026-11-25T14:00:01Z", "kyiv", "failed");
  sms("2026-11-25T14:00:01Z", "ny", "sent");
  auto drills = BuildDrillReport(s.records, "");
  ASSERT_EQ(drills.size(), 1u);
  ASSERT_EQ(drills[0].steps.size(), 2u);
  EXPECT_THAT(drills[0].steps[0].people, ::testing::ElementsAre("kyiv"));
  EXPECT_THAT(drills[0].steps[0].deliveries, ::testing::ElementsAre("kyiv: sms failed"));
  EXPECT_TRUE(drills[0].steps[0].reached_nobody);
  EXPECT_THAT(drills[0].steps[1].deliveries, ::testing::ElementsAre("ny: sms sent"));
  EXPECT_FALSE(drills[0].steps[1].reached_nobody);
}

}  // namespace
}  // namespace tocsin::report
