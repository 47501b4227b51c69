// Acceptance timelines for DOMAIN.md's ladder on the simulated clock: nothing here sleeps.
#include <gmock/gmock.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "incident/incident_test_support.h"

namespace tocsin::incident {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(IncidentTest, WholeLadderL1AtT0L2AndCommsAt5mDutyManagerAt10m) {
  Build();
  // t=0: deposits fail at a PSP; the dispatcher hands over the group.
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  // L1 (and the newcomer shadowing them) is paged at once.
  EXPECT_THAT(pager_.PagedPeople(), ElementsAre("l1a", "newbie"));
  EXPECT_EQ(pager_.Triggers()[0].idempotency_key, "INC-1/step-0/trigger");
  EXPECT_EQ(pager_.Triggers()[0].targets[1].role, "shadow");
  // t=4m59s: nobody else yet.
  AdvanceTo(minutes(5) - seconds(1));
  EXPECT_EQ(pager_.Triggers().size(), 1u);
  // t=5m: the payments L2 and the Comms officer.
  AdvanceTo(minutes(5));
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  EXPECT_THAT(pager_.PagedPeople(), ElementsAre("l1a", "newbie", "pay", "comms"));
  EXPECT_EQ(pager_.Triggers()[1].at, At(minutes(5)));
  EXPECT_EQ(pager_.Triggers()[1].idempotency_key, "INC-1/step-1/trigger");
  // t=10m: the Duty Manager.
  AdvanceTo(minutes(10));
  ASSERT_EQ(pager_.Triggers().size(), 3u);
  EXPECT_EQ(pager_.Triggers()[2].targets[0].person.id, "dm");
  EXPECT_EQ(pager_.Triggers()[2].at, At(minutes(10)));
  // The ladder is exhausted: an hour later nothing more was paged.
  AdvanceTo(minutes(70));
  EXPECT_EQ(pager_.Triggers().size(), 3u);
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.sev, Sev::kSev2);
  EXPECT_EQ(inc.commander, "l1a");
  EXPECT_EQ(inc.state, IncidentState::kTriggered);
}

TEST_F(IncidentTest, AckAt6MinutesMeansTheDutyManagerIsNeverPaged) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(6));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(6))));
  AdvanceTo(minutes(60));
  EXPECT_FALSE(pager_.Paged("dm"));
  EXPECT_THAT(pager_.PagedPeople(), ElementsAre("l1a", "newbie", "pay", "comms"));
  ASSERT_EQ(pager_.OfAction(PageAction::kAcknowledge).size(), 1u);
  EXPECT_EQ(pager_.OfAction(PageAction::kAcknowledge)[0].actor, "l1a");
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.state, IncidentState::kAcknowledged);
  EXPECT_EQ(inc.acknowledged_at, At(minutes(6)));
}

TEST_F(IncidentTest, AlertWithoutDomainGoesToTheDefaultDomainL2) {
  Build();
  manager_->OnGroupFlush(Group(""), At(minutes(0)));
  AdvanceTo(minutes(5));
  EXPECT_TRUE(pager_.Paged("sre"));
  EXPECT_FALSE(pager_.Paged("pay"));
}

TEST_F(IncidentTest, AckBySomeoneOutsideTheRosterIsRefusedAndTheLadderGoesOn) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  auto r = manager_->Acknowledge("INC-1", "mallory", At(minutes(1)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kUnauthorized);
  AdvanceTo(minutes(10));
  EXPECT_TRUE(pager_.Paged("dm"));
}

TEST_F(IncidentTest, AckTimeoutReEscalatesFromWhereTheLadderStopped) {
  config_.ack_timeout = minutes(10);
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(2));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(2))));
  // t=11m59: still acknowledged, nobody else paged (the ack froze the ladder).
  AdvanceTo(minutes(12) - seconds(1));
  EXPECT_EQ(pager_.Triggers().size(), 1u);
  // t=12m: the ack expired unresolved; step 2 (L2 + Comms) goes out at once.
  AdvanceTo(minutes(12));
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  EXPECT_EQ(pager_.Triggers()[1].idempotency_key, "INC-1/e1/step-1/trigger");
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kTriggered);
  // ... and the Duty Manager 5 minutes later, keeping the ladder's spacing.
  AdvanceTo(minutes(17));
  ASSERT_EQ(pager_.Triggers().size(), 3u);
  EXPECT_EQ(pager_.Triggers()[2].targets[0].person.id, "dm");
  auto kinds = Kinds("INC-1");
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "ack_timeout"), kinds.end());
}

