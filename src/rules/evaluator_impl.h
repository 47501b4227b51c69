#pragma once

// The evaluator's private parts, shared by the files that implement it: evaluator.cpp
// (scheduling, reloads, the public API), evaluator_state.cpp (per-series state machine, alert
// building, threshold rules), slo_evaluation.cpp (burn-rate tiers and error budgets) and
// missing_data.cpp (source health, absent data, firing alerts without data).

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/template.h"

namespace tocsin::rules {

namespace evaluator_detail {

struct QueryKey {
  std::string source;
  std::string expr;
  friend auto operator<=>(const QueryKey&, const QueryKey&) = default;
};

// One series of one rule.
struct SeriesState {
  PersistedAlertState p;
  Alert alert;  // last built alert (labels, annotations, values)
  TimePoint last_seen{};
  bool dirty = false;
};

struct RuleState {
  std::uint64_t hash = 0;
  std::unordered_map<Fingerprint, SeriesState> series;
  // Since when the rule's query (for "absent/" states: the watched query) has had no series.
  std::optional<TimePoint> absent_since;
};

// What a rule's alerts are made of, besides the series labels.
struct AlertSpec {
  const std::string* rule = nullptr;
  const AlertTemplateFields* fields = nullptr;
  Severity severity = Severity::kWarning;
  std::string query;
  std::string source;
  Labels extra;  // slo, tier, ...
};

// Per-series error ratios of one query result, keyed by the fingerprint of the SLO's by-labels
// (computed once per batch and shared by every SLO on the same SLI).
struct Ratios {
  std::vector<Labels> labels;
  std::vector<Fingerprint> fps;
  std::vector<double> values;
  std::unordered_map<Fingerprint, std::size_t> index;
};

struct Output {
  std::vector<Alert> alerts;
  std::vector<PersistedAlertState> changed;
  std::vector<std::pair<std::string, Fingerprint>> removed;
};

// The labels of an alert of `spec` for one series: series labels (without __name__), the rule's
// static labels, then what tocsin sets. Cheap: no template rendering, used for every series of
// every tick to find its state.
Labels AlertLabels(const AlertSpec& spec, const Labels& series);

// Marks a firing alert whose rule's data stopped as a whole: it stays firing on the last values
// seen, and says so in a `no_data` annotation and at the head of its summary. Idempotent.
void MarkNoData(Alert& alert, TimePoint since);

}  // namespace evaluator_detail

using evaluator_detail::AlertLabels;
using evaluator_detail::AlertSpec;
using evaluator_detail::MarkNoData;
using evaluator_detail::Output;
using evaluator_detail::QueryKey;
using evaluator_detail::Ratios;
using evaluator_detail::RuleState;
using evaluator_detail::SeriesState;
using source::QueryResult;

struct Evaluator::Impl : std::enable_shared_from_this<Evaluator::Impl> {
  Impl(Scheduler& s, Executor& e, AlertSink& k) : scheduler(s), executor(e), sink(k) {}

  struct Batch {
    std::uint64_t generation = 0;
    TimePoint now{};
    std::shared_ptr<const RuleSet> rules;
    std::vector<std::size_t> groups;
    bool budget = false;
    std::map<QueryKey, std::size_t> index;
    std::vector<QueryKey> queries;
    std::vector<std::optional<Result<QueryResult>>> results;
    std::size_t remaining = 0;
    // SLOs that share an SLI share its per-series ratios too: computed once per batch.
    std::map<std::pair<const void*, std::string>, Ratios> ratios;
  };

  // --- scheduling -------------------------------------------------------------------------
  void ScheduleNext();
  void OnTimer();
  void RunBatch(std::vector<std::size_t> groups, TimePoint now);
  void OnResult(const std::shared_ptr<Batch>& batch, std::size_t i, Result<QueryResult> r);
  std::size_t Need(Batch& b, const std::string& source, const std::string& expr);
  // Makes every batch still waiting for answers stale (SetRules, SetSources).
  void DiscardInFlight();

  // --- evaluation -------------------------------------------------------------------------
  void Evaluate(Batch& b);
  const Result<QueryResult>* ResultOf(const Batch& b, const std::string& source,
                                      const std::string& expr) const;
  void EvaluateSlo(Batch& b, const RuleGroup& g, const SloRule& slo, Output& out);
  void EvaluateThreshold(Batch& b, const RuleGroup& g, const ThresholdRule& rule, Output& out);
  // `what` ends the summary "No data for <name>: ..." (which query returns nothing).
  void EvaluateAbsent(Batch& b, const std::string& name, const AlertTemplateFields& fields,
                      Duration absent_after, std::string_view what, bool empty, bool known,
                      Output& out);
  void EvaluateSources(Batch& b, Output& out);
  // Advances one series. Returns the state after.
  void Step(const std::string& key, RuleState& rs, const Labels& labels, bool violating,
            long long consecutive, long long resolve_after, TimePoint now,
            const std::function<Alert()>& build, double value, Output& out);
  // Re-sends the firing alerts of a rule whose data is missing this tick. Nothing was learned
  // of its series either, so the time each has been gone stops here: counted through an
  // outage, a series not back on the first tick after it was resolved as gone, and paged again
  // when it came back a tick later.
  void Keep(RuleState& rs, TimePoint now, Output& out);
  Alert BuildAlert(const AlertSpec& spec, const Labels& series, TemplateData data,
                   const RuleSet& rules) const;
  void Transition(const std::string& key, const Alert& a, AlertState from, AlertState to,
                  TimePoint at, TransitionReason reason);
  void Flush(Output& out, TimePoint now);
  RuleState& StateFor(const std::string& key, std::uint64_t hash);
  void AdoptRestored(const std::string& key, std::uint64_t hash, Duration interval, TimePoint now);

  Scheduler& scheduler;
  Executor& executor;
  AlertSink& sink;
  AlertStateStore* store = nullptr;
  Executor* store_executor = nullptr;
  SourceMap sources;
  std::shared_ptr<const RuleSet> rules;
  TransitionObserver observer;
  std::uint64_t generation = 0;

  std::map<std::string, RuleState> states;
  std::multimap<std::string, PersistedAlertState> restored;
  std::vector<TimePoint> next_due;  // per group
  std::set<std::size_t> in_flight;  // groups waiting for answers
  std::optional<TimerId> timer;
  bool running = false;
  TimePoint last_budget{};
  bool budget_ever = false;

  // Per SLO: its status (series left empty) and its series by fingerprint of the by-labels;
  // SloStatuses() assembles the two. Hash lookups keep 10,000 SLOs x 100 series cheap.
  std::map<std::string, std::pair<SloStatus, std::unordered_map<Fingerprint, SloSeriesStatus>>>
      slo_status;
  std::map<std::string, SourceHealth> source_health;
  EvaluatorStats stats;
};

}  // namespace tocsin::rules
