// The incident manager on the daemon's store: SQLite with a StoreThread. Transitions are
// committed in groups on the store thread, the loop (this test's thread) never runs a write
// or a COMMIT, a failed group commit fails each caller and changes nothing in memory, and a
// transition of an incident waits for the one before it. Proved by counting through the
// FaultInjector seam and by thread ids, never by timing.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "fakes/incident/recording_pager.h"
#include "fakes/store/counting_fault_injector.h"
#include "fakes/store/store_thread_helpers.h"
#include "incident/incident_test_support.h"
#include "support/temp_dir.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::incident {
namespace {

using store::StoreOp;

class StoreThreadManagerTest : public ::testing::Test {
 protected:
  const TimePoint t0_ = ParseTime("2026-11-23T10:00:00Z").value();
  SimulatedScheduler scheduler_{t0_};
  tocsin::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteIncidentStore> store_;
  std::unique_ptr<store::StoreThread> writer_;
  tocsin::testing::RecordingPager pager_;
  std::unique_ptr<IncidentManager> manager_;
  // The tests' injectors outlive the test body: the store thread may still run (a checkpoint)
  // until TearDown takes them off, and a local would be called after it was destroyed.
  store::testkit::ThreadRecordingInjector loop_connection_;
  store::testkit::ThreadRecordingInjector store_connection_;
  std::optional<store::testkit::CountingFaultInjector> faults_;

  void SetUp() override {
    const std::string path = dir_.path() + "/tocsin.db";
    auto db = store::Database::Open(path);
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(*db);
    auto writer = store::StoreThread::Open(
        path, {}, [this](std::function<void()> cb) { scheduler_.Post(std::move(cb)); });
    ASSERT_TRUE(writer) << writer.error().message();
    writer_ = std::move(*writer);
    store_ = std::make_unique<store::SqliteIncidentStore>(*db_, writer_.get());
    ASSERT_TRUE(store_->Migrate());
    PolicySet policies;
    policies.policies["default"] = DefaultPolicy();
    // The first step an hour on: nothing pages during these tests unless they say so.
    policies.policies["default"].steps[0].after = std::chrono::hours(1);
    manager_ = std::make_unique<IncidentManager>(scheduler_, *store_, pager_, nullptr, policies,
                                                 IncidentsConfig{});
    ASSERT_TRUE(manager_->Start());
  }
  void TearDown() override {
    writer_->SetFaultInjector(nullptr);
    db_->SetFaultInjector(nullptr);
    writer_->Stop();
    manager_.reset();
  }

  // Runs the loop until `done` holds: completions arrive from the store thread through Post.
  void RunUntil(const std::function<bool()>& done) {
    while (!done()) {
      scheduler_.RunPending();
      std::this_thread::yield();
    }
  }

  static dispatch::AlertGroup Group(int i) {
    dispatch::AlertGroup g;
    g.key = "g" + std::to_string(i);
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    Alert a;
    a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"shard", std::to_string(i)}};
    a.severity = Severity::kCritical;
    g.alerts.push_back(a);
    return g;
  }

  std::promise<void> HoldStoreThread() { return store::testkit::HoldStoreThread(*writer_); }

  // Opens n incidents through the asynchronous path and waits until they are durable.
  void OpenIncidents(int n) {
    int opened = 0;
    for (int i = 0; i < n; ++i) {
      manager_->OpenAsync(Group(i), "tocsin", t0_, [&opened](Result<Incident> r) {
        ASSERT_TRUE(r) << r.error().message();
        ++opened;
      });
    }
    RunUntil([&] { return opened == n; });
  }
};