TEST_F(IncidentTest, RepeatRunsTheLadderAgainWhenNobodyAcknowledges) {
  policies_.policies["default"].repeat = 1;
  policies_.policies["default"].repeat_after = minutes(5);
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(15) - seconds(1));
  EXPECT_EQ(pager_.Triggers().size(), 3u);
  AdvanceTo(minutes(15));  // last step at 10m + repeat_after 5m: L1 again
  ASSERT_EQ(pager_.Triggers().size(), 4u);
  EXPECT_EQ(pager_.Triggers()[3].targets[0].person.id, "l1a");
  EXPECT_EQ(pager_.Triggers()[3].idempotency_key, "INC-1/e1/step-0/trigger");
  AdvanceTo(minutes(120));
  EXPECT_EQ(pager_.Triggers().size(), 6u);  // one repeat only
}

TEST_F(IncidentTest, IncidentResolvesItselfWhenAllItsAlertsResolve) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(3));
  manager_->OnGroupFlush(Group("payments", Severity::kCritical, false), At(minutes(3)));
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.state, IncidentState::kResolved);
  EXPECT_EQ(inc.resolved_by, "tocsin");
  EXPECT_EQ(LastTransition("INC-1"), "auto_resolved");
  ASSERT_EQ(pager_.OfAction(PageAction::kResolve).size(), 1u);
  AdvanceTo(minutes(30));
  EXPECT_EQ(pager_.Triggers().size(), 1u);  // resolved: the ladder stopped
}

TEST_F(IncidentTest, ManualResolvePolicyWaitsForAHuman) {
  config_.resolve = ResolveMode::kManual;
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  manager_->OnGroupFlush(Group("payments", Severity::kCritical, false), At(minutes(3)));
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kAcknowledged);
  ASSERT_TRUE(manager_->Resolve("INC-1", "l1a", At(minutes(4))));
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kResolved);
  EXPECT_EQ(LastTransition("INC-1"), "resolved");
}

TEST_F(IncidentTest, GroupFiringAgainSoonAfterResolveReopensTheIncident) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  manager_->OnGroupFlush(Group("payments", Severity::kCritical, false), At(minutes(2)));
  AdvanceTo(minutes(10));
  manager_->OnGroupFlush(Group("payments"), At(minutes(10)));
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.state, IncidentState::kTriggered);
  EXPECT_EQ(pager_.Triggers().back().idempotency_key, "INC-1/e1/step-0/trigger");
  EXPECT_EQ(manager_->List({}).value().size(), 1u);
}

TEST_F(IncidentTest, Sev2CommanderIsRemindedEvery15Minutes) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  AdvanceTo(minutes(15) - seconds(1));
  EXPECT_THAT(pager_.OfAction(PageAction::kReminder), IsEmpty());
  AdvanceTo(minutes(46));
  auto reminders = pager_.OfAction(PageAction::kReminder);
  ASSERT_EQ(reminders.size(), 3u);
  EXPECT_EQ(reminders[0].at, At(minutes(15)));
  EXPECT_EQ(reminders[1].at, At(minutes(30)));
  EXPECT_EQ(reminders[2].at, At(minutes(45)));
  EXPECT_EQ(reminders[0].targets[0].person.id, "l1a");
  // A status note counts as the update: the next reminder is a full interval after it.
  ASSERT_TRUE(
      manager_->AddNote("INC-1", "l1a", "PSP-A failing, 50 % routed to PSP-B", At(minutes(46))));
  AdvanceTo(minutes(61) - seconds(1));
  EXPECT_EQ(pager_.OfAction(PageAction::kReminder).size(), 3u);
  AdvanceTo(minutes(61));
  EXPECT_EQ(pager_.OfAction(PageAction::kReminder).size(), 4u);
}

TEST_F(IncidentTest, Sev3GetsNoReminders) {
  Build();
  manager_->OnGroupFlush(Group("payments", Severity::kError), At(minutes(0)));
  EXPECT_EQ(manager_->Get("INC-1")->sev, Sev::kSev3);
  AdvanceTo(minutes(90));
  EXPECT_THAT(pager_.OfAction(PageAction::kReminder), IsEmpty());
}

