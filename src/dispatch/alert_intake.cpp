#include "tocsin/dispatch/alert_intake.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <span>

namespace tocsin::dispatch {

struct AlertIntake::Batch {
  std::string body;
  TimePoint now{};
  Duration resolve_timeout{};
  Done done;
  // Written by the parse thread before `parsed` is set under mu_; read by the loop after.
  std::vector<Alert> alerts;
  std::vector<std::string> errors;
  bool parsed = false;
  bool failed = false;          // the parser threw: tocsin's error, not the sender's
  bool parsed_on_loop = false;  // small batch parsed inline by Submit
  std::size_t applied = 0;      // loop thread
};

struct AlertIntake::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : depth(prometheus::BuildGauge()
                  .Name("tocsin_alert_intake_queue_batches")
                  .Help("Posted alert batches received and not yet applied (being parsed or "
                        "waiting for the loop).")
                  .Register(r)
                  .Add({})),
        capacity(prometheus::BuildGauge()
                     .Name("tocsin_alert_intake_queue_capacity_batches")
                     .Help("Batches the alert intake queue holds before it answers 503 "
                           "(alertmanager.intake_queue_batches).")
                     .Register(r)
                     .Add({})),
        alerts(prometheus::BuildGauge()
                   .Name("tocsin_alert_intake_queue_alerts")
                   .Help("Parsed alerts waiting in the intake queue to be applied.")
                   .Register(r)
                   .Add({})),
        batches(prometheus::BuildCounter()
                    .Name("tocsin_alert_intake_batches_total")
                    .Help("Posted alert batches by outcome: applied, or rejected with 503 "
                          "because the intake queue was full (the sender retries).")
                    .Register(r)),
        applied(batches.Add({{"result", "applied"}})),
        rejected(batches.Add({{"result", "rejected"}})) {}

  prometheus::Gauge& depth;
  prometheus::Gauge& capacity;
  prometheus::Gauge& alerts;
  prometheus::Family<prometheus::Counter>& batches;
  prometheus::Counter& applied;
  prometheus::Counter& rejected;
};

AlertIntake::AlertIntake(Dispatcher& dispatcher, Scheduler& loop, Executor& parse_on, Parser parser,
                         prometheus::Registry& registry, AlertIntakeOptions options)
    : dispatcher_(dispatcher),
      loop_(loop),
      parse_on_(parse_on),
      parser_(std::move(parser)),
      options_(options),
      metrics_(std::make_unique<Metrics>(registry)) {
  options_.chunk_alerts = std::max<std::size_t>(options_.chunk_alerts, 1);
  metrics_->capacity.Set(static_cast<double>(options_.queue_batches));
}

AlertIntake::~AlertIntake() = default;

void AlertIntake::SetQueueBatches(std::size_t batches) {
  options_.queue_batches = batches;
  metrics_->capacity.Set(static_cast<double>(batches));
}

