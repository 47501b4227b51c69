#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/http/router.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_set.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::rules {

struct SloApiDeps {
  // The running rules engine (null before it started) and the rules it runs.
  std::function<const Evaluator*()> evaluator;
  std::function<const RuleSet*()> rules;
  // The SLI source of that name (null when not configured).
  std::function<std::shared_ptr<source::SliSource>(const std::string&)> source;
  // Where the range query runs (it blocks on the network; null: not started), how its answer
  // gets back to the loop (Scheduler::Post), and the clock that says what "now" is.
  std::function<Executor*()> query_executor;
  std::function<void(std::function<void()>)> post;
  const Clock* clock = nullptr;
};

// Registers GET /api/v1/slos (every SLO and SLI source now: rules::SloReportJson) and
// GET /api/v1/slos/{name}[?days=30&step=6h]: one SLO's status now (SLI, error
// budget left and burn rate per tier, per series), the alerts of it pending or firing, and its
// error budget over the last `days` days from the SLO's source (a Prometheus range query of
// the SLO's error ratio over its window, evaluated every `step`), answered when the query
// returns. `deps` must outlive the router.
void RegisterSloApi(http::Router& router, SloApiDeps deps);

}  // namespace tocsin::rules