TEST_F(IncidentTest, SevLabelMakesACriticalAlertSev1) {
  Build();
  auto g = Group("payments");
  g.alerts[0].labels = g.alerts[0].labels.With("sev", "1");
  manager_->OnGroupFlush(g, At(minutes(0)));
  EXPECT_EQ(manager_->Get("INC-1")->sev, Sev::kSev1);
}

TEST_F(IncidentTest, ShiftHandoverPassesTheOpenIncidentToTheNextL1WhoIsTold) {
  Build();
  // 19:50 UTC: l1a is on the day shift; l1b takes over at 20:00.
  AdvanceTo(std::chrono::hours(9) + minutes(50));
  manager_->OnGroupFlush(Group("payments"), scheduler_.clock().Now());
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", scheduler_.clock().Now()));
  EXPECT_EQ(manager_->Get("INC-1")->commander, "l1a");
  AdvanceTo(std::chrono::hours(10));
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.commander, "l1b");
  auto updates = pager_.OfAction(PageAction::kUpdate);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].targets[0].person.id, "l1b");
  EXPECT_NE(updates[0].text.find("handed over by l1a"), std::string::npos);
  EXPECT_EQ(LastTransition("INC-1"), "handover");
  // Reminders now go to the new commander.
  AdvanceTo(std::chrono::hours(10) + minutes(10));
  EXPECT_EQ(pager_.OfAction(PageAction::kReminder).back().targets[0].person.id, "l1b");
}

TEST_F(IncidentTest, OverrideCoverPagesTheCoveringPerson) {
  Build(R"(
overrides:
  - {type: cover, rotation: l1, from: "2026-11-23T09:00", to: "2026-11-23T12:00", person: l1c, replaces: l1a, reason: dentist}
)");
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  EXPECT_EQ(pager_.Triggers()[0].targets[0].person.id, "l1c");
  EXPECT_EQ(manager_->Get("INC-1")->commander, "l1c");
}

TEST_F(IncidentTest, RestartResumesOnOriginalDeadlinesWithoutPagingTwice) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(7));
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  // The process dies at 7m and comes back at 12m: the Duty Manager step (due at 10m) fell due
  // while it was down.
  manager_.reset();
  scheduler_.AdvanceTo(At(minutes(12)));
  testing::RecordingPager after;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  ASSERT_EQ(after.Triggers().size(), 1u);  // fired once, at once
  EXPECT_EQ(after.Triggers()[0].targets[0].person.id, "dm");
  EXPECT_EQ(after.Triggers()[0].at, At(minutes(12)));
  EXPECT_EQ(after.Triggers()[0].idempotency_key, "INC-1/step-2/trigger");
  scheduler_.AdvanceTo(At(minutes(90)));
  EXPECT_EQ(after.Triggers().size(), 1u);
  auto keys = store_.PageKeys("INC-1").value();
  ASSERT_GE(keys.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(keys.begin(), keys.begin() + 3),
              ElementsAre("INC-1/step-0/trigger", "INC-1/step-1/trigger", "INC-1/step-2/trigger"));
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size());
  EXPECT_TRUE(restarted.Verify("INC-1")->ok);
}

TEST_F(IncidentTest, RestartBeforeAnyDeadlineRearmsTheOriginalOne) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(2));
  manager_.reset();
  scheduler_.AdvanceTo(At(minutes(3)));
  testing::RecordingPager after;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  EXPECT_TRUE(after.Triggers().empty());
  scheduler_.AdvanceTo(At(minutes(5) - seconds(1)));
  EXPECT_TRUE(after.Triggers().empty());
  scheduler_.AdvanceTo(At(minutes(5)));
  ASSERT_EQ(after.Triggers().size(), 1u);
  EXPECT_EQ(after.Triggers()[0].at, At(minutes(5)));
}

TEST_F(IncidentTest, PageDecidedButNotHandedOffIsResentWithTheSameKey) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  // Simulate a crash between the commit and Pager::Send: the intent is not handed off.
  incident::IncidentChange change;
  change.incident = manager_->Get("INC-1").value();
  PageRequest lost;
  lost.incident_id = "INC-1";
  lost.idempotency_key = "INC-1/lost";
  change.pages.push_back(lost);
  ASSERT_TRUE(store_.Commit(change));
  manager_.reset();
  testing::RecordingPager after;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  scheduler_.RunPending();  // handed on the loop's next turn
  ASSERT_EQ(after.sent.size(), 1u);
  EXPECT_EQ(after.sent[0].idempotency_key, "INC-1/lost");
  EXPECT_TRUE(store_.PendingPages()->empty());
}