void AlertIntake::Submit(std::string body, TimePoint now, Duration resolve_timeout, Done done) {
  if (queue_.size() >= options_.queue_batches) {
    metrics_->rejected.Increment();
    IntakeOutcome out;
    out.refused = true;
    out.queue_depth = queue_.size();
    out.retry_after = options_.retry_after;
    done(std::move(out));
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->body = std::move(body);
  batch->now = now;
  batch->resolve_timeout = resolve_timeout;
  batch->done = std::move(done);
  if (queue_.empty() && batch->body.size() <= options_.inline_parse_bytes) {
    // Nothing ahead of it to keep the order of: parsed and applied now, answered before Submit
    // returns (the callback goes on where it would have on the loop later).
    Parse(*batch, *batch);
    batch->body = {};
    batch->parsed = true;
    batch->parsed_on_loop = true;
    queue_.push_back(batch);
    ApplyHead(batch->alerts.size());
    Finish();
    UpdateGauges();
    return;
  }
  queue_.push_back(batch);
  metrics_->depth.Set(static_cast<double>(queue_.size()));
  {
    std::lock_guard lock(mu_);
    ++parsing_;
  }
  parse_on_.Submit([this, batch] {
    Batch parsed;
    Parse(parsed, *batch);
    {
      std::lock_guard lock(mu_);
      batch->alerts = std::move(parsed.alerts);
      batch->errors = std::move(parsed.errors);
      batch->failed = parsed.failed;
      batch->body = {};  // the text is no longer needed; do not hold it twice
      batch->parsed = true;
      --parsing_;
    }
    parsed_cv_.notify_all();
    loop_.Post([this] { OnParsed(); });
  });
}

// The one call of the parser, inline or on the parse thread. The batch completes whatever the
// parser does: on the parse thread, a throw that left it unparsed would hold every later batch
// behind it (and a reload waiting for parsing_ would never return); inline, the HTTP handler's
// catch answered a bare "internal error". Both now answer 500 with what the parser said.
void AlertIntake::Parse(Batch& out, const Batch& in) const {
  try {
    out.alerts = parser_(in.body, in.now, in.resolve_timeout, out.errors);
  } catch (const std::exception& e) {
    out.failed = true;
    out.alerts.clear();
    out.errors.assign(1, std::string("tocsin failed to parse the batch: ") + e.what());
  }
}

bool AlertIntake::HeadParsed() const {
  std::lock_guard lock(mu_);
  return queue_.front()->parsed;
}

void AlertIntake::OnParsed() {
  if (apply_posted_ || queue_.empty() || !HeadParsed()) return;
  apply_posted_ = true;
  ApplySome();
}

void AlertIntake::ApplySome() {
  apply_posted_ = false;
  std::size_t budget = options_.chunk_alerts;
  std::size_t used = 0;
  while (!queue_.empty() && used < budget && HeadParsed()) {
    used += ApplyHead(budget - used);
    const Batch& head = *queue_.front();
    if (head.applied < head.alerts.size()) break;
    Finish();
  }
  largest_chunk_ = std::max(largest_chunk_, used);
  UpdateGauges();
  // The rest waits behind whatever else the loop has queued meanwhile (timers, requests).
  if (!queue_.empty() && HeadParsed()) {
    apply_posted_ = true;
    loop_.Post([this] { ApplySome(); });
  }
}

std::size_t AlertIntake::ApplyHead(std::size_t budget) {
  Batch& b = *queue_.front();
  std::size_t n = std::min(budget, b.alerts.size() - b.applied);
  if (n > 0) {
    dispatcher_.Ingest(std::span<Alert>(b.alerts).subspan(b.applied, n), b.now);
    b.applied += n;
  }
  return n;
}

void AlertIntake::Finish() {
  auto batch = std::move(queue_.front());
  queue_.pop_front();
  metrics_->applied.Increment();
  IntakeOutcome out;
  out.accepted = batch->alerts.size();
  out.errors = std::move(batch->errors);
  out.failed = batch->failed;
  // The dispatcher keeps copies; the batch's own alerts are freed by the thread that allocated
  // them. Freed on the loop, a big batch (hundreds of thousands of small strings for 50,000
  // alerts) took tens of milliseconds in one go, long enough to hold up /healthz, and batches
  // of 64 (Prometheus' default) took 5 % of the loop's time in the 100,000-alert benchmark.
  // A batch Submit parsed inline was allocated here and is freed here.
  if (!batch->parsed_on_loop && !batch->alerts.empty()) {
    parse_on_.Submit([spent = std::move(batch->alerts)] {});
  }
  batch->alerts = {};
  batch->done(std::move(out));
}

void AlertIntake::ApplyAll() {
  {
    // Bounded: at most queue_batches batches are with the parser, and it needs nothing from
    // the loop to finish them.
    std::unique_lock lock(mu_);
    parsed_cv_.wait(lock, [this] { return parsing_ == 0; });
  }
  while (!queue_.empty()) {
    ApplyHead(queue_.front()->alerts.size());
    Finish();
  }
  UpdateGauges();
  // A chunk callback still posted finds the queue empty (or newer batches) and carries on.
}

void AlertIntake::UpdateGauges() {
  std::size_t waiting = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& b : queue_) {
      if (b->parsed) waiting += b->alerts.size() - b->applied;
    }
  }
  metrics_->depth.Set(static_cast<double>(queue_.size()));
  metrics_->alerts.Set(static_cast<double>(waiting));
}

}  // namespace tocsin::dispatch
