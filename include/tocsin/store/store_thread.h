#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tocsin/common/result.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_url.h"

namespace tocsin::store {

// The thread that writes, so that the event loop never waits for an fsync. Writes are
// submitted with a completion; the thread takes every write queued so far and commits them as
// one group: BEGIN IMMEDIATE, each write inside its own SAVEPOINT, one COMMIT, one fsync (on
// PostgreSQL the same: one transaction per group, with the fence check first when one is set).
// While it commits, the next writes queue up and become the next group, so the busier the daemon,
// the more writes share an fsync (group commit, as in LevelDB's write queue or PostgreSQL's
// commit_delay without the delay).
//
// Each completion is posted back to the loop (through `post`) once its group is durable or has
// failed, in submission order, one post per group:
// - a write that fails (its own error, a constraint, an injected write fault) is rolled back to
//   its savepoint and fails alone; the other writes of the group go on;
// - a COMMIT that fails fails every write of the group, those that had succeeded included,
//   since none of them is on disk.
// Writes run in submission order, so two writes of one incident never swap.
//
// It owns a connection of its own (Database), so the loop's reads on its Database go on while
// a group commits (WAL readers do not wait for the writer). Only this thread touches it after
// Open(); Database's FaultInjector seam works on it (SetFaultInjector).
//
// On SQLite, the checkpoint is not run inside the COMMIT that crosses SQLite's threshold (its
// automatic checkpoint copies the WAL into the database and syncs it there: milliseconds added
// to the pages of that group) but by this thread after a group's completions are posted, once
// the WAL holds kCheckpointFrames frames (SQLite's own threshold), when no write is waiting
// (or, under a load that never lets up, once it holds kCheckpointDeferral times as many). This
// thread being the only writer, nothing is appended while it copies, so the WAL starts over at
// the next group, unless a reader on another connection still uses part of it (then the next
// group's turn tries again). A checkpointer on a connection of its own was tried: it chases a
// writer that never stops appending, and the WAL grew without end.
//
// Thread-safety: Submit and RunSync from any thread; RunSync blocks its caller until its
// group is durable, so the loop never calls it once it runs (startup and tools only).
class StoreThread {
 public:
  using Write = std::function<Result<void>(Database&)>;
  using Done = std::function<void(Result<void>)>;
  // Runs a callback on the loop thread (Scheduler::Post).
  using Post = std::function<void(std::function<void()>)>;

  // Opens a second connection to the database file at `path` (migrations must have run on
  // the first) and starts the thread.
  static Result<std::unique_ptr<StoreThread>> Open(const std::string& path, DatabaseOptions options,
                                                   Post post);
  // The same on the store at `url` (SQLite or PostgreSQL).
  static Result<std::unique_ptr<StoreThread>> Open(const StoreUrl& url, DatabaseOptions options,
                                                   Post post);
  ~StoreThread();
  StoreThread(const StoreThread&) = delete;
  StoreThread& operator=(const StoreThread&) = delete;

  // Queues `write`; `done` runs on the loop (via post) with its outcome. After Stop(), fails at
  // once (through post as well) without running the write.
  void Submit(Write write, Done done);
  // While a Cork lives, the store thread starts no group: writes that the Cork's thread submits
  // are queued, and the thread is woken once the last Cork goes, so those writes share one group
  // commit (a change and the outbox rows it decided: one fsync instead of two in series, were
  // the store thread to take the first and commit it alone), up to 4,096 writes a group. Nests.
  // Keep it to a few calls: other threads' writes wait for it too; never RunSync while holding
  // one (it would wait for itself). A Cork made while another thread's is alive adds nothing.
  class Cork {
   public:
    explicit Cork(StoreThread& thread);
    ~Cork();
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    StoreThread& thread_;
  };
  // Queues `write` and waits until its group is durable. Never from the loop thread.
  Result<void> RunSync(Write write);
  // Commits everything submitted so far, then ends the thread. Completions of that last group
  // are posted like any other (a loop that no longer runs drops them).
  void Stop();

  // Tests and benchmarks: the thread's id, groups committed (COMMITs that succeeded) and
  // writes in them, the largest group so far.
  std::thread::id thread_id() const { return thread_.get_id(); }
  std::uint64_t commits() const { return commits_.load(); }
  std::uint64_t committed_writes() const { return committed_writes_.load(); }
  std::uint64_t largest_group() const { return largest_group_.load(); }
  // Checkpoints that copied all of the WAL (SQLite; 0 on PostgreSQL).
  std::uint64_t checkpoints() const { return checkpoints_.load(); }
  // SQLite's own default threshold for its automatic checkpoint (pages in the WAL).
  static constexpr int kCheckpointFrames = 1000;
  // How far waiting writes may put the checkpoint off: up to this many times kCheckpointFrames
  // (about 16 MB of WAL at 4 KiB pages), then it runs even with writes waiting.
  static constexpr int kCheckpointDeferral = 4;
  // Tests only: the fault seam of the store thread's connection.
  void SetFaultInjector(FaultInjector* injector) { db_->SetFaultInjector(injector); }
  // Fencing (Database::SetFence) of every group this thread commits from now on.
  void SetFence(std::optional<std::int64_t> epoch) { db_->SetFence(epoch); }
  // The thread's own connection, for what must be set on it (fence, fault injector). Its
  // statements are run by this thread only: never Prepare or Exec on it from elsewhere.
  Database& database() { return *db_; }

 private:
  struct Item {
    Write write;
    Done done;
    // RunSync's completion: called on this thread, not posted (its caller is waiting).
    bool direct = false;
  };
  StoreThread(std::unique_ptr<Database> db, Post post);
  void Run();
  void CheckpointIfDue();
  void CommitGroup(std::deque<Item>& group);

  std::unique_ptr<Database> db_;
  Post post_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  int cork_depth_ = 0;  // Corks alive, all made by cork_owner_
  std::thread::id cork_owner_;
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> committed_writes_{0};
  std::atomic<std::uint64_t> largest_group_{0};
  int wal_frames_ = 0;  // this thread: frames in the WAL after the last commit (SQLite)
  std::atomic<std::uint64_t> checkpoints_{0};
  std::thread thread_;  // started in the constructor's body, once everything else exists
};

}  // namespace tocsin::store
