#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/dispatcher.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace tocsin::dispatch {

// How one posted batch ended: applied (with the alerts that failed validation named), or
// refused because the queue was full. A refused batch changed nothing; its sender must try
// again after `retry_after`.
struct IntakeOutcome {
  bool refused = false;
  std::size_t queue_depth = 0;  // batches waiting when it was refused
  Duration retry_after{};
  std::size_t accepted = 0;
  std::vector<std::string> errors;  // "alert 3: labels are required ..."
  // The parser threw (a bug in tocsin): nothing was applied, `errors` holds what it said, and
  // the answer is 500 so that the sender tries again.
  bool failed = false;
};

struct AlertIntakeOptions {
  // Batches received and not yet applied; a batch beyond it is refused (503 + Retry-After).
  std::size_t queue_batches = 256;
  // Alerts applied to the dispatcher per loop callback: bounds how long any one callback holds
  // the loop (about a millisecond per thousand alerts), whatever the size of a batch.
  std::size_t chunk_alerts = 1000;
  Duration retry_after = std::chrono::seconds(1);
  // A batch of at most this many bytes that finds nothing ahead of it is parsed and applied on
  // the loop, at once: a few alerts parse in tens of microseconds, less than the two thread
  // hand-offs (to the parse thread and back) would cost, each of which can wait for a CPU.
  std::size_t inline_parse_bytes = 4096;
};

// The way into the dispatcher for posted alert batches (POST /api/v2/alerts). Each batch is
// parsed on `parse_on` (a single thread, so batches finish parsing in the order they came; a
// small batch with nothing ahead of it is parsed on the loop, see inline_parse_bytes) and
// applied on the loop in chunks of at most chunk_alerts alerts per callback, posted back to the
// loop one after another, so a batch of 50,000 alerts never stalls timers or other requests.
// Batches are applied in the order they were received, and each is answered once its last
// alert is applied. The queue is bounded: when queue_batches batches are waiting, a new one is
// refused at once (the caller answers 503 with Retry-After), never silently dropped.
// ApplyAll() applies everything received so far; a reload calls it first so that no update
// received before the reload is applied under the new config or lost.
//
// Thread-safety: Submit, ApplyAll, SetQueueBatches and depth() on the loop thread only; the
// parse runs on `parse_on`. The intake must outlive the work submitted to `parse_on` (join the
// executor first) and every callback it posted to the loop.
class AlertIntake {
 public:
  using Done = std::function<void(IntakeOutcome)>;
  // Parses a body into alerts (valid ones kept) and the errors of the rejected ones.
  using Parser =
      std::function<std::vector<Alert>(std::string_view body, TimePoint now,
                                       Duration resolve_timeout, std::vector<std::string>& errors)>;

  AlertIntake(Dispatcher& dispatcher, Scheduler& loop, Executor& parse_on, Parser parser,
              prometheus::Registry& registry, AlertIntakeOptions options = {});
  ~AlertIntake();
  AlertIntake(const AlertIntake&) = delete;
  AlertIntake& operator=(const AlertIntake&) = delete;

  // Queues a batch received at `now`; `done` runs on the loop once it is applied or refused
  // (before Submit returns for a refusal, and for a small batch applied at once: see
  // inline_parse_bytes).
  void Submit(std::string body, TimePoint now, Duration resolve_timeout, Done done);
  // Waits for the parser to finish the batches it holds (bounded by the queue), then applies
  // and answers every queued batch, in order, before returning.
  void ApplyAll();
  void SetQueueBatches(std::size_t batches);

  std::size_t depth() const { return queue_.size(); }
  // Longest single apply callback so far, in alerts (never above chunk_alerts).
  std::size_t largest_chunk() const { return largest_chunk_; }

 private:
  struct Batch;
  struct Metrics;

  void OnParsed();
  void ApplySome();
  // Applies up to `budget` alerts of the head batch; returns how many it applied.
  std::size_t ApplyHead(std::size_t budget);
  void Finish();
  // Parses `in`'s body into `out`'s alerts and errors; a parser that throws fails the batch.
  // `out` may be `in` (inline).
  void Parse(Batch& out, const Batch& in) const;
  bool HeadParsed() const;
  void UpdateGauges();

  Dispatcher& dispatcher_;
  Scheduler& loop_;
  Executor& parse_on_;
  Parser parser_;
  AlertIntakeOptions options_;
  // Loop thread: every batch received and not yet answered, oldest first.
  std::deque<std::shared_ptr<Batch>> queue_;
  bool apply_posted_ = false;
  std::size_t largest_chunk_ = 0;
  // Shared with the parse thread: `parsed` flags of the batches and the count still parsing.
  mutable std::mutex mu_;
  std::condition_variable parsed_cv_;
  std::size_t parsing_ = 0;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace tocsin::dispatch