TEST_F(StoreThreadManagerTest, TheLoopNeverWritesAndManyTransitionsShareACommit) {
  db_->SetFaultInjector(&loop_connection_);
  writer_->SetFaultInjector(&store_connection_);
  constexpr int kIncidents = 100;
  OpenIncidents(kIncidents);
  auto release = HoldStoreThread();
  int acked = 0;
  int noted = 0;
  for (int i = 1; i <= kIncidents; ++i) {
    const std::string id = "INC-" + std::to_string(i);
    manager_->AcknowledgeAsync(id, "api-user", t0_, "api", std::nullopt,
                               [&acked](Result<Incident> r) {
                                 ASSERT_TRUE(r) << r.error().message();
                                 EXPECT_EQ(r->state, IncidentState::kAcknowledged);
                                 ++acked;
                               });
    manager_->AddNoteAsync(id, "api-user", "looking", t0_, "api", std::nullopt,
                           [&noted](Result<Incident> r) {
                             ASSERT_TRUE(r) << r.error().message();
                             ++noted;
                           });
  }
  release.set_value();
  RunUntil([&] { return acked == kIncidents && noted == kIncidents; });
  // Every write and commit ran on the store thread; the loop's connection only read.
  EXPECT_EQ(loop_connection_.calls(), 0);
  EXPECT_EQ(store_connection_.threads(), std::set<std::thread::id>{writer_->thread_id()});
  // The 100 acks queued while the store thread was busy went out in one COMMIT.
  EXPECT_GE(writer_->largest_group(), static_cast<std::uint64_t>(kIncidents));
  EXPECT_GE(writer_->committed_writes(), 300u);  // open, ack, note of each incident
  EXPECT_LT(writer_->commits(), writer_->committed_writes());
  // Each incident's ack precedes its note in its durable timeline.
  auto timeline = store_->Timeline("INC-7").value();
  std::vector<std::string> kinds;
  for (const auto& e : timeline) kinds.push_back(e.kind);
  auto ack = std::find(kinds.begin(), kinds.end(), "acknowledged");
  auto note = std::find(kinds.begin(), kinds.end(), "note");
  ASSERT_NE(ack, kinds.end());
  ASSERT_NE(note, kinds.end());
  EXPECT_LT(ack, note);
}

// Opens of different groups must not wait for each other: the group's lane was named from
// the key after the key had been moved into the lambda, so every open shared the lane "group/"
// and a storm of 10,000 alerts opened its incidents one fsync at a time.
TEST_F(StoreThreadManagerTest, OpensOfDistinctGroupsDoNotWaitForEachOther) {
  constexpr int kGroups = 50;
  auto release = HoldStoreThread();
  int opened = 0;
  for (int i = 0; i < kGroups; ++i) {
    manager_->OpenAsync(Group(i), "tocsin", t0_, [&opened](Result<Incident> r) {
      ASSERT_TRUE(r) << r.error().message();
      ++opened;
    });
  }
  // Submitted while the store thread was held: one group with every open.
  release.set_value();
  RunUntil([&] { return opened == kGroups; });
  EXPECT_GE(writer_->largest_group(), static_cast<std::uint64_t>(kGroups));
  EXPECT_EQ(manager_->open_count(), static_cast<std::size_t>(kGroups));
}

// The same for drills, which open through the same kind of lane.
TEST_F(StoreThreadManagerTest, DrillsOfDistinctKeysDoNotWaitForEachOther) {
  constexpr int kDrills = 20;
  auto release = HoldStoreThread();
  int opened = 0;
  for (int i = 0; i < kDrills; ++i) {
    DrillSpec drill;
    drill.scenario = "psp-down";
    manager_->OpenDrillAsync(Group(1000 + i), drill, "olena", t0_, [&opened](Result<Incident> r) {
      ASSERT_TRUE(r) << r.error().message();
      ++opened;
    });
  }
  release.set_value();
  RunUntil([&] { return opened == kDrills; });
  EXPECT_GE(writer_->largest_group(), static_cast<std::uint64_t>(kDrills));
}

// Review finding: a flush that waited in an incident's lane behind its resolve found the
// incident gone and reopened it through that same lane, which it held: it waited for itself,
// and nothing of the group paged again until a restart.
TEST_F(StoreThreadManagerTest, AFlushQueuedBehindTheResolveReopensTheIncident) {
  OpenIncidents(1);
  auto release = HoldStoreThread();
  std::optional<Result<Incident>> resolved;
  std::optional<Result<Incident>> flushed;
  manager_->ResolveAsync("INC-1", "api-user", t0_, "api", std::nullopt,
                         [&resolved](Result<Incident> r) { resolved = std::move(r); });
  manager_->OpenAsync(Group(0), "tocsin", t0_,
                      [&flushed](Result<Incident> r) { flushed = std::move(r); });
  release.set_value();
  RunUntil([&] { return resolved.has_value(); });
  ASSERT_TRUE(*resolved) << resolved->error().message();
  // Bounded, so that a lane waiting for itself fails here instead of hanging the run: the
  // reopen needs only the store thread's next commit.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!flushed && std::chrono::steady_clock::now() < give_up) {
    scheduler_.RunPending();
    std::this_thread::yield();
  }
  ASSERT_TRUE(flushed.has_value()) << "the flush never finished: its lane waits for itself";
  ASSERT_TRUE(*flushed) << flushed->error().message();
  EXPECT_EQ((*flushed)->id, "INC-1");
  EXPECT_EQ((*flushed)->state, IncidentState::kTriggered);
  EXPECT_EQ((*flushed)->epoch, 1);
}

