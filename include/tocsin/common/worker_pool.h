#pragma once

#include <functional>
#include <memory>
#include <string>

namespace tocsin {

// Where blocking work (HTTP calls, database writes) runs, so the event loop never waits on
// I/O. Work hands its result back to the loop with Scheduler::Post. Thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Submit(std::function<void()> work) = 0;
};

// A fixed pool of threads. The destructor waits for submitted work to finish. A task that
// throws does not end the process (an exception leaving a pool thread would call
// std::terminate): `on_failure` is called on that thread, it is logged at error with the pool's
// `name` and what it said (repeats at most once per 10 s, log::RepeatLimiter), and the thread
// goes on with the next task.
class WorkerPool final : public Executor {
 public:
  explicit WorkerPool(std::size_t threads, std::string name = "worker pool",
                      std::function<void()> on_failure = {});
  ~WorkerPool() override;
  void Submit(std::function<void()> work) override;
  // Waits for all submitted work, then joins the threads. Idempotent.
  void Join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs work at once on the calling thread: for tests and offline tools, where determinism
// matters more than keeping a loop free.
class InlineExecutor final : public Executor {
 public:
  void Submit(std::function<void()> work) override { work(); }
};

}  // namespace tocsin
