// The store thread: many writes share one commit, a failed commit fails every write of its
// group, writes land and complete in submission order, and the thread that submits (the event
// loop) never runs a statement itself. Counted through the FaultInjector seam, never timed.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "fakes/store/counting_fault_injector.h"
#include "fakes/store/store_thread_helpers.h"
#include "support/test_store.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store {
namespace {

using testkit::CountingFaultInjector;

// The event loop as far as the store thread can tell: posted work runs on the test's thread,
// when the test drains it. Waiting blocks on a condition variable, never on the clock.
class Loop {
 public:
  StoreThread::Post Poster() {
    return [this](std::function<void()> cb) {
      std::lock_guard lock(mu_);
      posted_.push_back(std::move(cb));
      cv_.notify_all();
    };
  }
  // Runs posted work until `done` holds.
  void RunUntil(const std::function<bool()>& done) {
    while (!done()) {
      std::function<void()> cb;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !posted_.empty(); });
        cb = std::move(posted_.front());
        posted_.pop_front();
      }
      cb();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> posted_;
};

Result<void> Insert(Database& db, std::int64_t v) {
  auto st = db.Prepare("INSERT INTO t(v) VALUES (?)");
  if (!st) return Fail(st.error());
  return st->Bind(1, v).Run();
}

class StoreThreadTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    test_store_ = tocsin::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(test_store_);
    reader_ = test_store_->Open();
    ASSERT_TRUE(reader_);
    ASSERT_TRUE(reader_->Migrate(
        {{"test", 1, "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER UNIQUE)"}}));
    auto st = StoreThread::Open(test_store_->url(), {}, loop_.Poster());
    ASSERT_TRUE(st) << st.error().message();
    store_ = std::move(*st);
  }
  void TearDown() override {
    if (store_) store_->Stop();
  }

  std::promise<void> HoldStoreThread() {
    return testkit::HoldStoreThread(*store_, [this](Result<void>) { ++held_done_; });
  }

  std::vector<std::int64_t> ValuesOnDisk() {
    std::vector<std::int64_t> out;
    auto st = reader_->Prepare("SELECT v FROM t ORDER BY seq");
    EXPECT_TRUE(st);
    while (*st->Step()) out.push_back(st->Int(0));
    return out;
  }

  std::unique_ptr<tocsin::testing::TestStore> test_store_;
  Loop loop_;
  std::unique_ptr<Database> reader_;
  std::unique_ptr<StoreThread> store_;
  int held_done_ = 0;
};

TEST_P(StoreThreadTest, ManyWritesQueuedWhileAGroupCommitsShareOneCommit) {
  CountingFaultInjector counter;
  store_->SetFaultInjector(&counter);
  auto release = HoldStoreThread();
  constexpr int kWrites = 200;
  int ok = 0;
  for (int i = 0; i < kWrites; ++i) {
    store_->Submit([i](Database& db) { return Insert(db, i); },
                   [&ok](Result<void> r) { ok += r ? 1 : 0; });
  }
  release.set_value();
  loop_.RunUntil([&] { return ok == kWrites && held_done_ == 1; });
  store_->SetFaultInjector(nullptr);
  // The held write's group, then one group for all 200: two COMMITs for 201 writes.
  EXPECT_EQ(counter.commits(), 2);
  EXPECT_EQ(counter.writes(), kWrites);
  EXPECT_EQ(store_->commits(), 2u);
  EXPECT_EQ(store_->largest_group(), static_cast<std::uint64_t>(kWrites));
  EXPECT_EQ(ValuesOnDisk().size(), static_cast<std::size_t>(kWrites));
}

TEST_P(StoreThreadTest, AFailedGroupCommitFailsEveryWriteOfTheGroup) {
  // Commit #1 is the held write's group; #2 is the group of the ten.
  CountingFaultInjector faults(StoreOp::kCommit, 2);
  store_->SetFaultInjector(&faults);
  auto release = HoldStoreThread();
  std::vector<std::optional<Result<void>>> results(10);
  for (int i = 0; i < 10; ++i) {
    store_->Submit([i](Database& db) { return Insert(db, i); },
                   [&results, i](Result<void> r) { results[i] = std::move(r); });
  }
  release.set_value();
  loop_.RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  });
  store_->SetFaultInjector(nullptr);
  ASSERT_TRUE(faults.fired());
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(*results[i]) << "write " << i << " reported durable though its commit failed";
    EXPECT_EQ(results[i]->error().kind(), Error::Kind::kIo);
  }
  EXPECT_TRUE(ValuesOnDisk().empty());
  // The store goes on: the next write commits.
  bool later = false;
  store_->Submit([](Database& db) { return Insert(db, 99); },
                 [&later](Result<void> r) { later = r.has_value(); });
  loop_.RunUntil([&] { return later; });
  EXPECT_EQ(ValuesOnDisk(), std::vector<std::int64_t>{99});
}

TEST_P(StoreThreadTest, AFailedWriteFailsAloneAndTheRestOfItsGroupCommits) {
  auto release = HoldStoreThread();
  std::vector<std::optional<Result<void>>> results(5);
  for (int i = 0; i < 5; ++i) {
    // Write 2 inserts 1 again: a UNIQUE violation, rolled back to its savepoint.
    const std::int64_t v = i == 2 ? 1 : i;
    store_->Submit([v](Database& db) { return Insert(db, v); },
                   [&results, i](Result<void> r) { results[i] = std::move(r); });
  }
  release.set_value();
  loop_.RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(results[i]->has_value(), i != 2) << "write " << i;
  EXPECT_EQ(results[2]->error().kind(), Error::Kind::kConflict);
  EXPECT_EQ(ValuesOnDisk(), (std::vector<std::int64_t>{0, 1, 3, 4}));
}

