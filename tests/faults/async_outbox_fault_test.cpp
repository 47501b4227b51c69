// The outbox on the daemon's store: SQLite with a StoreThread, so its writes are asynchronous.
// Durable before acknowledged must hold there too: the outbox reports a page accepted only
// once its row is on disk, and when the store thread's write of that row fails, the page is
// neither lost nor claimed. Real parts: SQLite, the store thread, the incident manager, the
// outbox and the PagerDuty and Slack notifiers against the provider simulator; time is
// simulated, and the fault goes through the Database's FaultInjector seam on the store
// thread's own connection, exactly where an I/O error would surface.
#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <algorithm>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fakes/store/store_thread_helpers.h"
#include "notify/notifier_factory.h"
#include "notify/notify_fixtures.h"
#include "notify/outbox.h"
#include "notify/sim_fixture.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_outbox_store.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::faults {
namespace {

using incident::Channel;
using nlohmann::json;
using std::chrono::seconds;
using store::StoreOp;

constexpr const char* kRoster = R"(
people:
  l1a: {name: L1 Day, time_zone: UTC, slack_user_id: U1, pagerduty_user_id: P1}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [l1a]}
)";

// The store thread's faults, as a full disk would cause them, and what it ran. Thread-safe (it
// is asked on the store thread).
class StoreFaults final : public store::FaultInjector {
 public:
  std::optional<Error> Before(StoreOp op, std::string_view sql) override {
    std::lock_guard lock(mu_);
    seen_.push_back(op == StoreOp::kCommit ? std::string("COMMIT")
                                           : std::string(sql.substr(0, 40)));
    if (op == StoreOp::kCommit) {
      const bool fail = fail_this_commit_;
      fail_this_commit_ = false;
      if (!fail) return std::nullopt;
      ++failed_;
      return Error::Io("disk I/O error (injected into the store thread's COMMIT)");
    }
    if (!commit_after_.empty() && sql.find(commit_after_) != std::string_view::npos) {
      fail_this_commit_ = true;
    }
    if (write_.empty() || sql.find(write_) == std::string_view::npos) return std::nullopt;
    ++failed_;
    return Error::Io("disk I/O error (injected into the store thread's write)");
  }
  // Fails every write whose SQL contains `sql` ("": none).
  void FailWrites(std::string sql) {
    std::lock_guard lock(mu_);
    write_ = std::move(sql);
  }
  void Arm(bool on) { FailWrites(on ? "INSERT INTO notify_outbox" : ""); }
  // Fails the COMMIT of every group that ran a write whose SQL contains `sql` ("": none).
  void FailCommitsAfter(std::string sql) {
    std::lock_guard lock(mu_);
    commit_after_ = std::move(sql);
  }
  int failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  // What ran, in order: each write's first 40 characters, and "COMMIT".
  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::string write_;
  std::string commit_after_;
  bool fail_this_commit_ = false;
  int failed_ = 0;
  std::vector<std::string> seen_;
};

class AsyncOutboxFault : public ::testing::Test {
 protected:
  AsyncOutboxFault() : scheduler_(notify::testing::T0()) {}