// After a storm, thousands of pages had their "queued" record but not yet the intent's
// handed-off mark (a later commit of its own) when the daemon was killed; the restart handed
// each again before serving. The mark now rides in the commit of the record.
TEST_F(IncidentTest, TheQueuedRecordMarksTheIntentHandedOffInTheSameCommit) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_EQ(pager_.sent.size(), 1u);
  const std::string key = pager_.sent[0].idempotency_key;
  EXPECT_TRUE(store_.PendingPages()->empty());
  EXPECT_EQ(store_.separate_marks, 0) << "marked by a write of its own";
  int carrying = 0;
  for (const auto& change : store_.committed) {
    const bool queued = std::any_of(change.events.begin(), change.events.end(),
                                    [](const TimelineEvent& e) { return e.kind == "queued"; });
    const bool marks = std::count(change.handed_off.begin(), change.handed_off.end(), key) > 0;
    EXPECT_EQ(queued, marks) << "a commit records \"queued\" without the mark, or the reverse";
    carrying += marks;
  }
  EXPECT_EQ(carrying, 1);
}

// Regression: after a storm the restart handed pending pages a chunk per loop turn while the
// API already served, so an ack in between handed its acknowledge before the incident's older
// trigger (a provider drops an acknowledge for a key it does not know, then pages anew). The
// pages are still handed in chunks after Start() returns (handing thousands before serving
// slowed the restart), in the order decided, and an ack taken before they are all queued waits
// in the incident's lane behind them.
TEST_F(IncidentTest, PendingPagesAreHandedInTheirOrderAndAnAckWaitsBehindThem) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  incident::IncidentChange change;
  change.incident = manager_->Get("INC-1").value();
  const std::size_t n = 2 * 256 + 3;  // more than two of the restart's chunks
  for (std::size_t i = 0; i < n; ++i) {
    PageRequest p;
    p.incident_id = "INC-1";
    p.idempotency_key = "INC-1/pending-" + std::to_string(1000 + i);  // sorts as decided
    change.pages.push_back(p);
  }
  ASSERT_TRUE(store_.Commit(change));
  manager_.reset();
  testing::RecordingPager after;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  EXPECT_TRUE(after.sent.empty()) << "handed before serving";
  // The API serves: an ack arrives before the loop has handed anything.
  std::optional<Result<Incident>> acked;
  restarted.AcknowledgeAsync("INC-1", "l1a", scheduler_.clock().Now(), "api", std::nullopt,
                             [&](Result<Incident> r) { acked = std::move(r); });
  EXPECT_FALSE(acked.has_value()) << "the ack did not wait for the incident's older pages";
  scheduler_.RunPending();
  ASSERT_TRUE(acked.has_value());
  ASSERT_TRUE(*acked) << acked->error().message();
  ASSERT_EQ(after.sent.size(), n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(after.sent[i].idempotency_key, "INC-1/pending-" + std::to_string(1000 + i));
  }
  EXPECT_EQ(after.sent[n].action, incident::PageAction::kAcknowledge) << "the ack's page last";
}

// One pending page of INC-1 (a trigger decided before a restart, its "queued" record lost).
void CommitPendingTrigger(testing::MemoryIncidentStore& store, const Incident& inc) {
  incident::IncidentChange change;
  change.incident = inc;
  PageRequest p;
  p.incident_id = inc.id;
  p.idempotency_key = inc.id + "/pending";
  change.pages.push_back(p);
  ASSERT_TRUE(store.Commit(change));
}

