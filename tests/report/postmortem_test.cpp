// The post-mortem draft of an incident whose timeline the real incident manager wrote to a
// real SQLite store on the simulated clock, compared with a golden Markdown file; the impact
// figure worked out by hand; the reminder of a SEV-1/2 without a post-mortem, on the
// simulated clock, sent once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fakes/source/fake_sli_source.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/report/postmortem.h"
#include "tocsin/report/postmortem_reminder.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::report {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kPostmortemRoster = R"(
people:
  olena: {name: Olena L1, time_zone: UTC}
  pavlo: {name: Pavlo Payments L2, time_zone: UTC}
  kira: {name: Kira Comms, time_zone: UTC}
  dmytro: {name: Dmytro Duty Manager, time_zone: UTC}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [olena]}
  l2-payments: {role: l2-payments, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [pavlo]}
  comms: {role: comms, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [kira]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [dmytro]}
)";

// Answers as the real outbox plans a page for PagerDuty and Slack: one delivery per channel
// carrying every person it reaches (the first channel of each target), at once.
class OutboxLikePager final : public incident::Pager {
 public:
  void Send(const incident::PageRequest& request, SendDone done) override {
    sent.push_back(request);
    incident::PageReceipt receipt;
    std::map<incident::Channel, std::vector<std::string>> people;
    for (const auto& t : request.targets) {
      if (!t.channels.empty()) people[t.channels.front()].push_back(t.person.id);
    }
    const bool trigger = request.action == incident::PageAction::kTrigger;
    for (const auto& [channel, ids] : people) {
      receipt.queued.push_back({channel, trigger ? "page" : "thread", "", ids});
    }
    done(std::move(receipt));
  }
  std::vector<incident::PageRequest> Of(const std::string& key_suffix) const {
    std::vector<incident::PageRequest> out;
    for (const auto& r : sent) {
      if (r.idempotency_key.ends_with(key_suffix)) out.push_back(r);
    }
    return out;
  }
  std::vector<incident::PageRequest> sent;
};

constexpr const char* kErrors = "sum(rate(deposit_errors_total[{{window}}]))";
constexpr const char* kTotal = "sum(rate(deposit_attempts_total[{{window}}]))";

// The real manager over a real SQLite file, on the simulated clock.
class PostmortemTest : public ::testing::Test {
 protected:
  // Monday 2026-11-23 10:00 UTC.
  const TimePoint t0_ = ParseTime("2026-11-23T10:00:00Z").value();
  SimulatedScheduler scheduler_{t0_};
  tocsin::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteIncidentStore> store_;
  OutboxLikePager pager_;
  std::unique_ptr<incident::IncidentManager> manager_;

  void SetUp() override {
    auto db = store::Database::Open(dir_.path() + "/tocsin.db");
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(*db);
    store_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    ASSERT_TRUE(store_->Migrate());
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kPostmortemRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    incident::PolicySet policies;
    policies.policies["default"] = incident::DefaultPolicy();
    manager_ = std::make_unique<incident::IncidentManager>(
        scheduler_, *store_, pager_, std::make_shared<const oncall::Schedule>(*roster), policies,
        incident::IncidentsConfig{});
    ASSERT_TRUE(manager_->Start());
  }

  static dispatch::AlertGroup Group(const std::string& key, const std::string& sev) {
    dispatch::AlertGroup g;
    g.key = key;
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    Alert a;
    a.labels = Labels{{"alertname", "DepositSuccessLow"},
                      {"domain", "payments"},
                      {"psp", "psp-a"},
                      {"market", "ua"},
                      {"brand", "luckyfox"},
                      {"slo", "deposit-success"},
                      {"sev", sev}};
    a.severity = Severity::kCritical;
    a.annotations["summary"] = "Deposit success 97.2 % (SLO 99.9 %)";
    a.annotations["runbook"] = "https://runbooks.example/payments/deposit-success.md";
    a.starts_at = ParseTime("2026-11-23T09:58:30Z").value();
    g.alerts.push_back(a);
    return g;
  }