TEST_F(StoreThreadManagerTest, AFailedGroupCommitFailsEachCallerAndChangesNothing) {
  OpenIncidents(3);
  // The acks go out as one group (the store thread is held while they are submitted) and its
  // COMMIT fails (#2: #1 is the held write's): every ack must fail, and memory must not move.
  writer_->SetFaultInjector(&faults_.emplace(StoreOp::kCommit, 2));
  auto release = HoldStoreThread();
  std::vector<std::optional<Result<Incident>>> results(3);
  for (int i = 0; i < 3; ++i) {
    manager_->AcknowledgeAsync("INC-" + std::to_string(i + 1), "api-user", t0_, "api",
                               InboundDelivery{"pagerduty", "evt-" + std::to_string(i), t0_},
                               [&results, i](Result<Incident> r) { results[i] = std::move(r); });
  }
  release.set_value();
  RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  });
  writer_->SetFaultInjector(nullptr);
  ASSERT_TRUE(faults_->fired());
  EXPECT_EQ(faults_->failed_sql(), "COMMIT");
  for (int i = 0; i < 3; ++i) {
    const std::string id = "INC-" + std::to_string(i + 1);
    ASSERT_FALSE(*results[i]) << id << " answered acknowledged though nothing was written";
    EXPECT_EQ(manager_->Get(id)->state, IncidentState::kTriggered);
    EXPECT_FALSE(manager_->HasDelivery("pagerduty", "evt-" + std::to_string(i)).value());
  }
  EXPECT_TRUE(pager_.sent.empty());
  // The provider's retry is acted on.
  std::optional<Result<Incident>> retried;
  manager_->AcknowledgeAsync("INC-1", "api-user", t0_, "api",
                             InboundDelivery{"pagerduty", "evt-0", t0_},
                             [&retried](Result<Incident> r) { retried = std::move(r); });
  RunUntil([&] { return retried.has_value(); });
  ASSERT_TRUE(*retried) << retried->error().message();
  EXPECT_EQ((*retried)->state, IncidentState::kAcknowledged);
  EXPECT_TRUE(manager_->HasDelivery("pagerduty", "evt-0").value());
  EXPECT_EQ(store_->Get("INC-1").value()->state, IncidentState::kAcknowledged);
}

// A page handed along with its change and refused before that change has answered (the outbox
// does so while the store shuts down; RecordingPager keeps Pager's default SendOnceDecided, which
// always refuses at once) follows the change: written again at once when the change is durable,
// dropped when it failed, and never left to a retry timer either way.
TEST_F(StoreThreadManagerTest, APageRefusedBeforeItsChangeAnswersFollowsTheChange) {
  OpenIncidents(2);
  manager_->SetPagerSharesWriter(true);
  std::optional<Result<Incident>> acked;
  manager_->AcknowledgeAsync("INC-1", "api-user", t0_, "api", std::nullopt,
                             [&acked](Result<Incident> r) { acked = std::move(r); });
  RunUntil([&] { return acked.has_value(); });
  ASSERT_TRUE(*acked) << acked->error().message();
  scheduler_.RunPending();
  ASSERT_EQ(pager_.OfAction(PageAction::kAcknowledge).size(), 1U)
      << "the durable change's page was not written again";
  EXPECT_EQ(pager_.OfAction(PageAction::kAcknowledge)[0].incident_id, "INC-1");

  // Everything the first ack set off (its "queued" record) is written before the fault is set.
  bool settled = false;
  writer_->Submit([](store::Database&) -> Result<void> { return {}; },
                  [&settled](Result<void>) { settled = true; });
  RunUntil([&] { return settled; });
  scheduler_.RunPending();
  // The change fails (its group's COMMIT): its page is dropped, not retried.
  writer_->SetFaultInjector(&faults_.emplace(StoreOp::kCommit, 1));
  std::optional<Result<Incident>> failed;
  manager_->AcknowledgeAsync("INC-2", "api-user", t0_, "api", std::nullopt,
                             [&failed](Result<Incident> r) { failed = std::move(r); });
  RunUntil([&] { return failed.has_value(); });
  writer_->SetFaultInjector(nullptr);
  ASSERT_TRUE(faults_->fired());
  ASSERT_FALSE(*failed);
  scheduler_.AdvanceBy(std::chrono::minutes(2));  // any retry timer fires
  scheduler_.RunPending();
  EXPECT_EQ(pager_.OfAction(PageAction::kAcknowledge).size(), 1U)
      << "a page of the change that failed was sent";
  EXPECT_EQ(pager_.sent.size(), 1U);
}

