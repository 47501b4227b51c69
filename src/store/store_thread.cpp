#include "tocsin/store/store_thread.h"

#include <algorithm>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace tocsin::store {

namespace {
// A group larger than this is split: one huge transaction would hold the WAL write lock and
// delay the completions of its first writes for no gain, an fsync being paid per group anyway.
constexpr std::size_t kMaxGroup = 4096;
}  // namespace

Result<std::unique_ptr<StoreThread>> StoreThread::Open(const std::string& path,
                                                       DatabaseOptions options, Post post) {
  return Open(StoreUrl::Sqlite(path), options, std::move(post));
}

Result<std::unique_ptr<StoreThread>> StoreThread::Open(const StoreUrl& url, DatabaseOptions options,
                                                       Post post) {
  auto db = Database::Open(url, options);
  if (!db) return Fail(db.error());
  return std::unique_ptr<StoreThread>(new StoreThread(std::move(*db), std::move(post)));
}

StoreThread::StoreThread(std::unique_ptr<Database> db, Post post)
    : db_(std::move(db)), post_(std::move(post)) {
  // SQLite only (PostgreSQL never calls it); before the thread starts, so that it is set
  // before the first commit. Called on this thread, inside each COMMIT.
  db_->OnWalCommit([this](int frames) { wal_frames_ = frames; });
  thread_ = std::thread([this] { Run(); });
}

StoreThread::~StoreThread() { Stop(); }

void StoreThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreThread::CheckpointIfDue() {
  if (wal_frames_ < kCheckpointFrames) return;
  if (wal_frames_ < kCheckpointFrames * kCheckpointDeferral) {
    // Writes waiting: they go first (their pages would wait for the copy), unless the WAL has
    // grown this far; the group that leaves the queue empty checkpoints.
    std::lock_guard lock(mu_);
    if (!queue_.empty()) return;
  }
  wal_frames_ = 0;
  // PASSIVE: copies what no reader of the loop's connection still needs, without waiting for
  // them; this thread being the only writer, nothing is appended meanwhile, and the next
  // group starts the WAL over once all of it is copied. When a reader holds an older snapshot,
  // the rest waits for the next commit's turn.
  auto done = db_->CheckpointWal();
  if (!done) {
    spdlog::warn("store: WAL checkpoint failed, tried again after the next group: {}",
                 done.error().ToString());
    return;
  }
  if (*done) checkpoints_.fetch_add(1);
}

void StoreThread::Submit(Write write, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(write), std::move(done), false});
      if (cork_depth_ == 0 || cork_owner_ != std::this_thread::get_id()) cv_.notify_one();
      return;
    }
  }
  post_([done = std::move(done)] {
    done(Fail(Error::Transient("the store is shutting down; nothing was written")));
  });
}

StoreThread::Cork::Cork(StoreThread& thread) : thread_(thread) {
  std::lock_guard lock(thread_.mu_);
  if (thread_.cork_depth_ == 0) thread_.cork_owner_ = std::this_thread::get_id();
  // Another thread's Cork alive: this one adds nothing (its writes notify the thread, which
  // still waits for that Cork).
  if (thread_.cork_owner_ == std::this_thread::get_id()) ++thread_.cork_depth_;
}

StoreThread::Cork::~Cork() {
  {
    std::lock_guard lock(thread_.mu_);
    if (thread_.cork_owner_ != std::this_thread::get_id() || thread_.cork_depth_ == 0) return;
    if (--thread_.cork_depth_ != 0) return;
    thread_.cork_owner_ = {};
  }
  thread_.cv_.notify_one();
}

Result<void> StoreThread::RunSync(Write write) {
  std::promise<Result<void>> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return Fail(Error::Transient("the store is shutting down; nothing was written"));
    }
    queue_.push_back(
        {std::move(write), [&promise](Result<void> r) { promise.set_value(std::move(r)); }, true});
  }
  cv_.notify_one();
  return future.get();
}

void StoreThread::Run() {
  for (;;) {
    std::deque<Item> group;
    {
      std::unique_lock lock(mu_);
      // Not while corked: what the Cork's thread submits next belongs in this group.
      cv_.wait(lock, [this] { return stopping_ || (!queue_.empty() && cork_depth_ == 0); });
      if (queue_.empty()) return;  // stopping, and everything submitted is committed
      const std::size_t n = std::min(queue_.size(), kMaxGroup);
      for (std::size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    CheckpointIfDue();
  }
}

void StoreThread::CommitGroup(std::deque<Item>& group) {
  std::vector<Result<void>> results(group.size());
  auto fail_all = [&](const Error& e) {
    for (auto& r : results) r = Fail(e);
  };
  if (auto begin = db_->Exec("BEGIN IMMEDIATE"); !begin) {
    fail_all(begin.error());
  } else {
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (auto sp = db_->Exec("SAVEPOINT w"); !sp) {
        results[i] = sp;
        continue;
      }
      Result<void> r;
      try {
        r = group[i].write(*db_);
      } catch (const std::exception& e) {
        r = Fail(Error::Io(std::string("store write threw: ") + e.what()));
      }
      if (!r) (void)db_->Exec("ROLLBACK TO w");
      (void)db_->Exec("RELEASE w");
      results[i] = std::move(r);
    }
    if (auto commit = db_->Exec("COMMIT"); !commit) {
      (void)db_->Exec("ROLLBACK");
      spdlog::error("store: a group commit of {} write(s) failed, each is reported failed: {}",
                    group.size(), commit.error().ToString());
      fail_all(commit.error());
    } else {
      commits_.fetch_add(1);
      std::uint64_t ok = static_cast<std::uint64_t>(std::count_if(
          results.begin(), results.end(), [](const auto& r) { return r.has_value(); }));
      committed_writes_.fetch_add(ok);
      std::uint64_t size = group.size();
      std::uint64_t prev = largest_group_.load();
      while (size > prev && !largest_group_.compare_exchange_weak(prev, size)) {
      }
    }
  }
  // Direct completions first: their callers block a thread, not the loop.
  // Reserved: tl::expected<void, Error> is not nothrow-movable, so a growing vector copied
  // every completion, and with it the state its std::function holds (an outbox insert's
  // items and pages): 7 % of a restart's samples after a storm.
  std::vector<std::pair<Done, Result<void>>> posted;
  posted.reserve(group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (group[i].direct) {
      group[i].done(std::move(results[i]));
    } else {
      posted.emplace_back(std::move(group[i].done), std::move(results[i]));
    }
  }
  if (posted.empty()) return;
  // Shared, not captured by value: a std::function that is copied on its way through the loop
  // would copy every completion (and the incidents and pages they hold) of a group of thousands.
  auto shared = std::make_shared<decltype(posted)>(std::move(posted));
  post_([shared] {
    for (auto& [done, result] : *shared) done(std::move(result));
  });
}

}  // namespace tocsin::store