  // 10:00 opened, L1 paged; 10:05 L2 and Comms paged; 10:07 Pavlo acknowledges from Slack;
  // 10:12 his note; 10:31 he resolves. MTTA 7m, MTTR 31m.
  std::string KnownIncident() {
    auto inc = manager_->Open(Group("g1", "2"), "tocsin", t0_);
    EXPECT_TRUE(inc) << inc.error().message();
    // The L1 page reached PagerDuty.
    incident::DeliveryReport sent;
    sent.incident_id = inc->id;
    sent.idempotency_key = pager_.sent.at(0).idempotency_key;
    sent.channel = incident::Channel::kPagerDuty;
    sent.original_channel = incident::Channel::kPagerDuty;
    sent.kind = "page";
    sent.outcome = incident::DeliveryOutcome::kSent;
    sent.status = 202;
    sent.at = t0_ + std::chrono::seconds(2);
    scheduler_.AdvanceTo(sent.at);
    manager_->OnDelivery(sent);
    scheduler_.AdvanceTo(t0_ + minutes(5));
    scheduler_.AdvanceTo(t0_ + minutes(7));
    EXPECT_TRUE(manager_->Acknowledge(inc->id, "pavlo", t0_ + minutes(7), "slack"));
    scheduler_.AdvanceTo(t0_ + minutes(12));
    EXPECT_TRUE(manager_->AddNote(inc->id, "pavlo", "routed deposits from psp-a to psp-b",
                                  t0_ + minutes(12), "slack"));
    scheduler_.AdvanceTo(t0_ + minutes(31));
    EXPECT_TRUE(manager_->Resolve(inc->id, "pavlo", t0_ + minutes(31), "slack"));
    return inc->id;
  }

  IncidentRecord Load(const std::string& id) {
    IncidentRecord r;
    r.incident = store_->Get(id).value().value();
    r.timeline = store_->Timeline(id).value();
    return r;
  }

  static rules::RuleSet Rules() {
    rules::RuleSet set;
    rules::RuleGroup g;
    g.name = "payments";
    g.source = "prometheus";
    rules::SloRule slo;
    slo.name = "deposit-success";
    slo.objective = 99.9;
    slo.window = hours(24 * 30);
    slo.error_query = kErrors;
    slo.total_query = kTotal;
    g.slos.push_back(slo);
    set.groups.push_back(g);
    return set;
  }
};