// The review of the change above: a failed outbox write let go of the lane, so an ack taken
// before the retry queued its acknowledge before the incident's trigger.
TEST_F(IncidentTest, APendingPageWhoseOutboxWriteFailsStillGoesBeforeAnAck) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_NO_FATAL_FAILURE(CommitPendingTrigger(store_, manager_->Get("INC-1").value()));
  manager_.reset();
  testing::RecordingPager after;
  after.fail_sends = true;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  std::optional<Result<Incident>> acked;
  restarted.AcknowledgeAsync("INC-1", "l1a", scheduler_.clock().Now(), "api", std::nullopt,
                             [&](Result<Incident> r) { acked = std::move(r); });
  scheduler_.RunPending();
  EXPECT_EQ(after.failed_sends, 1);
  EXPECT_FALSE(acked.has_value()) << "the ack went ahead of a trigger the outbox did not have";
  after.fail_sends = false;
  scheduler_.AdvanceBy(std::chrono::seconds(1));  // the first retry (PageHandoff::kFirstRetry)
  ASSERT_TRUE(acked.has_value());
  ASSERT_TRUE(*acked) << acked->error().message();
  ASSERT_EQ(after.sent.size(), 2u);
  EXPECT_EQ(after.sent[0].idempotency_key, "INC-1/pending");
  EXPECT_EQ(after.sent[1].action, incident::PageAction::kAcknowledge);
}

// Stopped before the pending pages were handed (a SIGTERM right after the restart): the
// changes waiting in their incidents' lanes go on, as they do without pending pages; the pages
// stay intents for the next start.
TEST_F(IncidentTest, StopBeforeThePendingPagesAreHandedLetsTheWaitingChangesGoOn) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_NO_FATAL_FAILURE(CommitPendingTrigger(store_, manager_->Get("INC-1").value()));
  manager_.reset();
  testing::RecordingPager after;
  IncidentManager restarted(scheduler_, store_, after, schedule_, policies_, config_);
  ASSERT_TRUE(restarted.Start());
  std::optional<Result<Incident>> noted;
  restarted.AddNoteAsync("INC-1", "l1a", "looking", scheduler_.clock().Now(), "api", std::nullopt,
                         [&](Result<Incident> r) { noted = std::move(r); });
  restarted.Stop();
  scheduler_.RunPending();
  ASSERT_TRUE(noted.has_value()) << "the note waits forever in a lane nobody releases";
  EXPECT_TRUE(*noted) << noted->error().message();
  EXPECT_TRUE(after.sent.empty()) << "handed after Stop()";
  auto pending = store_.PendingPages();
  ASSERT_TRUE(pending && !pending->empty());
  EXPECT_EQ(pending->front().request.idempotency_key, "INC-1/pending")
      << "not kept for the next start";
}

TEST_F(IncidentTest, StoreOutageAnnouncesNothingAndRetries) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  store_.fail_commits = true;
  AdvanceTo(minutes(5));
  EXPECT_EQ(pager_.Triggers().size(), 1u);  // not durable: not announced
  store_.fail_commits = false;
  AdvanceTo(minutes(5) + seconds(10));
  EXPECT_EQ(pager_.Triggers().size(), 2u);
}

TEST_F(IncidentTest, DeliveryReportsLandInTheTimeline) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  DeliveryReport rep;
  rep.incident_id = "INC-1";
  rep.idempotency_key = "INC-1/step-0/trigger";
  rep.person_id = "l1a";
  rep.channel = Channel::kPagerDuty;
  rep.original_channel = Channel::kPagerDuty;
  rep.kind = "page";
  rep.outcome = DeliveryOutcome::kFailed;
  rep.status = 400;
  rep.detail = "pagerduty: HTTP 400 invalid routing key";
  rep.at = At(seconds(3));
  manager_->OnDelivery(rep);
  auto timeline = store_.Timeline("INC-1");
  const auto& events = timeline.value();
  EXPECT_EQ(events.back().kind, "failed");
  EXPECT_NE(events.back().text.find("given up"), std::string::npos) << events.back().text;
  EXPECT_NE(events.back().text.find("HTTP 400 invalid routing key"), std::string::npos);
  auto data = nlohmann::json::parse(events.back().data);
  EXPECT_EQ(data["state"], "failed");
  EXPECT_EQ(data["permanent"], true);
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
}

// The timeline used to say "paged l1a (l1), newbie (shadow) via pagerduty, slack" when the page
// was merely decided, and whatever the outbox did with it.
TEST_F(IncidentTest, TimelineSaysDecidedThenQueuedNeverPagedViaEveryChannel) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  auto events = store_.Timeline("INC-1").value();
  std::vector<std::string> kinds;
  for (const auto& e : events) {
    kinds.push_back(e.kind);
    EXPECT_EQ(e.text.find("via pagerduty, slack"), std::string::npos) << e.text;
  }
  auto decided = std::find(kinds.begin(), kinds.end(), "page_decided");
  ASSERT_NE(decided, kinds.end());
  // One queued event per delivery the Pager's receipt names, after the decision.
  EXPECT_EQ(std::count(decided, kinds.end(), "queued"), 2);
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "notified"), kinds.end());
}

