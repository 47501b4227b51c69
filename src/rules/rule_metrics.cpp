#include "tocsin/rules/rule_metrics.h"

namespace tocsin::rules {

RuleMetrics::RuleMetrics(prometheus::Registry& registry)
    : budget_remaining_(prometheus::BuildGauge()
                            .Name("tocsin_slo_error_budget_remaining")
                            .Help("Fraction of the SLO's error budget left over its window "
                                  "(1 untouched, 0 spent, negative overspent).")
                            .Register(registry)),
      error_ratio_(prometheus::BuildGauge()
                       .Name("tocsin_slo_error_ratio")
                       .Help("Error ratio of the SLI over the SLO window.")
                       .Register(registry)),
      burn_rate_(prometheus::BuildGauge()
                     .Name("tocsin_slo_burn_rate")
                     .Help("Error budget burn rate over the long window of each alert tier.")
                     .Register(registry)),
      objective_(prometheus::BuildGauge()
                     .Name("tocsin_slo_objective_ratio")
                     .Help("The SLO's objective as a ratio (0.9985 for 99.85 %).")
                     .Register(registry)),
      source_up_(prometheus::BuildGauge()
                     .Name("tocsin_source_up")
                     .Help("Whether the last evaluation could query the SLI source.")
                     .Register(registry)),
      queries_per_tick_(prometheus::BuildGauge()
                            .Name("tocsin_rule_queries_per_tick")
                            .Help("Distinct queries sent by the last evaluation batch.")
                            .Register(registry)
                            .Add({})),
      eval_cpu_seconds_(prometheus::BuildGauge()
                            .Name("tocsin_rule_evaluation_cpu_seconds")
                            .Help("CPU time on the event loop of the last evaluation batch.")
                            .Register(registry)
                            .Add({})),
      evaluations_(prometheus::BuildCounter()
                       .Name("tocsin_rule_evaluations_total")
                       .Help("Evaluation batches started.")
                       .Register(registry)
                       .Add({})),
      query_failures_(prometheus::BuildCounter()
                          .Name("tocsin_rule_query_failures_total")
                          .Help("SLI queries that failed.")
                          .Register(registry)
                          .Add({})),
      alerts_sent_(prometheus::BuildCounter()
                       .Name("tocsin_rule_alerts_sent_total")
                       .Help("Alerts (firing and resolved) handed to the dispatcher.")
                       .Register(registry)
                       .Add({})) {}

void RuleMetrics::Set(prometheus::Family<prometheus::Gauge>& family,
                      std::map<Key, prometheus::Gauge*>& live, std::map<Key, bool>& seen,
                      const Key& labels, double value) {
  auto it = live.find(labels);
  if (it == live.end()) it = live.emplace(labels, &family.Add(labels)).first;
  it->second->Set(value);
  seen[labels] = true;
}

void RuleMetrics::Sweep(prometheus::Family<prometheus::Gauge>& family,
                        std::map<Key, prometheus::Gauge*>& live, const std::map<Key, bool>& seen) {
  for (auto it = live.begin(); it != live.end();) {
    if (seen.count(it->first) != 0) {
      ++it;
      continue;
    }
    family.Remove(it->second);
    it = live.erase(it);
  }
}

void RuleMetrics::Update(const Evaluator& evaluator) {
  std::map<Key, bool> seen_budget, seen_ratio, seen_burn, seen_objective, seen_source;
  for (const auto& slo : evaluator.SloStatuses()) {
    Set(objective_, live_objective_, seen_objective, {{"slo", slo.name}}, slo.objective / 100.0);
    for (const auto& s : slo.series) {
      Key key{{"slo", slo.name}};
      for (const auto& l : s.labels) key[l.name] = l.value;
      if (s.budget_remaining)
        Set(budget_remaining_, live_budget_, seen_budget, key, *s.budget_remaining);
      if (s.error_ratio) Set(error_ratio_, live_ratio_, seen_ratio, key, *s.error_ratio);
      for (const auto& [tier, burn] : s.burn_rates) {
        Key k = key;
        k["tier"] = tier;
        Set(burn_rate_, live_burn_, seen_burn, k, burn);
      }
    }
  }
  for (const auto& h : evaluator.SourceStatuses()) {
    Set(source_up_, live_source_, seen_source, {{"source", h.name}},
        h.consecutive_failures == 0 ? 1.0 : 0.0);
  }
  Sweep(budget_remaining_, live_budget_, seen_budget);
  Sweep(error_ratio_, live_ratio_, seen_ratio);
  Sweep(burn_rate_, live_burn_, seen_burn);
  Sweep(objective_, live_objective_, seen_objective);
  Sweep(source_up_, live_source_, seen_source);
  const auto& st = evaluator.stats();
  queries_per_tick_.Set(static_cast<double>(st.queries_last_tick));
  eval_cpu_seconds_.Set(st.last_eval_seconds);
  evaluations_.Increment(static_cast<double>(st.ticks - last_.ticks));
  query_failures_.Increment(
      static_cast<double>(st.query_failures_total - last_.query_failures_total));
  alerts_sent_.Increment(static_cast<double>(st.alerts_sent_total - last_.alerts_sent_total));
  last_ = st;
}

}  // namespace tocsin::rules
