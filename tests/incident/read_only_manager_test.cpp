// A high-availability standby's manager: it reads incidents but changes none. Before
// SetReadOnly, an ack on a standby (whose manager never loaded the open incidents) was
// answered "INC-1 is already resolved": false, and it changed nothing.
#include <gmock/gmock.h>

#include "incident/incident_test_support.h"

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

}  // namespace
}  // namespace tocsin::incident
