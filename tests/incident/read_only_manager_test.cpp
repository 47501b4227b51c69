// A high-availability standby's manager: it reads incidents but changes none. Before
// SetReadOnly, an ack on a standby (whose manager never loaded the open incidents) was
// answered "INC-1 is already resolved": false, and it changed nothing.
#include <gmock/gmock.h>

#include "incident/incident_test_support.h"
#include "tocsin/incident/forwarded_change.h"

namespace tocsin::incident {
namespace {

TEST_F(IncidentTest, ReadOnlyManagerRefusesEveryChangeWithTheReasonAndChangesNothing) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  const auto events = Kinds("INC-1").size();
  const auto pages = pager_.PagedPeople().size();
  manager_->SetReadOnly("instance b is a standby");
  auto expect_refused = [](const Result<Incident>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind(), Error::Kind::kTransient);
    EXPECT_EQ(r.error().message(), "instance b is a standby");
  };
  expect_refused(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  expect_refused(manager_->Resolve("INC-1", "l1a", At(minutes(1))));
  expect_refused(manager_->AddNote("INC-1", "l1a", "looking", At(minutes(1))));
  expect_refused(
      manager_->Open(Group("payments", Severity::kCritical, true, "g2"), "l1a", At(minutes(1))));
  // The post-mortem calls had no guard of their own: refused where every change passes.
  std::optional<Result<Incident>> recorded;
  manager_->RecordPostmortemAsync("INC-1", "l1a", "https://wiki.example/pm/1", At(minutes(1)),
                                  [&](Result<Incident> r) { recorded = std::move(r); });
  ASSERT_TRUE(recorded.has_value());
  expect_refused(*recorded);
  std::optional<Result<bool>> reminded;
  manager_->RemindPostmortemAsync("INC-1", "write it", At(minutes(1)),
                                  [&](Result<bool> r) { reminded = std::move(r); });
  ASSERT_TRUE(reminded.has_value());
  ASSERT_FALSE(reminded->has_value());
  EXPECT_EQ(reminded->error().message(), "instance b is a standby");
  EXPECT_EQ(Kinds("INC-1").size(), events);
  EXPECT_EQ(manager_->Get("INC-1").value().state, IncidentState::kTriggered);  // reads work
  EXPECT_FALSE(manager_->Get("INC-2").has_value());

  manager_->SetReadOnly(std::nullopt);  // became active
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  EXPECT_EQ(manager_->Get("INC-1").value().state, IncidentState::kAcknowledged);
  EXPECT_EQ(pager_.PagedPeople().size(), pages);
}

// A standby's manager with a forwarder passes every change a person asks for to it (the
// active applies them), with who, how and the inbound delivery, incidents opened by hand and
// drills included; what only the active decides (its dispatcher's groups) stays refused. The
// active applies each once: a replay of the same request after a failover changes nothing
// more.
TEST_F(IncidentTest, AStandbyForwardsWhatAPersonAsksAndTheActiveAppliesEachOnce) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  const auto opened_events = Kinds("INC-1").size();
  manager_->SetReadOnly("instance b is a standby");
  std::vector<ForwardedChange> forwarded;
  manager_->SetForwarder([&](ForwardedChange c, IncidentManager::Done<Incident> done) {
    forwarded.push_back(std::move(c));
    done(Fail(Error::NotFound("answered by the active")));
  });
  std::vector<Result<Incident>> answers;
  auto answer = [&](Result<Incident> r) { answers.push_back(std::move(r)); };
  const InboundDelivery slack{"slack", "T1/act-1", At(minutes(1))};
  manager_->AcknowledgeAsync("INC-1", "l1a", At(minutes(1)), "slack", slack, answer);
  manager_->AddNoteAsync("INC-1", "l1a", "PSP A timeouts", At(minutes(1)), "api", std::nullopt,
                         answer);
  manager_->EscalateNowAsync("INC-1", "l1a", At(minutes(1)), "panel", answer);
  manager_->PostStatusUpdateAsync("INC-1", "l1a", {"deposits failing", "PSP B", minutes(20)},
                                  At(minutes(1)), "api", answer);
  manager_->ResolveAsync("INC-1", "l1a", At(minutes(1)), "api", std::nullopt, answer);
  std::optional<Result<void>> recorded;
  manager_->RecordDeliveryAsync({"slack", "T1/who-1", At(minutes(1))},
                                [&](Result<void> r) { recorded = std::move(r); });
  auto by_hand = Group("payments", Severity::kCritical, true, "api/g2");
  by_hand.receiver.name = "api";
  by_hand.alerts[0].starts_at = At(minutes(1));
  by_hand.flushed_at = At(minutes(1));
  manager_->OpenAsync(by_hand, "l1a", At(minutes(1)), answer);
  auto drill_group = by_hand;
  drill_group.key = "drill/psp-down/1";
  drill_group.receiver.name = "drill";
  manager_->OpenDrillAsync(drill_group, {"psp-down", "payments", "deposit-psp"}, "l1a",
                           At(minutes(1)), answer);
  manager_->RecordPostmortemAsync("INC-1", "l1a", "https://wiki.example/pm/1", At(minutes(1)),
                                  answer);
  const InboundDelivery unack{"pagerduty", "EVT-UNACK", At(minutes(1))};
  manager_->UnacknowledgeAsync("INC-1", "pagerduty:L1 Day", At(minutes(1)), "pagerduty", unack,
                               answer);
  // The dispatcher's own groups are never passed on: the active's dispatcher has them too.
  manager_->OnGroupFlush(Group("payments", Severity::kCritical, true, "g3"), At(minutes(1)));

