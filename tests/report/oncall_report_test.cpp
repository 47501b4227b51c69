// The on-call report over a week whose every figure is worked out by hand below, computed once
// in memory and once by the real `tocsin report oncall` over a real SQLite store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "oncall_scenario.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/incident/timeline.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/report/oncall_metrics.h"
#include "tocsin/report/oncall_report.h"
#include "tocsin/report/records.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::report {
namespace {

using json = nlohmann::json;
using scenario::At;
using scenario::kRoster;
using scenario::LoadSchedule;
using scenario::Scenario;
using scenario::TheWeek;
using std::chrono::minutes;

// The week of 2026-11-02 (Monday, ISO week 45), UTC.
Scenario Week() {
  Scenario s;
  // 1: SEV-2 payments at 03:00 Kyiv (a night page for kyiv), caused by PSP A; ack 4 min,
  // resolved after 30 min.
  auto& i1 =
      s.Open(1, "payments", incident::Sev::kSev2, "2026-11-03T01:00:00Z", "DepositErrors", "psp-a");
  Scenario::Page(i1, "2026-11-03T01:00:00Z", "kyiv", "l1");
  Scenario::Ack(i1, "2026-11-03T01:04:00Z", "kyiv");
  Scenario::Resolve(i1, "2026-11-03T01:30:00Z", "kyiv");
  // 2: SEV-2 at 04:00 Kyiv; L1 silent, the L2 in New York (21:05 there: not night) acks at 10 min.
  auto& i2 = s.Open(2, "payments", incident::Sev::kSev2, "2026-11-03T02:00:00Z", "DepositErrors");
  Scenario::Page(i2, "2026-11-03T02:00:00Z", "kyiv", "l1");
  Scenario::Page(i2, "2026-11-03T02:05:00Z", "ny", "l2-payments");
  Scenario::Ack(i2, "2026-11-03T02:10:00Z", "ny");
  Scenario::Resolve(i2, "2026-11-03T03:00:00Z", "ny");
  // 3: SEV-1 at 06:30 Kyiv (kyiv's third page that night: over the goal of 2), the Duty
  // Manager paged at 06:35 Kyiv; a cause carries provider gp-x.
  auto& i3 = s.Open(3, "payments", incident::Sev::kSev1, "2026-11-03T04:30:00Z", "GameLaunch");
  Alert cause;
  cause.labels = Labels{{"alertname", "ProviderLag"}, {"provider", "gp-x"}};
  i3.incident.causes.push_back(cause);
  Scenario::Page(i3, "2026-11-03T04:30:00Z", "kyiv", "l1");
  Scenario::Page(i3, "2026-11-03T04:35:00Z", "dm", "duty-manager");
  Scenario::Ack(i3, "2026-11-03T04:40:00Z", "dm");
  Scenario::Resolve(i3, "2026-11-03T05:30:00Z", "kyiv");
  // 4: games, resolved by tocsin 10 min later with nobody acting: noise.
  auto& i4 = s.Open(4, "games", incident::Sev::kSev3, "2026-11-04T12:00:00Z", "FlakyProbe");
  Scenario::Page(i4, "2026-11-04T12:00:00Z", "gina", "l1");
  Scenario::Resolve(i4, "2026-11-04T12:10:00Z", "tocsin");
  // 5: the same rule, but gina wrote a note before it cleared: not noise.
  auto& i5 = s.Open(5, "games", incident::Sev::kSev3, "2026-11-05T12:00:00Z", "FlakyProbe");
  Scenario::Page(i5, "2026-11-05T12:00:00Z", "gina", "l1");
  Scenario::Event(i5, "2026-11-05T12:03:00Z", "note", "gina", "{}");
  Scenario::Resolve(i5, "2026-11-05T12:05:00Z", "tocsin");
  // 6: outside the range.
  auto& i6 = s.Open(6, "payments", incident::Sev::kSev1, "2026-11-10T01:00:00Z", "DepositErrors");
  Scenario::Page(i6, "2026-11-10T01:00:00Z", "kyiv", "l1");
  // 7: still open at the end of the week.
  auto& i7 = s.Open(7, "payments", incident::Sev::kSev4, "2026-11-06T10:00:00Z", "LatencyP95");
  Scenario::Page(i7, "2026-11-06T10:00:00Z", "kyiv", "l1");
  return s;
}

TEST(OncallReportTest, EveryFigureOfAHandWorkedWeek) {
  auto schedule = LoadSchedule();
  auto r = BuildOncallReport(Week().records, &schedule, TheWeek());
  EXPECT_EQ(r.incidents, 6);  // 6 is outside
  EXPECT_EQ(r.acknowledged, 3);
  EXPECT_EQ(r.resolved, 5);  // 7 is open
  ASSERT_EQ(r.response.size(), 4u);
  // games SEV-3: never acknowledged; resolved after 10 and 5 min -> p50 5m, p90 10m.
  EXPECT_EQ(r.response[0].domain, "games");
  EXPECT_EQ(r.response[0].sev, "SEV-3");
  EXPECT_EQ(r.response[0].mtta.count, 0);
  EXPECT_EQ(r.response[0].mttr.p50, minutes(5));
  EXPECT_EQ(r.response[0].mttr.p90, minutes(10));
  // payments SEV-1: ack after 10 min, resolved after 60.
  EXPECT_EQ(r.response[1].sev, "SEV-1");
  EXPECT_EQ(r.response[1].mtta.p50, minutes(10));
  EXPECT_EQ(r.response[1].mttr.p90, minutes(60));
  // payments SEV-2: acks after 4 and 10 min, resolves after 30 and 60 (nearest rank).
  EXPECT_EQ(r.response[2].sev, "SEV-2");
  EXPECT_EQ(r.response[2].incidents, 2);
  EXPECT_EQ(r.response[2].mtta.p50, minutes(4));
  EXPECT_EQ(r.response[2].mtta.p90, minutes(10));
  EXPECT_EQ(r.response[2].mttr.p50, minutes(30));
  EXPECT_EQ(r.response[2].mttr.p90, minutes(60));
  // payments SEV-4: open, no figures.
  EXPECT_EQ(r.response[3].sev, "SEV-4");
  EXPECT_FALSE(r.response[3].mttr.p50.has_value());

  EXPECT_EQ(r.pages, 8);  // 1 + 2 + 2 + 1 + 1 + 1
  ASSERT_EQ(r.weeks.size(), 1u);
  EXPECT_EQ(r.weeks[0].week, "2026-W45");
  EXPECT_EQ(r.weeks[0].pages, 8);
  EXPECT_EQ(r.weeks[0].l1_shifts, 21);  // all 21 L1 shifts start in W45
  ASSERT_TRUE(r.weeks[0].pages_per_l1_shift);
  EXPECT_DOUBLE_EQ(*r.weeks[0].pages_per_l1_shift, 8.0 / 21.0);
  // L1 shifts: 14 of 12 h (payments: kyiv and olga in turn) + 7 of 24 h (games: gina 4, gus 3).
  EXPECT_EQ(r.l1_shifts, 21);
  ASSERT_TRUE(r.pages_per_l1_shift);
  EXPECT_DOUBLE_EQ(*r.pages_per_l1_shift, 8.0 / 21.0);

  // Night wake-ups in each person's zone: kyiv at 03:00, 04:00 and 06:30 on the night of
  // 2026-11-02 (over the goal); dm at 06:35; ny's page was at 21:05 and gina's at 07:00.
  ASSERT_EQ(r.nights.size(), 2u);
  EXPECT_EQ(r.nights[0].person, "kyiv");
  EXPECT_EQ(r.nights[0].wakeups, 3);
  EXPECT_EQ(r.nights[0].nights, 1);
  EXPECT_EQ(r.nights[0].worst_night, "2026-11-02");
  EXPECT_EQ(r.nights[0].nights_over_goal, 1);
  EXPECT_EQ(r.nights[1].person, "dm");
  EXPECT_EQ(r.nights[1].nights_over_goal, 0);

  EXPECT_EQ(r.noisy, 1);  // only 4
  ASSERT_EQ(r.noisiest.size(), 1u);
  EXPECT_EQ(r.noisiest[0].rule, "FlakyProbe");
  EXPECT_EQ(r.noisiest[0].incidents, 2);
  EXPECT_EQ(r.noisiest[0].noisy, 1);
  EXPECT_EQ(r.reached_l2, 1);
  EXPECT_EQ(r.reached_duty_manager, 1);
  EXPECT_EQ(r.sev12, 3);
  EXPECT_EQ(r.sev12_external, 2);  // 1 (psp-a on the alert) and 3 (gp-x on a cause)
  ASSERT_EQ(r.sev12_by_provider.size(), 2u);
  EXPECT_EQ(r.sev12_by_provider[0].provider, "gp-x");
  EXPECT_EQ(r.sev12_by_provider[1].provider, "psp-a");

  // Load: kyiv 4 pages / 7 shifts, gina 2 / 4, dm 1 / 1 and ny 1 / 1 (one person alone in a
  // rotation holds one unbroken shift), gus 0 / 3, olga 0 / 7: mean 8/6 -> max/mean 3.
  ASSERT_EQ(r.load.size(), 6u);
  EXPECT_EQ(r.load[0].person, "kyiv");
  EXPECT_EQ(r.load[0].pages, 4);
  EXPECT_EQ(r.load[0].shifts, 7);
  EXPECT_EQ(r.load[1].person, "gina");
  EXPECT_EQ(r.load[1].shifts, 4);
  EXPECT_EQ(r.load[2].person, "dm");
  EXPECT_EQ(r.load[3].person, "ny");
  EXPECT_EQ(r.load[4].person, "gus");
  EXPECT_EQ(r.load[4].shifts, 3);
  EXPECT_EQ(r.load[5].person, "olga");
  EXPECT_EQ(r.load[5].pages, 0);
  ASSERT_TRUE(r.load_max_over_mean);
  EXPECT_DOUBLE_EQ(*r.load_max_over_mean, 3.0);
}

TEST(OncallReportTest, WithoutARosterNightsAreInTheReportZone) {
  auto r = BuildOncallReport(Week().records, nullptr, TheWeek());
  // In UTC, ny's 02:05 page is a night page too; there are no shifts.
  ASSERT_EQ(r.nights.size(), 3u);
  EXPECT_EQ(r.nights[0].person, "kyiv");
  EXPECT_EQ(r.nights[1].person, "dm");
  EXPECT_EQ(r.nights[2].person, "ny");
  EXPECT_EQ(r.l1_shifts, 0);
  EXPECT_FALSE(r.pages_per_l1_shift);
}

TEST(OncallReportTest, ATeamKeepsItsDomainAndTheIncidentsThatPagedItsPeople) {
  auto schedule = LoadSchedule();
  auto r = BuildOncallReport(Week().records, &schedule, TheWeek("payments"));
  EXPECT_EQ(r.incidents, 4);  // 1, 2, 3, 7
  EXPECT_EQ(r.pages, 6);
  EXPECT_EQ(r.l1_shifts, 14);
  EXPECT_EQ(r.noisy, 0);
  // kyiv 4, ny 1, dm 1 (paged, no payments shift), olga 0: mean 1.5.
  EXPECT_DOUBLE_EQ(*r.load_max_over_mean, 4.0 / 1.5);
}

TEST(OncallReportTest, OutputsAgreeAndTheTableIsAligned) {
  auto schedule = LoadSchedule();
  auto r = BuildOncallReport(Week().records, &schedule, TheWeek());
  auto j = json::parse(RenderOncallJson(r));
  EXPECT_EQ(j["incidents"], 6);
  EXPECT_EQ(j["response"][2]["mtta_p90_seconds"], 600);
  EXPECT_EQ(j["nights"][0]["nights_over_goal"], 1);
  auto csv = RenderOncallCsv(r);
  EXPECT_THAT(
      csv, ::testing::HasSubstr("MTTA and MTTR by domain and SEV,payments SEV-2,mtta_p90,10m\n"));
  EXPECT_THAT(csv, ::testing::HasSubstr("Summary,pages,value,8\n"));
  auto md = RenderOncallMarkdown(r);
  EXPECT_THAT(md,
              ::testing::HasSubstr("| kyiv | Europe/Kyiv | 3 | 1 | 2026-11-02 | 3 | 1 BROKEN |"));
  // In the table every row of a section has its columns at the same offsets.
  auto table = RenderOncallTable(r);
  auto load = table.substr(table.find("Load across the rotation"));
  std::istringstream lines(load);
  std::string line;
  std::getline(lines, line);
  std::vector<std::size_t> ends;
  while (std::getline(lines, line) && !line.empty()) ends.push_back(line.size());
  ASSERT_EQ(ends.size(), 7u);  // header + 6 people
  for (auto e : ends) EXPECT_EQ(e, ends[0]) << table;
}

// The real binary over a real store, as an SRE runs it.
class OncallReportCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = dir_.path() + "/tocsin.db";
    roster_path_ = dir_.Write("roster.yaml", kRoster);
    auto db = store::Database::Open(db_path_);
    ASSERT_TRUE(db);
    store::SqliteIncidentStore incidents(**db);
    ASSERT_TRUE(incidents.Migrate());
    for (auto& rec : Week().records) {
      // The store checks the chain; commit each incident with its whole timeline at once.
      incident::IncidentChange change{rec.incident, rec.timeline, {}, {}, {}};
      ASSERT_TRUE(incidents.Commit(change)) << rec.incident.id;
    }
  }
  testing::CommandResult Report(std::vector<std::string> extra) {
    std::vector<std::string> args = {"report", "oncall",     "--database", db_path_,
                                     "--from", "2026-11-02", "--to",       "2026-11-09"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.begin(), TOCSIN_BINARY);
    return testing::RunCommand(args);
  }
  testing::TempDir dir_;
  std::string db_path_;
  std::string roster_path_;
};

