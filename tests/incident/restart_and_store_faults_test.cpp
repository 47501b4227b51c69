// The incident manager across restarts and store faults, on the simulated clock: deadlines
// kept, pages decided before a restart handed once and in order, writes the store refused
// retried until they land, and a timeline that says only what happened. Nothing sleeps.
#include <gmock/gmock.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "incident/incident_test_support.h"

namespace tocsin::incident {
namespace {

using ::testing::ElementsAre;

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

// An alert whose endsAt passed (sent firing, then never again) is kept as resolved: the API and
// the panel said it still fired, and its next firing was not recorded as "fired again".
TEST_F(IncidentTest, AnAlertWhoseEndsAtPassedIsKeptAsResolved) {
  Build();
  auto group = Group("payments");
  Alert ended = group.alerts[0];
  ended.labels = Labels{{"alertname", "DepositLatencyHigh"}, {"domain", "payments"}};
  ended.ends_at = At(minutes(3));  // sent firing, then never again
  group.alerts.push_back(ended);
  manager_->OnGroupFlush(group, At(minutes(0)));
  AdvanceTo(minutes(5));
  manager_->OnGroupFlush(group, At(minutes(5)));
  scheduler_.RunPending();
  auto inc = store_.Get("INC-1").value();
  ASSERT_TRUE(inc.has_value());
  ASSERT_EQ(inc->alerts.size(), 2u);
  EXPECT_EQ(inc->alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(inc->alerts[1].state, AlertState::kResolved) << "its endsAt passed";
  EXPECT_TRUE(inc->open());
  auto kinds = Kinds("INC-1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "alert_resolved"), 1);
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

// Review finding: the ladder step and a reminder refused within the retry's 10 s shared one
// retry timer; the reminder's retry cancelled the step's, and the Duty Manager was never paged.
TEST_F(IncidentTest, AStepAndAReminderRefusedTogetherAreBothRetried) {
  config_.reminder_interval = minutes(10) + seconds(3);
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(10) - seconds(1));
  EXPECT_FALSE(pager_.Paged("dm"));
  store_.fail_commits = true;
  AdvanceTo(minutes(10) + seconds(4));  // the step at 10m and the reminder at 10m3s refused
  store_.fail_commits = false;
  AdvanceTo(minutes(11));
  EXPECT_TRUE(pager_.Paged("dm")) << "the refused step was never tried again";
  EXPECT_EQ(pager_.OfAction(PageAction::kReminder).size(), 1u);
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

}  // namespace
}  // namespace tocsin::incident
