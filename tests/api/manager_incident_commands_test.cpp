// The Slack / webhook adapters over the real IncidentManager, on the simulated clock: a double
// click changes nothing, a provider's ack is recorded with its origin and not mirrored back to
// it, and Escalate pages the next step at once.
#include "tocsin/api/manager_incident_commands.h"

#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "incident/incident_test_support.h"
#include "tocsin/api/roster_person_directory.h"

namespace tocsin::incident {
namespace {

using http::ActionOrigin;
using http::ActionRequest;
using http::IncidentAction;
using ::testing::ElementsAre;

class IncidentCommandsTest : public IncidentTest {
 protected:
  void Open() {
    Build();
    manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
    commands_ = std::make_unique<ManagerIncidentCommands>(*manager_, scheduler_.clock());
  }
  Result<http::ActionOutcome> Act(const std::string& ref, IncidentAction action,
                                  const std::string& actor, ActionOrigin origin,
                                  const std::string& text = "",
                                  std::optional<http::DeliveryKey> delivery = std::nullopt) {
    return commands_->Act(ActionRequest{ref, action, actor, origin, text, std::move(delivery)});
  }
  std::vector<TimelineEvent> EventsOf(const std::string& kind) {
    std::vector<TimelineEvent> out;
    auto events = store_.Timeline("INC-1").value();
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  std::unique_ptr<ManagerIncidentCommands> commands_;
};

TEST_F(IncidentCommandsTest, DoubleAckFromSlackIsOneTimelineEventAndOneMirror) {
  Open();
  AdvanceTo(minutes(2));
  auto first = Act("INC-1", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->changed);
  EXPECT_EQ(first->state, "acknowledged");
  const auto seq = manager_->Get("INC-1")->timeline_seq;
  auto second = Act("INC-1", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->changed);
  EXPECT_EQ(second->state, "acknowledged");
  EXPECT_EQ(manager_->Get("INC-1")->timeline_seq, seq);
  auto acks = EventsOf("acknowledged");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].actor, "l1a");
  EXPECT_EQ(nlohmann::json::parse(acks[0].data)["origin"], "slack");
  EXPECT_NE(acks[0].text.find("via slack"), std::string::npos);
  auto mirrors = pager_.OfAction(PageAction::kAcknowledge);
  ASSERT_EQ(mirrors.size(), 1u);
  EXPECT_EQ(mirrors[0].origin, "slack");
  EXPECT_EQ(mirrors[0].actor, "l1a");
}

TEST_F(IncidentCommandsTest, DeliveryOfAFailedAckIsNotRecordedAndItsRetryIsActedOn) {
  Open();
  AdvanceTo(minutes(2));
  const http::DeliveryKey key{"pagerduty", "01EVT"};
  store_.fail_commits = true;
  auto failed = Act("tocsin/INC-1", IncidentAction::kAcknowledge, "pagerduty:Olena",
                    ActionOrigin::kPagerDuty, "", key);
  ASSERT_FALSE(failed);
  EXPECT_FALSE(commands_->Processed(key).value());
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kTriggered);
  store_.fail_commits = false;
  auto retried = Act("tocsin/INC-1", IncidentAction::kAcknowledge, "pagerduty:Olena",
                     ActionOrigin::kPagerDuty, "", key);
  ASSERT_TRUE(retried) << retried.error().message();
  EXPECT_TRUE(retried->changed);
  EXPECT_FALSE(retried->duplicate);
  EXPECT_TRUE(commands_->Processed(key).value());
  auto again = Act("tocsin/INC-1", IncidentAction::kResolve, "pagerduty:Olena",
                   ActionOrigin::kPagerDuty, "", key);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->state, "acknowledged");  // the resolve under a processed key did nothing
  EXPECT_EQ(EventsOf("acknowledged").size(), 1u);
  EXPECT_TRUE(EventsOf("resolved").empty());
}

TEST_F(IncidentCommandsTest, EscalateReplayedLaterPagesOnce) {
  Open();
  AdvanceTo(minutes(1));
  const http::DeliveryKey key{"slack", "v0=escalate"};
  auto first = Act("INC-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack, "", key);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->changed);
  const auto pages = pager_.Triggers().size();
  AdvanceTo(minutes(2));  // past the double-click debounce: only the key stops the replay
  auto replay = Act("INC-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack, "", key);
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->duplicate);
  EXPECT_EQ(pager_.Triggers().size(), pages);
  EXPECT_EQ(EventsOf("escalated").size(), 1u);
}

TEST_F(IncidentCommandsTest, RequestsThatChangeNoIncidentAreRecordedOnce) {
  Open();
  const http::DeliveryKey key{"slack", "v0=who"};
  EXPECT_FALSE(commands_->Processed(key).value());
  ASSERT_TRUE(commands_->RecordProcessed(key));
  EXPECT_TRUE(commands_->Processed(key).value());
  auto again = commands_->RecordProcessed(key);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), Error::Kind::kConflict);
}