TEST_F(OncallReportCliTest, JsonFromTheStoreMatchesTheHandWorkedWeek) {
  auto r = Report({"--roster", roster_path_, "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["incidents"], 6);
  EXPECT_EQ(j["pages"], 8);
  EXPECT_EQ(j["l1_shifts"], 21);
  EXPECT_EQ(j["noisy"], 1);
  EXPECT_EQ(j["nights"][0]["person"], "kyiv");
  EXPECT_EQ(j["nights"][0]["wakeups"], 3);
}

// docs/reports.md shows this week's table; it must be what the command prints.
TEST_F(OncallReportCliTest, TheTableInTheDocsIsWhatTheCommandPrints) {
  auto r = Report({"--roster", roster_path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown =
      testing::FencedBlockAfter(std::string(TOCSIN_SOURCE_DIR) + "/docs/reports.md",
                                "$ tocsin report oncall --from 2026-11-02 --to 2026-11-09");
  EXPECT_EQ(shown, r.out) << "paste the command's output into docs/reports.md";
}

// The same figures on /metrics: refreshed on the simulated clock over the last 7 days from the
// real store, computed on an executor (inline here), series gone when their person leaves. The
// first refresh comes 15 s after the start, not beside the start's own loading.
TEST_F(OncallReportCliTest, MetricsOfTheRecentWindowAreTheHandWorkedWeek) {
  auto db = store::Database::Open(db_path_);
  ASSERT_TRUE(db);
  store::SqliteIncidentStore store(**db);
  auto schedule = std::make_shared<const oncall::Schedule>(LoadSchedule());
  prometheus::Registry registry;
  OncallMetrics metrics(registry);
  SimulatedScheduler scheduler(At("2026-11-08T23:59:45Z"));
  InlineExecutor executor;
  OncallMetricsRefresher refresher(
      scheduler, executor, store, [&] { return schedule; }, metrics,
      OncallMetricsRefresher::Options{});
  auto text = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  refresher.Start();
  scheduler.RunPending();
  using ::testing::HasSubstr;
  EXPECT_THAT(text(), ::testing::Not(HasSubstr("tocsin_oncall_incidents")));
  scheduler.AdvanceBy(std::chrono::seconds(14));
  EXPECT_THAT(text(), ::testing::Not(HasSubstr("tocsin_oncall_incidents")));
  scheduler.AdvanceBy(std::chrono::seconds(1));
  auto week = text();
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_window_seconds 604800\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_incidents 6\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_pages 8\n"));
  // Every page of the week is bare (no delivery recorded): none reached nobody.
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_pages_undelivered 0\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_person_pages_undelivered{person=\"kyiv\"} 0\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_mtta_seconds{domain=\"payments\",quantile=\"0.9\","
                              "sev=\"SEV-2\"} 600\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_mttr_seconds{domain=\"games\",quantile=\"0.5\","
                              "sev=\"SEV-3\"} 300\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_night_wakeups{person=\"kyiv\"} 3\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_nights_over_goal{person=\"kyiv\"} 1\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_rule_noisy_incidents{rule=\"FlakyProbe\"} 1\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_sev12_incidents_by_provider{provider=\"gp-x\"} 1\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_person_pages{person=\"gina\"} 2\n"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_load_max_over_mean 3\n"));
  // 1 of 6 noisy, 2 of 3 SEV-1/2 external, 1 of 6 reached L2 and the Duty Manager.
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_noisy_ratio 0.1666666666666"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_sev12_external_ratio 0.6666666666666"));
  EXPECT_THAT(week, HasSubstr("tocsin_oncall_reached_l2_ratio 0.1666666666666"));

  // A week on, only incident 6 (2026-11-10, SEV-1, open, kyiv paged at 03:00 Kyiv) is in the
  // window: the MTTA/MTTR and noisy-rule series of last week are gone, kyiv's night is within
  // the goal, gina holds shifts without a page, and no SEV-1/2 names a provider.
  scheduler.AdvanceTo(At("2026-11-17T00:00:00Z"));
  auto later = text();
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_incidents 1\n"));
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_night_wakeups{person=\"kyiv\"} 1\n"));
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_nights_over_goal{person=\"kyiv\"} 0\n"));
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_person_pages{person=\"gina\"} 0\n"));
  EXPECT_THAT(later, ::testing::Not(HasSubstr("tocsin_oncall_mtta_seconds{")));
  EXPECT_THAT(later, ::testing::Not(HasSubstr("tocsin_oncall_mttr_seconds{")));
  EXPECT_THAT(later, ::testing::Not(HasSubstr("rule=\"FlakyProbe\"")));
  EXPECT_THAT(later, ::testing::Not(HasSubstr("provider=")));
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_sev12_external_ratio 0\n"));
  EXPECT_THAT(later, HasSubstr("tocsin_oncall_refreshed_timestamp_seconds 1794873600\n"));
}