TEST_F(StoreThreadManagerTest, TransitionsOfOneIncidentWaitForEachOtherAndKeepTheirOrder) {
  OpenIncidents(1);
  // Submitted back to back before any completes: each is computed from the state the previous
  // one left, so none is refused as stale and the timeline has them in order.
  std::vector<std::string> answered;
  for (int i = 0; i < 20; ++i) {
    manager_->AddNoteAsync("INC-1", "api-user", "note " + std::to_string(i), t0_, "api",
                           std::nullopt, [&answered, i](Result<Incident> r) {
                             ASSERT_TRUE(r) << r.error().message();
                             answered.push_back("note " + std::to_string(i));
                           });
  }
  std::optional<Result<Incident>> resolved;
  manager_->ResolveAsync("INC-1", "api-user", t0_, "api", std::nullopt,
                         [&resolved](Result<Incident> r) { resolved = std::move(r); });
  RunUntil([&] { return resolved.has_value(); });
  ASSERT_TRUE(*resolved) << resolved->error().message();
  ASSERT_EQ(answered.size(), 20u);
  std::vector<std::string> notes;
  const auto timeline = store_->Timeline("INC-1").value();
  for (const auto& e : timeline) {
    if (e.kind == "note") notes.push_back(e.text);
  }
  EXPECT_EQ(notes, answered);
  EXPECT_EQ(store_->Get("INC-1").value()->state, IncidentState::kResolved);
  EXPECT_TRUE(manager_->Verify("INC-1")->ok);
}

// GET /api/v1/incidents/{id} read the incident from memory and its timeline from the
// database: between the store thread's commit and the loop applying it, the timeline had an
// event the incident did not count.
TEST_F(StoreThreadManagerTest, AnIncidentAndItsTimelineReadInOneTurnAgree) {
  OpenIncidents(1);
  const auto before = manager_->Get("INC-1").value();
  std::optional<Result<Incident>> noted;
  manager_->AddNoteAsync("INC-1", "api-user", "PSP-A confirms", t0_, "api", std::nullopt,
                         [&noted](Result<Incident> r) { noted = std::move(r); });
  // Committed, and its completion not run yet: the loop (this thread) has not turned.
  while (store_->Timeline("INC-1").value().size() == static_cast<size_t>(before.timeline_seq)) {
    std::this_thread::yield();
  }
  ASSERT_FALSE(noted.has_value());
  auto inc = manager_->Get("INC-1").value();
  auto timeline = manager_->Timeline("INC-1").value();
  EXPECT_EQ(inc.timeline_seq, before.timeline_seq);
  ASSERT_EQ(timeline.size(), static_cast<size_t>(inc.timeline_seq));
  EXPECT_EQ(timeline.back().hash, inc.timeline_head);
  // Once applied, both have the note.
  RunUntil([&] { return noted.has_value(); });
  inc = manager_->Get("INC-1").value();
  timeline = manager_->Timeline("INC-1").value();
  EXPECT_EQ(inc.timeline_seq, before.timeline_seq + 1);
  ASSERT_EQ(timeline.size(), static_cast<size_t>(inc.timeline_seq));
  EXPECT_EQ(timeline.back().text, "PSP-A confirms");
  EXPECT_EQ(timeline.back().hash, inc.timeline_head);
}

// Found in review: a post-mortem forwarded by a standby and retried under a new id was checked
// for outside the incident's lane, so a second copy that came while the first was being
// committed was recorded too (and posted to the war room twice).
TEST_F(StoreThreadManagerTest, ThePostmortemOfOnePersonAndURLIsRecordedOnce) {
  OpenIncidents(1);
  int answered = 0;
  for (int i = 0; i < 2; ++i) {
    manager_->RecordPostmortemAsync("INC-1", "olena", "https://wiki/pm/INC-1", t0_,
                                    [&answered](Result<Incident> r) {
                                      ASSERT_TRUE(r) << r.error().message();
                                      ++answered;
                                    });
  }
  manager_->RecordPostmortemAsync("INC-1", "olena", "https://wiki/pm/INC-1-v2", t0_,
                                  [&answered](Result<Incident> r) {
                                    ASSERT_TRUE(r) << r.error().message();
                                    ++answered;
                                  });
  RunUntil([&] { return answered == 3; });
  std::vector<std::string> recorded;
  const auto timeline = store_->Timeline("INC-1").value();
  for (const auto& e : timeline) {
    if (e.kind == "postmortem") recorded.push_back(e.text);
  }
  EXPECT_EQ(recorded, (std::vector<std::string>{"post-mortem recorded: https://wiki/pm/INC-1",
                                                "post-mortem recorded: https://wiki/pm/INC-1-v2"}));
}

