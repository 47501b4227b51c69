// Acceptance timelines for the default ladder on the simulated clock: nothing here sleeps.
#include <gmock/gmock.h>

#include <algorithm>

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

// Review finding: a page's `at` was the `now` its caller took, before waiting for the
// incident's lane, so an acknowledge queued behind a step carried an earlier time than the
// step it came after: the outbox, which orders an incident's pages by `at`, kept the step's
// page and its "Step 2" message update over the acknowledge's.
TEST_F(IncidentTest, APagesTimeIsWhenItsChangeWasAppliedNotWhenItWasAsked) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  AdvanceTo(minutes(5));
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  const TimePoint step_at = pager_.Triggers().back().at;
  EXPECT_EQ(step_at, At(minutes(5)));
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));  // asked at 1m
  auto acks = pager_.OfAction(PageAction::kAcknowledge);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_GT(acks[0].at, step_at);
  // In the same millisecond as the acknowledge, a later change still gets a later time (a
  // reopen's trigger tied with its resolve would count as stale and page nobody).
  ASSERT_TRUE(manager_->Resolve("INC-1", "l1a", At(minutes(5))));
  auto resolves = pager_.OfAction(PageAction::kResolve);
  ASSERT_EQ(resolves.size(), 1u);
  EXPECT_GT(resolves[0].at, acks[0].at);
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

TEST_F(IncidentTest, OverrideCoverPagesTheCoveringPerson) {
  Build(R"(
overrides:
  - {type: cover, rotation: l1, from: "2026-11-23T09:00", to: "2026-11-23T12:00", person: l1c, replaces: l1a, reason: dentist}
)");
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  EXPECT_EQ(pager_.Triggers()[0].targets[0].person.id, "l1c");
  EXPECT_EQ(manager_->Get("INC-1")->commander, "l1c");
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

// Review finding: after a reload took its receiver's escalation policy away, a group's flushes
// never reached its open incident (the manager took only groups with a policy): the incident
// escalated on and never resolved itself. It takes them now, to update that incident only.
TEST_F(IncidentTest, AGroupWhoseReceiverStoppedPagingStillResolvesItsOpenIncidentOnly) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_EQ(manager_->open_count(), 1u);
  auto notices_only = [](dispatch::AlertGroup g) {
    g.receiver.escalation_policy.clear();
    return g;
  };
  manager_->OnGroupFlush(notices_only(Group("payments", Severity::kCritical, false)),
                         At(minutes(2)));
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kResolved);
  EXPECT_EQ(LastTransition("INC-1"), "auto_resolved");
  // Firing again, or another group: nothing is reopened or opened for a receiver that no
  // longer pages.
  manager_->OnGroupFlush(notices_only(Group("payments")), At(minutes(3)));
  manager_->OnGroupFlush(notices_only(Group("payments", Severity::kCritical, true, "g2")),
                         At(minutes(3)));
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kResolved);
  EXPECT_EQ(manager_->open_count(), 0u);
  EXPECT_EQ(pager_.Triggers().size(), 1u);
}

// Review finding: a reload that shortened the policy left the open incident's next step due
// with no such step: the step was decided as "nothing", re-armed at once because it was still
// due, and so on without end (the daemon's stack overflowed, at every start after it).
TEST_F(IncidentTest, AStepDueThatAReloadRemovedEndsTheLadderAndSaysSo) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  ASSERT_EQ(pager_.Triggers().size(), 1u);
  PolicySet shorter = policies_;
  shorter.policies["default"].steps.resize(1);  // L1 only
  manager_->Reconfigure(schedule_, shorter, config_);
  AdvanceTo(minutes(30));
  EXPECT_EQ(pager_.Triggers().size(), 1u);
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.next_step_at, TimePoint{});
  auto events = store_.Timeline("INC-1").value();
  auto said = std::find_if(events.begin(), events.end(), [](const TimelineEvent& e) {
    return e.kind == "note" && e.text ==
                                   "step 2 of the ladder was due, but policy default now has 1 "
                                   "step: the ladder ends here";
  });
  ASSERT_NE(said, events.end());
  EXPECT_EQ(said->at, At(minutes(5)));
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const TimelineEvent& e) { return e.kind == "escalated"; }),
            0);
  // An escalation asked for still pages the last step there is.
  ASSERT_TRUE(manager_->EscalateNow("INC-1", "l1a", At(minutes(30))));
  EXPECT_EQ(pager_.Triggers().size(), 2u);
}

// The same with a repeat round left: the ladder goes on as after its last step.
TEST_F(IncidentTest, AStepDueThatAReloadRemovedStartsTheRepeatRoundThePolicyHas) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  PolicySet shorter = policies_;
  shorter.policies["default"].steps.resize(1);  // L1 only, again after 20 minutes
  shorter.policies["default"].repeat = 1;
  shorter.policies["default"].repeat_after = minutes(20);
  manager_->Reconfigure(schedule_, shorter, config_);
  AdvanceTo(minutes(25) - seconds(1));
  EXPECT_EQ(pager_.Triggers().size(), 1u);
  AdvanceTo(minutes(25));  // step 2 was due at 5m: repeat 1 starts at 5m + 20m
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  EXPECT_EQ(pager_.Triggers()[1].targets[0].person.id, "l1a");
  EXPECT_EQ(pager_.Triggers()[1].idempotency_key, "INC-1/e1/step-0/trigger");
  AdvanceTo(minutes(120));
  EXPECT_EQ(pager_.Triggers().size(), 2u);
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