  ASSERT_EQ(forwarded.size(), 10u);
  using Kind = ForwardedChange::Kind;
  EXPECT_EQ(forwarded[0], MakeForwardedChange(Kind::kAcknowledge, "INC-1", "l1a", "slack", slack));
  EXPECT_EQ(forwarded[1].kind, Kind::kNote);
  EXPECT_EQ(forwarded[1].text, "PSP A timeouts");
  EXPECT_FALSE(forwarded[1].delivery.has_value());
  EXPECT_EQ(forwarded[2].kind, Kind::kEscalate);
  EXPECT_EQ(forwarded[2].origin, "panel");
  EXPECT_EQ(forwarded[3].kind, Kind::kStatusUpdate);
  EXPECT_EQ(forwarded[3].update.measures, "PSP B");
  EXPECT_EQ(forwarded[4].kind, Kind::kResolve);
  EXPECT_EQ(forwarded[5].kind, Kind::kRecordDelivery);
  EXPECT_EQ(forwarded[5].delivery->id, "T1/who-1");
  EXPECT_EQ(forwarded[6].kind, Kind::kOpen);
  EXPECT_EQ(forwarded[6].group, by_hand);
  EXPECT_EQ(forwarded[7].kind, Kind::kDrill);
  EXPECT_EQ(forwarded[7].drill, (DrillSpec{"psp-down", "payments", "deposit-psp"}));
  EXPECT_EQ(forwarded[8].kind, Kind::kPostmortem);
  EXPECT_EQ(forwarded[8].text, "https://wiki.example/pm/1");
  EXPECT_EQ(forwarded[9], MakeForwardedChange(Kind::kUnacknowledge, "INC-1", "pagerduty:L1 Day",
                                              "pagerduty", unack));
  // What the active answered reaches the caller.
  ASSERT_EQ(answers.size(), 9u);
  for (const auto& a : answers) EXPECT_EQ(a.error().kind(), Error::Kind::kNotFound);
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->error().message(), "answered by the active");
  // Through the database as JSON and back, unchanged (the received time is the active's).
  for (auto c : forwarded) {
    if (c.delivery) c.delivery->received_at = {};
    auto back = ForwardedChangeFromJson(ForwardedChangeToJson(c));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, c);
  }
  EXPECT_EQ(Kinds("INC-1").size(), opened_events) << "the standby changed nothing itself";

  // The active (here the same manager once it holds the lease) applies them.
  manager_->SetReadOnly(std::nullopt);
  auto apply = [&](ForwardedChange c) {
    std::optional<Result<Incident>> out;
    manager_->ApplyForwarded(std::move(c), At(minutes(2)),
                             [&](Result<Incident> r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return out.value_or(Fail(Error::Transient("no answer")));
  };
  auto acked = apply(forwarded[0]);
  ASSERT_TRUE(acked) << acked.error().message();
  EXPECT_EQ(acked->state, IncidentState::kAcknowledged);
  EXPECT_EQ(acked->acknowledged_by, "l1a");
  EXPECT_EQ(store_.Timeline("INC-1").value().back().text.rfind("acknowledged by l1a via slack", 0),
            0u)
      << store_.Timeline("INC-1").value().back().text;
  ForwardedChange note = forwarded[1];
  note.delivery = InboundDelivery{"tocsin-ha", "7", {}};
  ASSERT_TRUE(apply(note));
  const auto events = Kinds("INC-1").size();
  auto replayed = apply(note);  // the same request again, after a failover
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().kind(), Error::Kind::kConflict);
  EXPECT_EQ(Kinds("INC-1").size(), events);
  ForwardedChange escalate = forwarded[2];
  escalate.delivery = InboundDelivery{"tocsin-ha", "8", {}};
  const auto pages = pager_.PagedPeople().size();
  ASSERT_TRUE(apply(escalate));
  const auto paged = pager_.PagedPeople().size();
  EXPECT_GT(paged, pages) << "escalate paged the next step";
  ASSERT_TRUE(apply(escalate));  // replayed: answered with the incident, nobody paged again
  EXPECT_EQ(pager_.PagedPeople().size(), paged);
  auto stored = apply(forwarded[5]);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(store_.HasDelivery("slack", "T1/who-1").value());

  // Opened by hand through the standby: once, even when the request is applied again.
  ForwardedChange open = forwarded[6];
  open.delivery = InboundDelivery{"tocsin-ha", "9", {}};
  auto opened = apply(open);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->id, "INC-2");
  EXPECT_EQ(opened->key, "api/g2");
  auto reopened = apply(open);
  ASSERT_TRUE(reopened) << reopened.error().message();
  EXPECT_EQ(reopened->id, "INC-2");
  // Applied, then the active died before recording the request: the next one applies it
  // again and finds the incident by its key.
  ForwardedChange unrecorded = open;
  unrecorded.delivery = InboundDelivery{"tocsin-ha", "12", {}};
  auto again = apply(unrecorded);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->id, "INC-2");
  EXPECT_FALSE(manager_->Get("INC-3").has_value());
  ForwardedChange drill = forwarded[7];
  drill.delivery = InboundDelivery{"tocsin-ha", "10", {}};
  auto drilled = apply(drill);
  ASSERT_TRUE(drilled) << drilled.error().message();
  EXPECT_EQ(drilled->id, "INC-3");
  EXPECT_TRUE(drilled->drill);
  ForwardedChange postmortem = forwarded[8];
  postmortem.delivery = InboundDelivery{"tocsin-ha", "11", {}};
  ASSERT_TRUE(apply(postmortem));
  ASSERT_TRUE(apply(postmortem));
  postmortem.delivery = InboundDelivery{"tocsin-ha", "14", {}};  // applied, not recorded
  ASSERT_TRUE(apply(postmortem));
  auto kinds = Kinds("INC-1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "postmortem"), 1);
  // An ack withdrawn at PagerDuty, received by the standby: the active applies it, and as the
  // ack standing was given in Slack, it stands.
  ASSERT_EQ(manager_->Get("INC-1")->state, IncidentState::kAcknowledged);
  auto unacked = apply(forwarded[9]);
  ASSERT_TRUE(unacked) << unacked.error().message();
  EXPECT_EQ(unacked->state, IncidentState::kAcknowledged);
  kinds = Kinds("INC-1");
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "unacknowledged"), 0);
}