// An outbox write that failed while the incident opened lost the page, and the timeline said
// it had paged.
TEST_F(IncidentTest, PageTheOutboxRefusedIsRetriedUntilQueuedAndOnlyThenSaysQueued) {
  Build();
  pager_.fail_sends = true;
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  EXPECT_TRUE(pager_.sent.empty());
  EXPECT_EQ(pager_.failed_sends, 1);
  auto kinds = Kinds("INC-1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "queued"), 0);
  EXPECT_EQ(store_.PendingPages()->size(), 1u) << "the intent stays for a restart";
  AdvanceTo(seconds(10));  // retries at 1s, 3s, 7s: all refused
  EXPECT_EQ(pager_.failed_sends, 4);
  pager_.fail_sends = false;
  AdvanceTo(seconds(15));  // the retry at 15s gets through
  ASSERT_EQ(pager_.Triggers().size(), 1u);
  EXPECT_EQ(pager_.Triggers()[0].idempotency_key, "INC-1/step-0/trigger");
  kinds = Kinds("INC-1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "queued"), 2);
  EXPECT_TRUE(store_.PendingPages()->empty());
  AdvanceTo(minutes(1));
  EXPECT_EQ(pager_.Triggers().size(), 1u) << "queued once, never again";
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
}

// A retry timer of the incidents outlived the manager and fired into freed memory.
TEST_F(IncidentTest, StoppedManagerLeavesNoTimerBehind) {
  Build();
  pager_.fail_sends = true;
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_GT(scheduler_.pending_timers(), 0u);
  manager_->Stop();
  EXPECT_EQ(scheduler_.pending_timers(), 0u);
  manager_.reset();
  AdvanceTo(minutes(60));  // nothing fires (ASan would see a use after free)
  EXPECT_EQ(pager_.failed_sends, 1);
}

// A reload re-arms every incident's timers. While a refused ladder step waits for its retry,
// that must not leave two timers that each page a step: the L2 would be paged, then the Duty
// Manager minutes early.
TEST_F(IncidentTest, ReloadWhileAStepRetryWaitsPagesThatStepOnce) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(5) - seconds(1));
  store_.fail_commits = true;
  AdvanceTo(minutes(5) + seconds(2));  // the step at 5m is refused, its retry waits
  EXPECT_EQ(pager_.Triggers().size(), 1u);
  manager_->Reconfigure(schedule_, policies_, config_);
  store_.fail_commits = false;
  AdvanceTo(minutes(9));
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  EXPECT_EQ(pager_.Triggers()[1].idempotency_key, "INC-1/step-1/trigger");
  EXPECT_FALSE(pager_.Paged("dm")) << "the Duty Manager's step is due at 10m, not earlier";
  AdvanceTo(minutes(10));
  EXPECT_TRUE(pager_.Paged("dm"));
}

// A store that refused the handover was ignored: the new commander was never recorded.
TEST_F(IncidentTest, HandoverTheStoreRefusedIsRetried) {
  Build();
  AdvanceTo(std::chrono::hours(9) + minutes(50));
  manager_->OnGroupFlush(Group("payments"), scheduler_.clock().Now());
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", scheduler_.clock().Now()));
  store_.fail_commits = true;
  AdvanceTo(std::chrono::hours(10));
  EXPECT_EQ(manager_->Get("INC-1")->commander, "l1a");
  store_.fail_commits = false;
  AdvanceTo(std::chrono::hours(10) + seconds(10));
  EXPECT_EQ(manager_->Get("INC-1")->commander, "l1b");
  EXPECT_EQ(pager_.OfAction(PageAction::kUpdate).size(), 1u);
}

