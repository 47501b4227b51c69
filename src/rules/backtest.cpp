#include "tocsin/rules/backtest.h"

#include <set>

#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/source/replay_source.h"

namespace tocsin::rules {

namespace {

class NullSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>&, TimePoint) override {}
};

// Prometheus rejects range queries of more than 11,000 points per series.
constexpr long long kMaxPointsPerQuery = 10000;

}  // namespace

Result<BacktestReport> RunBacktest(const RuleSet& input, source::SliSource& source,
                                   const BacktestOptions& options) {
  BacktestReport report;
  auto rules = std::make_shared<RuleSet>(input);
  Duration step = options.step.value_or(rules->evaluation.interval);
  for (auto& g : rules->groups) {
    if (options.step) g.interval = *options.step;
    g.source = source.name();
    step = std::min(step, g.interval);
  }
  if (step.count() <= 0) return Fail(Error::Invalid("step must be positive"));
  if (options.to <= options.from) return Fail(Error::Invalid("--to must be after --from"));
  // Evaluation instants are multiples of the interval; query the same instants.
  auto align = [&](TimePoint t) {
    auto ms = ToUnixMillis(t);
    auto rem = ms % step.count();
    return rem == 0 ? t : FromUnixMillis(ms - rem + step.count());
  };
  TimePoint from = align(options.from);

  std::set<std::string> exprs;
  for (const auto& g : rules->groups) {
    for (const auto& slo : g.slos) {
      for (const auto& t : slo.tiers) {
        if (!t.enabled) continue;
        exprs.insert(slo.ErrorRatioQuery(t.long_window));
        exprs.insert(slo.ErrorRatioQuery(t.short_window));
      }
    }
    for (const auto& r : g.rules) exprs.insert(r.expr);
  }
  auto replay = std::make_shared<source::ReplaySource>(source.name(), step);
  for (const auto& expr : exprs) {
    for (TimePoint start = from; start <= options.to;) {
      TimePoint end = std::min<TimePoint>(options.to, start + step * (kMaxPointsPerQuery - 1));
      auto r = source.QueryRange(expr, start, end, step);
      ++report.range_queries;
      if (!r) return Fail(r.error());
      for (auto& s : r->matrix) replay->Add(expr, std::move(s));
      start = end + step;
    }
  }

  SimulatedScheduler scheduler(from - std::chrono::milliseconds(1));
  InlineExecutor executor;
  NullSink sink;
  Evaluator evaluator(scheduler, executor, sink);
  Evaluator::SourceMap sources;
  sources[source.name()] = replay;
  evaluator.SetSources(sources);
  evaluator.SetObserver([&](const AlertTransition& t) {
    // Series that drop back to inactive without ever firing are noise in a report.
    if (t.to == AlertState::kInactive && t.from == AlertState::kPending) return;
    report.transitions.push_back(t);
    if (t.to == AlertState::kFiring) {
      ++report.firings;
      if (t.alert.severity == Severity::kCritical) ++report.pages;
    }
  });
  rules->source_urls.clear();
  evaluator.SetRules(rules);
  evaluator.Start();
  scheduler.AdvanceTo(options.to);
  report.evaluations = evaluator.stats().ticks;
  return report;
}

}  // namespace tocsin::rules
