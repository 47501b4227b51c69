#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/rules/alert.h"
#include "tocsin/rules/alert_state_store.h"
#include "tocsin/rules/rule_set.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::rules {

// Error budget and burn of one series of one SLO (one PSP, one market ...).
struct SloSeriesStatus {
  Labels labels;                             // the SLO's `by:` labels of this series
  std::optional<double> error_ratio;         // over the SLO window
  std::optional<double> budget_remaining;    // 1 = untouched, 0 = spent, < 0 overspent
  std::map<std::string, double> burn_rates;  // tier -> burn rate over its long window
};

struct SloStatus {
  std::string name;
  std::string service;
  std::string domain;
  double objective = 0;
  Duration window{};
  std::vector<SloSeriesStatus> series;
  std::optional<TimePoint> budget_updated_at;
  // The SLO's no-data window (SloRule::NoDataWindow) returned no series at the last
  // evaluation, since `no_data_since`. Firing alerts of the SLO stay firing meanwhile, marked
  // with a `no_data` annotation.
  bool data_absent = false;
  std::optional<TimePoint> no_data_since;
};

struct SourceHealth {
  std::string name;
  long long consecutive_failures = 0;
  bool down = false;
  std::string last_error;
};

// Why a series changed state, as the evaluator decided it (backtests print it).
enum class TransitionReason {
  kThresholdCrossed,  // the rule's condition holds: burn rate or value beyond the threshold
  kRecovered,         // the condition no longer holds: back under the threshold
  kSeriesGone,        // this series stopped answering while others of the rule still do
  kNoData,            // the rule's query returned nothing for absent_after (tocsin_absent_data)
  kDataBack,          // its query returns series again
  kSourceDown,        // queries to the source failed (tocsin_source_down)
  kSourceBack,        // the source answers again
  kRuleChanged,       // a reload changed or removed the rule
};
std::string_view TransitionReasonName(TransitionReason r);  // "threshold_crossed", ...

// A change of one series' state, for backtests, rule tests and logs.
struct AlertTransition {
  std::string rule_key;
  Alert alert;
  AlertState from = AlertState::kInactive;
  AlertState to = AlertState::kInactive;
  TimePoint at{};
  TransitionReason reason = TransitionReason::kThresholdCrossed;
};

struct EvaluatorStats {
  std::size_t ticks = 0;
  std::size_t skipped_ticks = 0;  // a group was still waiting for its previous queries
  std::size_t queries_last_tick = 0;
  std::size_t queries_total = 0;
  std::size_t query_failures_total = 0;
  std::size_t alerts_sent_total = 0;
  double last_eval_seconds = 0;  // CPU time on the loop for the last batch
};

// The rules engine. Every `interval` (per group; groups due at the same instant form one batch)
// it sends each distinct (source, expression) of the due groups once to its source on the
// query Executor, and when every answer is back on the loop it advances the per-series state
// machines (inactive -> pending -> firing -> resolved) and hands every firing alert and every
// new resolve to the AlertSink. Multiwindow burn-rate tiers fire when both windows burn faster
// than the tier's factor (compared exactly, CompareBurnRate); threshold rules after
// `consecutive` violations and resolve after `resolve_after` good evaluations. A failed query
// leaves the state of the rules that need it untouched (no data is never green); a source
// failing `down_after_failures` evaluations in a row raises tocsin_source_down, an SLO whose
// no-data window (its shortest paging short window) or a rule whose query has no series for
// `absent_after` raises tocsin_absent_data, and crossing 50 % / 80 % of an error budget raises
// a non-paging notice. A firing alert never resolves because its rule's data stopped as a
// whole: it stays firing with a `no_data` annotation until data shows it healthy; only one
// series gone while others answer is resolved after `absent_after`. Answers to queries sent
// before SetRules or SetSources are discarded. State is persisted through an optional
// AlertStateStore and survives reloads for unchanged rules. Thread-safety: loop thread only
// (results come back through Scheduler::Post).
class Evaluator {
 public:
  using SourceMap = std::map<std::string, std::shared_ptr<source::SliSource>>;
  using TransitionObserver = std::function<void(const AlertTransition&)>;

  Evaluator(Scheduler& scheduler, Executor& query_executor, AlertSink& sink);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Installs sources (first load or reload); evaluations still waiting for answers from the
  // previous ones are discarded.
  void SetSources(SourceMap sources);
  // Durable state; writes run on `store_executor` (one thread keeps them in order).
  void SetStateStore(AlertStateStore* store, Executor* store_executor);
  // Loads persisted state; applied to rules with unchanged definitions by SetRules.
  Result<void> RestoreState();
  // Installs rules (first load or reload). State of unchanged rules is kept; alerts of removed
  // or changed rules are resolved. Evaluations still waiting for answers are discarded: their
  // queries belong to the previous rules.
  void SetRules(std::shared_ptr<const RuleSet> rules);
  void SetObserver(TransitionObserver observer);

  // Evaluates each group every interval, on interval boundaries.
  void Start();
  void Stop();
  // Evaluates every group now (rule tests, integration tests, backtests). Results arrive
  // through the scheduler: run its posted work to complete the evaluation.
  void EvaluateAllNow();

  std::vector<SloStatus> SloStatuses() const;
  std::vector<SourceHealth> SourceStatuses() const;
  // Pending and firing alerts, for the API and tests.
  std::vector<Alert> ActiveAlerts() const;
  const EvaluatorStats& stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tocsin::rules