TEST_F(StoreThreadManagerTest, IncidentNumbersCountedInMemoryStayUniqueAfterARestart) {
  OpenIncidents(5);
  // A new manager over the same store (a restart) continues after INC-5.
  PolicySet policies;
  policies.policies["default"] = DefaultPolicy();
  policies.policies["default"].steps[0].after = std::chrono::hours(1);
  manager_ = std::make_unique<IncidentManager>(scheduler_, *store_, pager_, nullptr, policies,
                                               IncidentsConfig{});
  ASSERT_TRUE(manager_->Start());
  std::optional<Result<Incident>> opened;
  manager_->OpenAsync(Group(99), "tocsin", t0_,
                      [&opened](Result<Incident> r) { opened = std::move(r); });
  RunUntil([&] { return opened.has_value(); });
  ASSERT_TRUE(*opened) << opened->error().message();
  EXPECT_EQ((*opened)->id, "INC-6");
}

// A Pager that notes how many group commits the store thread had made when each page reached
// it: what the page waited for.
class CommitCountingPager final : public Pager {
 public:
  explicit CommitCountingPager(const store::StoreThread& writer) : writer_(writer) {}
  void Send(const PageRequest& request, SendDone done) override {
    commits_at_send.push_back(writer_.commits());
    inner.Send(request, std::move(done));
  }
  tocsin::testing::RecordingPager inner;
  std::vector<std::uint64_t> commits_at_send;

 private:
  const store::StoreThread& writer_;
};

TEST_F(StoreThreadManagerTest, AnIncidentWhoseFirstStepIsDueAtOnceIsOpenedAndPagedInOneCommit) {
  config::Diagnostics diags;
  auto roster = oncall::LoadRosterString("roster.yaml", kTestRoster, diags);
  ASSERT_TRUE(roster) << diags.ToString();
  PolicySet policies;
  policies.policies["default"] = DefaultPolicy();
  ASSERT_EQ(policies.policies["default"].steps[0].after, Duration(0));
  CommitCountingPager pager(*writer_);
  manager_ = std::make_unique<IncidentManager>(scheduler_, *store_, pager,
                                               std::make_shared<const oncall::Schedule>(*roster),
                                               policies, IncidentsConfig{});
  ASSERT_TRUE(manager_->Start());
  const std::uint64_t before = writer_->commits();

  std::optional<Incident> opened;
  manager_->OpenAsync(Group(1), "tocsin", t0_, [&opened](Result<Incident> r) {
    ASSERT_TRUE(r) << r.error().message();
    opened = *r;
  });
  RunUntil([&] { return opened.has_value() && !pager.inner.sent.empty(); });
  // The open, the decision of step 1 and its page intent were one commit; the page was handed
  // on as soon as it was durable (two commits in series before).
  ASSERT_EQ(pager.commits_at_send.size(), 1U);
  EXPECT_EQ(pager.commits_at_send[0], before + 1);
  ASSERT_EQ(pager.inner.Triggers().size(), 1U);
  EXPECT_EQ(pager.inner.Triggers()[0].idempotency_key, "INC-1/step-0/trigger");
  EXPECT_TRUE(pager.inner.Paged("l1a"));
  // The caller already sees the ladder past step 1.
  EXPECT_EQ(opened->next_step, 1);
  EXPECT_EQ(opened->paged, (std::vector<std::string>{"l1a", "newbie"}));  // and the shadow

  // The same timeline, in the same order, as when the step was its own commit; the chain holds.
  auto timeline = store_->Timeline("INC-1");
  ASSERT_TRUE(timeline) << timeline.error().message();
  std::vector<std::string> kinds;
  for (const auto& e : *timeline) kinds.push_back(e.kind);
  ASSERT_GE(kinds.size(), 3U);
  EXPECT_EQ(kinds[0], "opened");
  EXPECT_EQ(kinds[1], "alert_fired");
  EXPECT_EQ(kinds[2], std::string(kEventPageDecided));
  for (std::size_t i = 1; i < timeline->size(); ++i) {
    EXPECT_EQ((*timeline)[i].prev_hash, (*timeline)[i - 1].hash) << "event " << i;
  }
  writer_->Stop();
  manager_.reset();
}

}  // namespace
}  // namespace tocsin::incident