TEST_F(IncidentCommandsTest, PagerDutyAckByDedupKeySetsOriginAndTheEchoChangesNothing) {
  Open();
  AdvanceTo(minutes(3));
  auto r = Act("tocsin/INC-1", IncidentAction::kAcknowledge, "pagerduty:Olena Kovalenko",
               ActionOrigin::kPagerDuty);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->incident_id, "INC-1");
  auto inc = manager_->Get("INC-1").value();
  EXPECT_EQ(inc.state, IncidentState::kAcknowledged);
  EXPECT_EQ(inc.acknowledged_by, "pagerduty:Olena Kovalenko");
  auto mirrors = pager_.OfAction(PageAction::kAcknowledge);
  ASSERT_EQ(mirrors.size(), 1u);
  // The notify side skips PagerDuty for this mirror and still updates Slack.
  EXPECT_EQ(mirrors[0].origin, "pagerduty");
  EXPECT_EQ(nlohmann::json::parse(EventsOf("acknowledged")[0].data)["origin"], "pagerduty");
  // Opsgenie echoing tocsin's mirror back, then a late Slack click: nothing more happens.
  auto echo = Act("tocsin/INC-1", IncidentAction::kAcknowledge, "opsgenie:olena@example.com",
                  ActionOrigin::kOpsgenie);
  ASSERT_TRUE(echo);
  EXPECT_FALSE(echo->changed);
  auto late = Act("INC-1", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(late);
  EXPECT_FALSE(late->changed);
  EXPECT_EQ(pager_.OfAction(PageAction::kAcknowledge).size(), 1u);
  EXPECT_EQ(EventsOf("acknowledged").size(), 1u);
  // The ladder stopped: the duty manager (T0+10m) is never paged.
  AdvanceTo(minutes(30));
  EXPECT_FALSE(pager_.Paged("dm"));
}

TEST_F(IncidentCommandsTest, ResolveTwiceFromTheProviderResolvesOnce) {
  Open();
  auto r = Act("tocsin/INC-1", IncidentAction::kResolve, "pagerduty:Olena Kovalenko",
               ActionOrigin::kPagerDuty);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->state, "resolved");
  auto again = Act("tocsin/INC-1", IncidentAction::kResolve, "pagerduty:Olena Kovalenko",
                   ActionOrigin::kPagerDuty);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  // Acknowledging a resolved incident is not an error either: it is already past that.
  auto ack = Act("INC-1", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(ack);
  EXPECT_FALSE(ack->changed);
  EXPECT_EQ(ack->state, "resolved");
  auto resolves = pager_.OfAction(PageAction::kResolve);
  ASSERT_EQ(resolves.size(), 1u);
  EXPECT_EQ(resolves[0].origin, "pagerduty");
  EXPECT_EQ(EventsOf("resolved").size(), 1u);
  EXPECT_EQ(EventsOf("resolved")[0].actor, "pagerduty:Olena Kovalenko");
}

TEST_F(IncidentCommandsTest, SlackActorOutsideTheRosterIsUnauthorizedAndNothingChanges) {
  Open();
  const auto seq = manager_->Get("INC-1")->timeline_seq;
  for (auto action : {IncidentAction::kAcknowledge, IncidentAction::kResolve,
                      IncidentAction::kEscalate, IncidentAction::kNote}) {
    auto r = Act("INC-1", action, "mallory", ActionOrigin::kSlack, "text");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), Error::Kind::kUnauthorized);
  }
  EXPECT_EQ(manager_->Get("INC-1")->timeline_seq, seq);
  EXPECT_EQ(manager_->Get("INC-1")->state, IncidentState::kTriggered);
}

TEST_F(IncidentCommandsTest, UnknownIncidentIsNotFound) {
  Open();
  auto r = Act("INC-404", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kNotFound);
  auto foreign =
      Act("P1234567", IncidentAction::kResolve, "pagerduty:someone", ActionOrigin::kPagerDuty);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().kind(), Error::Kind::kNotFound);
}