// What the database carries for the new kinds is checked on the way in: a request that lost
// its group or its drill is refused with the field, not applied half.
TEST(ForwardedChangeJson, AnOpenOrDrillWithoutWhatItOpensIsRefusedNamingTheField) {
  auto open = ForwardedChangeFromJson({{"kind", "open"}, {"actor", "l1a"}});
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().message(), "a forwarded open needs `group`");
  auto no_alerts = ForwardedChangeFromJson(nlohmann::json::parse(R"({"kind": "open",
      "actor": "l1a", "group": {"key": "api/x", "policy": "default",
      "flushed_at": "2026-12-05T10:00:00Z"}})"));
  ASSERT_FALSE(no_alerts);
  EXPECT_EQ(no_alerts.error().message(), "the group of a forwarded change has no alerts");
  auto drill = ForwardedChangeFromJson(nlohmann::json::parse(R"({"kind": "drill",
      "actor": "l1a", "group": {"key": "drill/x/1", "policy": "default",
      "flushed_at": "2026-12-05T10:00:00Z", "alerts": [{"labels": {"alertname": "X"}}]}})"));
  ASSERT_FALSE(drill);
  EXPECT_EQ(drill.error().message(), "a forwarded drill needs `drill`, an object");
  auto postmortem =
      ForwardedChangeFromJson({{"kind", "postmortem"}, {"incident", "INC-1"}, {"actor", "l1a"}});
  ASSERT_FALSE(postmortem);
  EXPECT_EQ(postmortem.error().message(), "a forwarded change needs `text`");
}

}  // namespace
}  // namespace tocsin::incident
