#pragma once

#include <map>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "tocsin/rules/evaluator.h"

namespace tocsin::rules {

// Exports the rules engine on tocsin's own /metrics: error budget remaining, error ratio and
// burn rate per SLO series, source health, queries per tick and evaluation cost. Refreshed from
// the evaluator's status by Update() (called when /metrics is scraped), so series of removed
// SLOs disappear. Thread-safety: loop thread only.
class RuleMetrics {
 public:
  explicit RuleMetrics(prometheus::Registry& registry);
  void Update(const Evaluator& evaluator);

 private:
  using Key = std::map<std::string, std::string>;
  void Set(prometheus::Family<prometheus::Gauge>& family, std::map<Key, prometheus::Gauge*>& live,
           std::map<Key, bool>& seen, const Key& labels, double value);
  void Sweep(prometheus::Family<prometheus::Gauge>& family, std::map<Key, prometheus::Gauge*>& live,
             const std::map<Key, bool>& seen);

  prometheus::Family<prometheus::Gauge>& budget_remaining_;
  prometheus::Family<prometheus::Gauge>& error_ratio_;
  prometheus::Family<prometheus::Gauge>& burn_rate_;
  prometheus::Family<prometheus::Gauge>& objective_;
  prometheus::Family<prometheus::Gauge>& source_up_;
  prometheus::Gauge& queries_per_tick_;
  prometheus::Gauge& eval_cpu_seconds_;
  prometheus::Counter& evaluations_;
  prometheus::Counter& query_failures_;
  prometheus::Counter& alerts_sent_;
  std::map<Key, prometheus::Gauge*> live_budget_, live_ratio_, live_burn_, live_objective_,
      live_source_;
  EvaluatorStats last_{};
};

}  // namespace tocsin::rules