  void SetUp() override {
    const std::string path = dir_.path() + "/tocsin.db";
    auto db = store::Database::Open(path);
    ASSERT_TRUE(db) << db.error().message();
    db_ = std::move(*db);
    auto writer = store::StoreThread::Open(
        path, {}, [this](std::function<void()> cb) { scheduler_.Post(std::move(cb)); });
    ASSERT_TRUE(writer) << writer.error().message();
    writer_ = std::move(*writer);
    writer_->SetFaultInjector(&fault_);
    incident_store_ = std::make_unique<store::SqliteIncidentStore>(*db_, writer_.get());
    ASSERT_TRUE(incident_store_->Migrate());
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_, writer_.get());
    outbox_ =
        std::make_unique<notify::Outbox>(*outbox_store_, scheduler_, executor_, &registry_, 7);
    ASSERT_TRUE(outbox_->Open());
    notify::NotifyConfig cfg;
    cfg.jitter = 0;
    notify::NotifierDeps deps;
    deps.renderer = *notify::PageRenderer::Create(notify::RenderOptions{});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = outbox_store_.get();
    outbox_->Configure(
        notify::BuildNotifiers(notify::testing::SimProviders(sim_.url(), false), deps), cfg);

    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", kRoster, diags);
    ASSERT_TRUE(roster) << diags.ToString();
    incident::EscalationPolicy policy;
    policy.name = "default";
    incident::EscalationStep l1;
    l1.after = Duration(0);
    l1.targets.push_back({});
    l1.targets.back().role = "l1";
    l1.channels = {Channel::kPagerDuty, Channel::kSlack};
    policy.steps = {l1};
    incident::PolicySet policies;
    policies.policies["default"] = policy;
    manager_ = std::make_unique<incident::IncidentManager>(
        scheduler_, *incident_store_, *outbox_, std::make_shared<const oncall::Schedule>(*roster),
        policies, incident::IncidentsConfig{}, &registry_);
    // As the daemon wires them: one store thread for both.
    manager_->SetPagerSharesWriter(true);
    outbox_->SetObserver(manager_.get());
    ASSERT_TRUE(manager_->Start());
  }

  void TearDown() override {
    writer_->SetFaultInjector(nullptr);
    writer_->Stop();
    manager_.reset();
    outbox_.reset();
  }

  // Runs the loop until `done` holds: completions come back from the store thread through
  // Post. The wall-clock bound only turns a hang into a failure; nothing waits on a timer.
  void RunUntil(const std::function<bool()>& done, const char* what) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      scheduler_.RunPending();
      if (std::chrono::steady_clock::now() > give_up) {
        FAIL() << "never happened: " << what;
        return;
      }
      std::this_thread::yield();
    }
  }
  // Every write submitted so far has been committed and its completion run on the loop
  // (writes and their completions keep submission order).
  void Settle() {
    bool flushed = false;
    writer_->Submit([](store::Database&) -> Result<void> { return {}; },
                    [&flushed](Result<void>) { flushed = true; });
    RunUntil([&] { return flushed; }, "the store thread's queue to drain");
    scheduler_.RunPending();
  }

  static dispatch::AlertGroup Group() {
    dispatch::AlertGroup g;
    g.key = "g1";
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    g.alerts.push_back(notify::testing::DepositAlert());
    return g;
  }
  double Metric(const std::string& name) {
    double sum = 0;
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) sum += m.counter.value;
    }
    return sum;
  }
  std::vector<incident::TimelineEvent> OfKind(std::string_view kind) {
    std::vector<incident::TimelineEvent> out;
    auto timeline = incident_store_->Timeline("INC-1");
    EXPECT_TRUE(timeline) << timeline.error().message();
    if (!timeline) return out;
    for (const auto& e : *timeline) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  int AcceptedTriggers() {
    int n = 0;
    for (const auto& r : sim_.Requests("/v2/enqueue")) {
      if (r["status"] == 202 &&
          json::parse(r["body"].get<std::string>())["event_action"] == "trigger") {
        ++n;
      }
    }
    return n;
  }
  bool HandedOff() {
    auto pending = incident_store_->PendingPages();
    return pending && pending->empty();
  }

  notify::testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  prometheus::Registry registry_;
  StoreFaults fault_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::StoreThread> writer_;
  std::unique_ptr<store::SqliteIncidentStore> incident_store_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_store_;
  std::unique_ptr<notify::Outbox> outbox_;
  std::unique_ptr<incident::IncidentManager> manager_;
};

// Send reported a page accepted as soon as it was planned, before its row was on disk: a crash
// in between lost a page the incident said it had queued.
TEST_F(AsyncOutboxFault, SendAnswersOnlyOnceTheRowIsDurable) {
  auto held = store::testkit::HoldStoreThread(*writer_);
  std::optional<Result<incident::PageReceipt>> answer;
  outbox_->Send(notify::testing::DepositPage("INC-9"),
                [&answer](Result<incident::PageReceipt> r) { answer = std::move(r); });
  scheduler_.RunPending();
  EXPECT_FALSE(answer.has_value()) << "answered while the write waits for the store thread";
  EXPECT_EQ(outbox_->pending(), 0u) << "queued before it is durable";
  EXPECT_EQ(outbox_store_->Count("pending"), 0);
  EXPECT_TRUE(sim_.Requests("/v2/enqueue").empty()) << "sent before it is durable";
  held.set_value();
  RunUntil([&] { return answer.has_value(); }, "Send's answer");
  ASSERT_TRUE(*answer) << answer->error().message();
  EXPECT_FALSE((*answer)->queued.empty());
  // Durable at the moment of the answer: the loop's own connection sees the rows.
  EXPECT_GT(outbox_store_->Count("pending") + outbox_store_->Count("sent"), 0);
  Settle();
  EXPECT_EQ(AcceptedTriggers(), 1);
}