TEST_F(IncidentTest, TimelineEditIsDetectedByVerify) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  ASSERT_TRUE(manager_->Verify("INC-1")->ok);
  auto& events = store_.timeline("INC-1");
  auto ack = std::find_if(events.begin(), events.end(),
                          [](const TimelineEvent& e) { return e.kind == "acknowledged"; });
  ASSERT_NE(ack, events.end());
  ack->actor = "l1b";  // someone rewrites who acknowledged
  auto v = manager_->Verify("INC-1").value();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, ack->seq);
  ack->actor = "l1a";
  events.pop_back();  // or drops the newest event
  EXPECT_FALSE(manager_->Verify("INC-1")->ok);
}

}  // namespace
}  // namespace tocsin::incident

namespace tocsin::incident {
namespace {

TEST_F(IncidentTest, DomainWithoutItsOwnL2FallsBackToTheDefaultDomainAndSaysSo) {
  Build();
  manager_->OnGroupFlush(Group("kyc"), At(minutes(0)));
  AdvanceTo(minutes(5));
  EXPECT_TRUE(pager_.Paged("sre"));
  auto events = store_.Timeline("INC-1").value();
  bool said = std::any_of(events.begin(), events.end(), [](const TimelineEvent& e) {
    return e.text.find("nobody holds l2-kyc") != std::string::npos;
  });
  EXPECT_TRUE(said);
}

TEST_F(IncidentTest, StepWhoseRoleNobodyHoldsPagesTheReserveInstead) {
  EscalationTarget nobody;
  nobody.role = "call-manager";  // no rotation holds it in the test roster
  policies_.policies["default"].steps[0].targets = {nobody};
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_EQ(pager_.Triggers().size(), 1u);
  EXPECT_EQ(pager_.Triggers()[0].targets[0].person.id, "res");
  EXPECT_EQ(pager_.Triggers()[0].targets[0].role, "reserve");
}

TEST_F(IncidentTest, ReloadedRosterDecidesWhoTheNextStepPages) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(2));
  // A reload brings an override: l1c covers the payments L2 from now on.
  config::Diagnostics diags;
  auto roster = oncall::LoadRosterString("roster.yaml", std::string(kTestRoster) + R"(
overrides:
  - {type: cover, rotation: l2-payments, from: "2026-11-23T10:00", to: "2026-11-23T12:00", person: l1c}
)",
                                         diags);
  ASSERT_TRUE(roster) << diags.ToString();
  manager_->Reconfigure(std::make_shared<const oncall::Schedule>(*roster), policies_, config_);
  AdvanceTo(minutes(5));
  EXPECT_TRUE(pager_.Paged("l1c"));
  EXPECT_FALSE(pager_.Paged("pay"));
  // The open incident and its deadlines were untouched by the reload.
  EXPECT_EQ(pager_.Triggers()[1].at, At(minutes(5)));
}

// Regression: verification read the incident, then its timeline; a write the store thread
// committed between the two (under load, in the daemon) made it report "the newest events were
// removed" for an intact chain.
TEST_F(IncidentTest, VerifyIsNotFooledByAWriteBetweenItsReads) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_TRUE(manager_->Verify("INC-1")->ok);
  store_.before_timeline_read = [this] {
    manager_->AddNoteAsync("INC-1", "l1a", "PSP-A says it is their side", At(minutes(1)), "api",
                           std::nullopt, [](Result<Incident> r) { ASSERT_TRUE(r); });
  };
  auto verified = manager_->Verify("INC-1");
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->ok) << verified->message;
  EXPECT_EQ(Kinds("INC-1").back(), "note");
}

// An incident that changes between the reads of every attempt is not judged at all: comparing
// reads of two moments would call an intact chain tampered with.
TEST_F(IncidentTest, VerifyOfAnIncidentChangingAtEveryAttemptSaysSoInsteadOfJudging) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  int notes = 0;
  std::function<void()> note = [&] {
    ++notes;
    manager_->AddNoteAsync("INC-1", "l1a", "update " + std::to_string(notes), At(minutes(1)), "api",
                           std::nullopt, [](Result<Incident> r) { ASSERT_TRUE(r); });
    store_.before_timeline_read = note;  // and again at the next attempt
  };
  store_.before_timeline_read = note;
  auto verified = manager_->Verify("INC-1");
  store_.before_timeline_read = nullptr;
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().kind(), Error::Kind::kTransient);
  EXPECT_NE(verified.error().message().find("verify it again"), std::string::npos);
  EXPECT_EQ(notes, 5);
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);  // once it is quiet: intact
}

}  // namespace
}  // namespace tocsin::incident