TEST_P(StoreThreadTest, WritesLandAndCompleteInSubmissionOrder) {
  std::vector<std::int64_t> completed;
  constexpr int kWrites = 500;
  // Some submitted while the thread is idle, some while it commits: several groups.
  for (int i = 0; i < kWrites; ++i) {
    store_->Submit([i](Database& db) { return Insert(db, 1000 - i); },
                   [&completed, i](Result<void> r) {
                     ASSERT_TRUE(r) << r.error().message();
                     completed.push_back(1000 - i);
                   });
  }
  loop_.RunUntil([&] { return completed.size() == kWrites; });
  std::vector<std::int64_t> expected;
  for (int i = 0; i < kWrites; ++i) expected.push_back(1000 - i);
  EXPECT_EQ(completed, expected);
  EXPECT_EQ(ValuesOnDisk(), expected);
}

TEST_P(StoreThreadTest, TheSubmittingThreadNeverRunsAStatementOrCommit) {
  testkit::ThreadRecordingInjector recorder;
  store_->SetFaultInjector(&recorder);
  int done = 0;
  for (int i = 0; i < 100; ++i) {
    store_->Submit([i](Database& db) { return Insert(db, i); }, [&done](Result<void>) { ++done; });
  }
  loop_.RunUntil([&] { return done == 100; });
  store_->SetFaultInjector(nullptr);
  ASSERT_GE(recorder.calls(), 101);  // 100 inserts and at least one COMMIT
  EXPECT_EQ(recorder.threads(), std::set<std::thread::id>{store_->thread_id()});
  EXPECT_EQ(recorder.threads().count(std::this_thread::get_id()), 0u);
}

TEST_P(StoreThreadTest, RunSyncWaitsForItsGroupAndStopCommitsWhatWasSubmitted) {
  ASSERT_TRUE(store_->RunSync([](Database& db) { return Insert(db, 7); }));
  EXPECT_EQ(ValuesOnDisk(), std::vector<std::int64_t>{7});
  bool done = false;
  store_->Submit([](Database& db) { return Insert(db, 8); },
                 [&done](Result<void> r) { done = r.has_value(); });
  store_->Stop();
  EXPECT_EQ(ValuesOnDisk(), (std::vector<std::int64_t>{7, 8}));
  loop_.RunUntil([&] { return done; });
  // After Stop a write is refused, through the loop like any other completion.
  std::optional<Result<void>> refused;
  store_->Submit([](Database& db) { return Insert(db, 9); },
                 [&refused](Result<void> r) { refused = std::move(r); });
  loop_.RunUntil([&] { return refused.has_value(); });
  EXPECT_FALSE(*refused);
}

// Two writes submitted under one Cork share a group: the first does not wake the store thread,
// which, free on its own core, would otherwise commit it alone before the second is queued.
TEST_P(StoreThreadTest, WritesSubmittedUnderACorkShareOneGroupCommit) {
  const std::uint64_t before = store_->commits();
  int done = 0;
  {
    StoreThread::Cork cork(*store_);
    store_->Submit([](Database& db) { return Insert(db, 1); }, [&done](Result<void>) { ++done; });
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // room for a woken thread to run
    StoreThread::Cork nested(*store_);
    store_->Submit([](Database& db) { return Insert(db, 2); }, [&done](Result<void>) { ++done; });
  }
  loop_.RunUntil([&] { return done == 2; });
  EXPECT_EQ(store_->commits(), before + 1);
  EXPECT_EQ(store_->largest_group(), 2u);
  EXPECT_EQ(ValuesOnDisk(), (std::vector<std::int64_t>{1, 2}));
}

TOCSIN_ON_BOTH_STORES(StoreThreadTest);

// SQLite's automatic checkpoint ran inside the COMMIT that crossed 1,000 WAL frames, adding
// milliseconds to whichever page was in that group. The store thread checkpoints after the
// group's completions instead, and the WAL still stays bounded.
TEST(StoreThreadSqlite, CheckpointsAfterTheGroupKeepTheWalBounded) {
  auto test_store = tocsin::testing::TestStore::Create(Dialect::kSqlite);
  ASSERT_TRUE(test_store);
  auto reader = test_store->Open();
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->Migrate({{"test", 1, "CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)"}}));
  Loop loop;
  auto st = StoreThread::Open(test_store->url(), {}, loop.Poster());
  ASSERT_TRUE(st) << st.error().message();
  StoreThread& store = **st;
  const std::string wal = test_store->url().sqlite_path + "-wal";
  // Each write about five 4 KiB pages; 800 of them one at a time put about 4,000 frames
  // (16 MiB) through the WAL, which without checkpoints would hold them all.
  const std::string blob(16 * 1024, 'x');
  std::uintmax_t largest_wal = 0;
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(store.RunSync([&blob](Database& db) {
      auto ins = db.PrepareCached("INSERT INTO b(v) VALUES (?)");
      if (!ins) return Result<void>(Fail(ins.error()));
      return ins->Bind(1, std::string_view(blob)).Run();
    }));
    largest_wal = std::max(largest_wal, std::filesystem::file_size(wal));
  }
  EXPECT_GE(store.checkpoints(), 2u);
  // 1,000 frames and what was committed while a checkpoint ran, far below the 16 MiB.
  EXPECT_LT(largest_wal, 8u * 1024 * 1024) << "the WAL grew without checkpoints";
  store.Stop();
}

}  // namespace
}  // namespace tocsin::store