// A failed outbox write on the store thread: the page must not be lost and the incident must
// not claim it paged. It is retried until the row is durable, then sent once.
TEST_F(AsyncOutboxFault, FailedAsyncOutboxWriteIsRetriedNeverClaimedAndPagedOnce) {
  fault_.Arm(true);
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  RunUntil([&] { return Metric("tocsin_outbox_write_failures_total") >= 1; },
           "the outbox write to fail");
  Settle();
  EXPECT_GE(fault_.failed(), 1);
  EXPECT_TRUE(OfKind("queued").empty()) << "the timeline claims a page the outbox never stored";
  EXPECT_TRUE(OfKind("sent").empty());
  EXPECT_FALSE(HandedOff()) << "the page intent was marked handed off without a durable row";
  EXPECT_EQ(outbox_->pending(), 0u);
  EXPECT_EQ(outbox_store_->Count("pending"), 0);
  EXPECT_EQ(AcceptedTriggers(), 0);

  // Still refused at the first retry (1 s later): still nothing claimed.
  scheduler_.AdvanceBy(seconds(1));
  RunUntil([&] { return Metric("tocsin_outbox_write_failures_total") >= 2; },
           "the first retry to fail");
  Settle();
  EXPECT_TRUE(OfKind("queued").empty());
  EXPECT_EQ(AcceptedTriggers(), 0);

  // The disk is back: the next retry (2 s later) stores it, then it is sent, once.
  fault_.Arm(false);
  scheduler_.AdvanceBy(seconds(2));
  RunUntil([&] { return !OfKind("sent").empty() && HandedOff(); }, "the page to be sent");
  Settle();
  EXPECT_EQ(AcceptedTriggers(), 1);
  EXPECT_FALSE(OfKind("queued").empty());
  EXPECT_EQ(outbox_store_->Count("pending"), 0);
  // Every refused write but the first: that one was written with the change and, refused, was
  // written again at once (a retry whose failure is the first one counted).
  EXPECT_EQ(Metric("tocsin_outbox_write_failures_total"), fault_.failed() - 1);
}

// A page paid two fsyncs in series before its provider request: the change that decided it,
// then, once that was durable, its outbox row. The row now joins the change's group commit, on
// condition that the change's intent is there.
TEST_F(AsyncOutboxFault, APageIsWrittenInTheCommitOfTheChangeThatDecidedIt) {
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  RunUntil([&] { return AcceptedTriggers() == 1 && HandedOff(); }, "the page to be sent");
  Settle();
  const auto seen = fault_.seen();
  auto at = [&](std::string_view what) {
    return std::find_if(seen.begin(), seen.end(),
                        [&](const std::string& s) { return s.starts_with(what); });
  };
  auto intent = at("INSERT INTO incident_pages");
  auto row = at("INSERT INTO notify_outbox");
  ASSERT_NE(intent, seen.end());
  ASSERT_NE(row, seen.end());
  ASSERT_LT(intent, row) << "the outbox row was written before the intent";
  EXPECT_EQ(std::find(intent, row, "COMMIT"), row)
      << "a COMMIT (an fsync) between the intent and its outbox row";
  EXPECT_EQ(AcceptedTriggers(), 1);
  EXPECT_FALSE(OfKind("queued").empty());
  EXPECT_EQ(Metric("tocsin_outbox_write_failures_total"), 0);
}

// The change that decided a page fails (its write, or its group's COMMIT): the page it handed
// along must leave no outbox row, must not be sent, and must not be retried later (a retry would
// send a page for an incident that does not exist). The change's own retry pages once.
class AsyncOutboxChangeFault : public AsyncOutboxFault,
                               public ::testing::WithParamInterface<bool> {};

TEST_P(AsyncOutboxChangeFault, AFailedChangeLeavesNoPageBehindAndItsRetryPagesOnce) {
  const bool at_commit = GetParam();
  if (at_commit) {
    fault_.FailCommitsAfter("INSERT INTO incident_pages");
  } else {
    fault_.FailWrites("INSERT INTO incident_pages");
  }
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  RunUntil([&] { return fault_.failed() >= 1; }, "the change to fail");
  Settle();
  Settle();  // what the completions submitted
  auto incidents = incident_store_->List({});
  ASSERT_TRUE(incidents) << incidents.error().message();
  EXPECT_TRUE(incidents->empty()) << "the failed change was recorded";
  EXPECT_EQ(outbox_store_->Count("pending") + outbox_store_->Count("sent"), 0)
      << "an outbox row for a change that failed";
  EXPECT_EQ(outbox_->pending(), 0u);
  // Nothing is retried, so nothing counts as an outbox write failure (the metric's promise is
  // a retry; the change's own failure is the incident side's to count).
  EXPECT_EQ(Metric("tocsin_outbox_write_failures_total"), 0);

  // The disk is back; two minutes of retry timers later, nothing was sent: nothing to retry.
  fault_.FailWrites("");
  fault_.FailCommitsAfter("");
  scheduler_.AdvanceBy(seconds(120));
  Settle();
  EXPECT_EQ(AcceptedTriggers(), 0) << "a page of the failed change was sent";
  EXPECT_EQ(outbox_store_->Count("pending") + outbox_store_->Count("sent"), 0);

  // The next flush of the group (its own retry) opens the incident and pages once.
  manager_->OnGroupFlush(Group(), scheduler_.clock().Now());
  RunUntil([&] { return AcceptedTriggers() == 1 && HandedOff(); }, "the page to be sent");
  Settle();
  EXPECT_EQ(AcceptedTriggers(), 1);
  EXPECT_EQ(fault_.failed(), 1);
}

INSTANTIATE_TEST_SUITE_P(Faults, AsyncOutboxChangeFault, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Commit" : "Write"; });

}  // namespace
}  // namespace tocsin::faults