TEST_F(OncallReportCliTest, MistakesAreNamedWithTheFix) {
  auto missing = testing::RunCommand({TOCSIN_BINARY, "report", "oncall", "--database",
                                      dir_.path() + "/nope.db", "--no-roster", "--from",
                                      "2026-11-02", "--to", "2026-11-09"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("no database at " + dir_.path() + "/nope.db"));
  auto bad_date =
      testing::RunCommand({TOCSIN_BINARY, "report", "oncall", "--database", db_path_, "--no-roster",
                           "--from", "2026-11-02", "--to", "2026-13-40"});
  EXPECT_EQ(bad_date.exit_code, 2);
  EXPECT_THAT(bad_date.err, ::testing::HasSubstr("--to: \"2026-13-40\" is not a date"));
  auto backwards =
      testing::RunCommand({TOCSIN_BINARY, "report", "oncall", "--database", db_path_, "--no-roster",
                           "--from", "2026-11-09", "--to", "2026-11-02"});
  EXPECT_EQ(backwards.exit_code, 2);
  EXPECT_THAT(backwards.err, ::testing::HasSubstr("must be after --from"));
  auto zone = Report({"--no-roster", "--time-zone", "Europe/Kiev-ish"});
  EXPECT_EQ(zone.exit_code, 2);
  EXPECT_THAT(zone.err, ::testing::HasSubstr("not an IANA time zone"));
}

}  // namespace
}  // namespace tocsin::report