TEST_F(PostmortemTest, TheDraftOfAKnownTimelineIsTheGoldenMarkdown) {
  const auto id = KnownIncident();
  // 2 % errors over the incident's 31 minutes, asked at the resolve: burned
  // 0.02 x 1860 s / (0.001 x 2,592,000 s) = 37.2 / 2592 = 1.435 % of the 30-day budget.
  tocsin::testing::FakeSliSource prometheus("prometheus");
  const std::string query =
      "(sum(rate(deposit_errors_total[31m]))) / "
      "(sum(rate(deposit_attempts_total[31m])))";
  prometheus.SetValues(query, {{Labels{}, 0.02}});
  PostmortemInput in;
  in.record = Load(id);
  in.now = t0_ + hours(24);
  in.impact = MeasureImpact(
      in.record.incident, Rules(),
      [&](const std::string& name) -> source::SliSource* {
        return name == "prometheus" ? &prometheus : nullptr;
      },
      in.now);
  ASSERT_EQ(in.impact.size(), 1u);
  EXPECT_EQ(in.impact[0].query, query);
  EXPECT_EQ(prometheus.queries(query), 1u);
  ASSERT_TRUE(in.impact[0].budget_burned);
  EXPECT_NEAR(*in.impact[0].budget_burned, 37.2 / 2592.0, 1e-12);

  const std::string md = RenderPostmortem(in);
  const std::string golden =
      std::string(TOCSIN_SOURCE_DIR) + "/tests/testdata/report/postmortem.md";
  if (std::getenv("TOCSIN_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::trunc) << md;
  }
  EXPECT_EQ(md, tocsin::testing::ReadFile(golden))
      << "if the change is intended: TOCSIN_UPDATE_GOLDEN=1 and review the diff";
  // docs/reports.md shows this draft.
  EXPECT_EQ(tocsin::testing::FencedBlockAfter(std::string(TOCSIN_SOURCE_DIR) + "/docs/reports.md",
                                              "$ tocsin incidents postmortem INC-1"),
            md)
      << "paste tests/testdata/report/postmortem.md into docs/reports.md";
}

TEST_F(PostmortemTest, WithoutDataTheImpactSaysNotAvailable) {
  const auto id = KnownIncident();
  tocsin::testing::FakeSliSource prometheus("prometheus");  // answers nothing
  PostmortemInput in;
  in.record = Load(id);
  in.now = t0_ + hours(24);
  in.impact = MeasureImpact(
      in.record.incident, Rules(),
      [&](const std::string&) -> source::SliSource* { return &prometheus; }, in.now);
  ASSERT_EQ(in.impact.size(), 1u);
  EXPECT_FALSE(in.impact[0].error_ratio);
  EXPECT_THAT(RenderPostmortem(in),
              ::testing::HasSubstr("| deposit-success | 99.9 % over 30d | not available | not "
                                   "available | not available: prometheus has no data for the "
                                   "interval |"));
  prometheus.SetDown(true);
  auto down = MeasureImpact(
      in.record.incident, Rules(),
      [&](const std::string&) -> source::SliSource* { return &prometheus; }, in.now);
  EXPECT_THAT(down[0].unavailable, ::testing::HasSubstr("connection refused"));
  auto unknown = MeasureImpact(
      in.record.incident, rules::RuleSet{},
      [&](const std::string&) -> source::SliSource* { return nullptr; }, in.now);
  EXPECT_EQ(unknown[0].unavailable, "not available: no SLO of this name in the rule files");
}

incident::TimelineEvent Ev(TimePoint at, const char* kind, const char* actor,
                           nlohmann::json data = nlohmann::json::object()) {
  incident::TimelineEvent e;
  e.incident_id = "INC-9";
  e.at = at;
  e.kind = kind;
  e.actor = actor;
  e.text = kind;
  e.data = data.dump();
  return e;
}

// As the outbox reports a PagerDuty delivery: kind "page", the people named when it is queued.
nlohmann::json DeliveryData(const std::string& key, const char* state) {
  nlohmann::json d{{"idempotency_key", key}, {"channel", "pagerduty"}, {"via", "pagerduty"},
                   {"kind", "page"},         {"person", ""},           {"state", state}};
  if (std::string_view(state) == "queued") d["people"] = nlohmann::json::array({"olena"});
  return d;
}

// olena paged twice (the ladder's repeat): each page has its own delivery's outcome. The
// incident was reopened and acknowledged again: the summary's ack is the first one.
TEST(PostmortemDraftTest, EachPageHasItsOwnDeliveriesAndTheAckIsTheFirst) {
  const TimePoint t0 = *ParseTime("2026-11-23T10:00:00Z");
  PostmortemInput in;
  auto& inc = in.record.incident;
  inc.id = "INC-9";
  inc.title = "Deposits failing";
  inc.opened_at = t0;
  inc.state = incident::IncidentState::kAcknowledged;
  inc.acknowledged_at = t0 + minutes(40);  // the second ack: a reopen cleared the first
  inc.acknowledged_by = "pavlo";
  auto page = [&](TimePoint at, const std::string& key) {
    return Ev(at, "page_decided", "tocsin",
              {{"step", 0},
               {"idempotency_key", key},
               {"targets", nlohmann::json::array({{{"person", "olena"}, {"role", "l1"}}})}});
  };
  auto& tl = in.record.timeline;
  tl.push_back(Ev(t0, "opened", "tocsin"));
  tl.push_back(page(t0, "INC-9/step-0/trigger"));
  tl.push_back(Ev(t0, "queued", "tocsin", DeliveryData("INC-9/step-0/trigger", "queued")));
  tl.push_back(
      Ev(t0 + minutes(1), "failed", "tocsin", DeliveryData("INC-9/step-0/trigger", "failed")));
  tl.push_back(Ev(t0 + minutes(2), "acknowledged", "pavlo"));
  tl.push_back(Ev(t0 + minutes(10), "resolved", "pavlo"));
  tl.push_back(Ev(t0 + minutes(14), "reopened", "tocsin"));
  tl.push_back(page(t0 + minutes(15), "INC-9/e1/step-0/trigger"));
  tl.push_back(
      Ev(t0 + minutes(15), "queued", "tocsin", DeliveryData("INC-9/e1/step-0/trigger", "queued")));
  tl.push_back(
      Ev(t0 + minutes(15), "sent", "tocsin", DeliveryData("INC-9/e1/step-0/trigger", "sent")));
  tl.push_back(Ev(t0 + minutes(40), "acknowledged", "pavlo"));
  in.now = t0 + hours(1);
  const auto md = RenderPostmortem(in);
  EXPECT_THAT(md, ::testing::HasSubstr("| olena | l1 | +0s | pagerduty failed |\n"
                                       "| olena | l1 | +15m | pagerduty sent |\n"));
  EXPECT_THAT(
      md, ::testing::HasSubstr("| Acknowledged | 2026-11-23 10:02:00 UTC by pavlo (MTTA 2m) |"));
  EXPECT_THAT(md, ::testing::HasSubstr("MTTA 2m (opened to acknowledged)"));
  EXPECT_THAT(md, ::testing::HasSubstr("## Runbook linked from the alerts"));

  // Open and not acknowledged yet: "not yet", and nobody has acted yet.
  PostmortemInput open;
  open.record.incident = inc;
  open.record.incident.state = incident::IncidentState::kTriggered;
  open.record.timeline = {tl[0], tl[1]};
  open.now = in.now;
  const auto fresh = RenderPostmortem(open);
  EXPECT_THAT(fresh, ::testing::HasSubstr("| Acknowledged | not yet |"));
  EXPECT_THAT(fresh, ::testing::HasSubstr("Nobody yet: no person has acted on the incident."));
  EXPECT_THAT(fresh, ::testing::HasSubstr("| olena | l1 | +0s | no delivery recorded |"));
}

TEST(PostmortemDueTest, FiveBusinessDaysSkipTheWeekend) {
  // Friday 10:00 -> the next Friday 10:00; Monday -> Monday; Saturday -> Friday.
  EXPECT_EQ(PostmortemDue(*ParseTime("2026-11-27T10:00:00Z"), 5),
            *ParseTime("2026-12-04T10:00:00Z"));
  EXPECT_EQ(PostmortemDue(*ParseTime("2026-11-23T10:00:00Z"), 5),
            *ParseTime("2026-11-30T10:00:00Z"));
  EXPECT_EQ(PostmortemDue(*ParseTime("2026-11-28T10:00:00Z"), 5),
            *ParseTime("2026-12-04T10:00:00Z"));
}

TEST_F(PostmortemTest, ASev2WithoutAPostmortemIsRemindedOnceAfterFiveBusinessDays) {
  // Resolved Monday 10:31: due Monday 2026-11-30 10:31.
  const auto sev2 = KnownIncident();
  // A SEV-2 whose post-mortem is recorded, and a SEV-3: neither is ever reminded.
  auto done = manager_->Open(Group("g2", "2"), "tocsin", t0_ + minutes(40));
  ASSERT_TRUE(done);
  ASSERT_TRUE(manager_->Resolve(done->id, "olena", t0_ + minutes(50)));
  std::optional<Result<incident::Incident>> recorded;
  manager_->RecordPostmortemAsync(done->id, "olena", "https://wiki.example/pm/INC-2",
                                  t0_ + hours(2),
                                  [&](Result<incident::Incident> r) { recorded = r; });
  ASSERT_TRUE(recorded && *recorded) << (recorded ? recorded->error().message() : "no answer");
  auto minor = manager_->Open(Group("g3", "3"), "tocsin", t0_ + minutes(45));
  ASSERT_TRUE(minor);
  ASSERT_TRUE(manager_->Resolve(minor->id, "olena", t0_ + minutes(55)));

  auto reminders = [&](const std::string& id) {
    int n = 0;
    auto timeline = store_->Timeline(id);
    EXPECT_TRUE(timeline);
    for (const auto& e : *timeline) n += e.kind == kEventPostmortemReminder;
    return n;
  };
  auto reminder_pages = [&] { return pager_.Of("/postmortem-reminder").size(); };
  PostmortemReminder reminder(scheduler_, *manager_, PostmortemReminder::Options{});
  reminder.Start();
  // Friday 2026-11-27 is four business days on: nothing yet.
  scheduler_.AdvanceTo(*ParseTime("2026-11-30T10:00:00Z"));
  EXPECT_EQ(reminders(sev2), 0);
  EXPECT_EQ(reminder_pages(), 0u);
  // The first hourly check after Monday 10:31 (11:00) reminds the war room, once.
  scheduler_.AdvanceTo(*ParseTime("2026-11-30T11:00:00Z"));
  EXPECT_EQ(reminders(sev2), 1);
  ASSERT_EQ(reminder_pages(), 1u);
  const auto page = pager_.Of("/postmortem-reminder")[0];
  EXPECT_EQ(page.action, incident::PageAction::kReminder);
  EXPECT_EQ(page.incident_id, sev2);
  EXPECT_EQ(page.idempotency_key, sev2 + "/postmortem-reminder");
  EXPECT_EQ(page.text,
            sev2 +
                " (SEV-2, resolved 2026-11-23T10:31:00Z) has no post-mortem after 5 business "
                "days: `tocsin incidents postmortem " +
                sev2 + "` drafts it, `--done URL` records it");
  scheduler_.AdvanceTo(*ParseTime("2026-12-10T11:00:00Z"));
  EXPECT_EQ(reminders(sev2), 1);
  EXPECT_EQ(reminders(done->id), 0);
  EXPECT_EQ(reminders(minor->id), 0);
  // A restarted daemon remembers nothing in memory; the timeline still says it was done.
  PostmortemReminder after_restart(scheduler_, *manager_, PostmortemReminder::Options{});
  after_restart.Start();
  scheduler_.AdvanceBy(hours(3));
  EXPECT_EQ(reminders(sev2), 1);
  EXPECT_EQ(reminder_pages(), 1u);
}

TEST_F(PostmortemTest, TheCommandWritesTheDraftFromTheStore) {
  const auto id = KnownIncident();
  const std::string out = dir_.path() + "/pm.md";
  // No configuration anywhere: $TOCSIN_CONFIG names a file that does not exist.
  const std::string no_config = "TOCSIN_CONFIG=" + dir_.path() + "/absent.yaml";
  auto r = tocsin::testing::RunCommand({"/usr/bin/env", no_config, TOCSIN_BINARY, "incidents",
                                        "postmortem", id, "--database", dir_.path() + "/tocsin.db",
                                        "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("wrote the post-mortem draft of " + id + " to " + out));
  auto md = tocsin::testing::ReadFile(out);
  EXPECT_THAT(md, ::testing::HasSubstr("| SEV | SEV-2 |"));
  EXPECT_THAT(md, ::testing::HasSubstr("MTTA 7m (opened to acknowledged), MTTR 31m"));
  // No configuration read: the SLO's query is unknown, and the draft says so.
  EXPECT_THAT(md, ::testing::HasSubstr("## Impact\n\nNot available: no configuration was read"));
  auto missing = tocsin::testing::RunCommand({"/usr/bin/env", no_config, TOCSIN_BINARY, "incidents",
                                              "postmortem", "INC-99", "--database",
                                              dir_.path() + "/tocsin.db"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("no incident INC-99 in"));
}

}  // namespace
}  // namespace tocsin::report