TEST_F(IncidentCommandsTest, EscalateAtOneMinutePagesL2AndCommsNowThenTheDutyManagerOnTime) {
  Open();
  EXPECT_THAT(pager_.PagedPeople(), ElementsAre("l1a", "newbie"));
  // t=1m: L1 asks for help from Slack; step 2 was due at 5m.
  AdvanceTo(minutes(1));
  auto r = Act("inc-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->state, "triggered");
  ASSERT_EQ(pager_.Triggers().size(), 2u);
  EXPECT_EQ(pager_.Triggers()[1].at, At(minutes(1)));
  EXPECT_EQ(pager_.Triggers()[1].origin, "");  // new targets are reached on every channel
  EXPECT_THAT(pager_.PagedPeople(), ElementsAre("l1a", "newbie", "pay", "comms"));
  auto escalated = EventsOf("escalated");
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_EQ(escalated[0].actor, "l1a");
  EXPECT_EQ(nlohmann::json::parse(escalated[0].data)["origin"], "slack");
  // A double click 2 s later pages nobody and records nothing.
  AdvanceTo(minutes(1) + seconds(2));
  auto again = Act("INC-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(pager_.Triggers().size(), 2u);
  // t=5m: step 2 already went out; nothing is paged twice.
  AdvanceTo(minutes(5));
  EXPECT_EQ(pager_.Triggers().size(), 2u);
  // t=10m: the duty manager on the ladder's original deadline.
  AdvanceTo(minutes(10));
  ASSERT_EQ(pager_.Triggers().size(), 3u);
  EXPECT_EQ(pager_.Triggers()[2].targets[0].person.id, "dm");
  EXPECT_EQ(pager_.Triggers()[2].at, At(minutes(10)));
  // Past the end of the ladder, Escalate pages the last step again, under a key of its own.
  AdvanceTo(minutes(12));
  auto last = Act("INC-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->changed);
  ASSERT_EQ(pager_.Triggers().size(), 4u);
  EXPECT_EQ(pager_.Triggers()[3].targets[0].person.id, "dm");
  EXPECT_NE(pager_.Triggers()[3].idempotency_key, pager_.Triggers()[2].idempotency_key);
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
}

TEST_F(IncidentCommandsTest, EscalatingAnAcknowledgedIncidentKeepsItAcknowledged) {
  Open();
  AdvanceTo(minutes(2));
  ASSERT_TRUE(Act("INC-1", IncidentAction::kAcknowledge, "l1a", ActionOrigin::kSlack));
  AdvanceTo(minutes(3));
  auto r = Act("INC-1", IncidentAction::kEscalate, "l1a", ActionOrigin::kSlack);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->state, "acknowledged");
  EXPECT_TRUE(pager_.Paged("pay"));
  // The ladder stays stopped: no duty manager later.
  AdvanceTo(minutes(30));
  EXPECT_FALSE(pager_.Paged("dm"));
  EXPECT_EQ(manager_->Get("INC-1")->acknowledged_by, "l1a");
}

TEST_F(IncidentCommandsTest, NoteFromSlackIsRecordedWithItsOrigin) {
  Open();
  auto r = Act("INC-1", IncidentAction::kNote, "l1a", ActionOrigin::kSlack, "PSP-A is down");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changed);
  auto notes = pager_.OfAction(PageAction::kNote);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].origin, "slack");
  auto open = commands_->OpenIncidents();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].id, "INC-1");
  EXPECT_EQ(open[0].sev, 2);
  EXPECT_EQ(open[0].state, "triggered");
}

TEST_F(IncidentCommandsTest, DirectoryFindsSlackUsersAndSaysWhoIsOnCall) {
  Build();
  RosterPersonDirectory people([this] { return manager_->schedule(); }, scheduler_.clock());
  auto p = people.BySlackUserId("U1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "l1a");
  EXPECT_FALSE(people.BySlackUserId("U_NOBODY"));
  EXPECT_FALSE(people.BySlackUserId(""));
  auto lines = people.WhoIsOnCall("");
  EXPECT_THAT(lines, ::testing::Contains("L1: L1 Day (<@U1>)"));
  EXPECT_THAT(lines, ::testing::Contains("L2-payments: Payments L2"));
  EXPECT_TRUE(people.WhoIsOnCall("no-such-team").empty());
}

}  // namespace
}  // namespace tocsin::incident
