#include "tocsin/rules/backtest.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/rules/burn_rate.h"
#include "tocsin/source/replay_source.h"

namespace tocsin::rules {

namespace {

// Prometheus rejects range queries of more than 11,000 points per series.
constexpr long long kMaxPointsPerQuery = 10000;

// Explains transitions with the same data the evaluator saw: instant queries on the replayed
// history at the transition's time.
class Explainer {
 public:
  Explainer(const RuleSet& rules, source::ReplaySource& replay) : rules_(rules), replay_(replay) {}

  BacktestTransition Explain(const AlertTransition& t) {
    BacktestTransition out;
    static_cast<AlertTransition&>(out) = t;
    std::string_view key = t.rule_key;
    auto rest = [&](std::string_view prefix) { return std::string(key.substr(prefix.size())); };
    if (key.rfind("slo/", 0) == 0) {
      std::string name_tier = rest("slo/");
      auto slash = name_tier.rfind('/');
      ExplainSlo(name_tier.substr(0, slash), name_tier.substr(slash + 1), out);
    } else if (key.rfind("rule/", 0) == 0) {
      ExplainRule(rest("rule/"), out);
    } else if (key.rfind("absent/", 0) == 0) {
      ExplainAbsent(rest("absent/"), out);
    } else {
      out.rule = std::string(t.alert.Name());
      out.explanation = std::string(TransitionReasonName(t.reason));
    }
    return out;
  }

 private:
  std::optional<double> ValueAt(const std::string& expr, TimePoint at, const Labels& match,
                                const std::vector<std::string>& by) {
    auto r = replay_.Query(expr, at);
    if (!r) return std::nullopt;
    for (const auto& s : r->vector) {
      if (s.metric.Only(by) == match) return s.value;
    }
    return std::nullopt;
  }

  void Locate(const std::string& name, BacktestTransition& out) const {
    out.rule = name;
    if (const auto* s = rules_.FindSlo(name)) {
      out.rule_file = s->file;
      out.rule_line = s->line;
    } else if (const auto* r = rules_.FindRule(name)) {
      out.rule_file = r->file;
      out.rule_line = r->line;
    }
  }

  void ExplainSlo(const std::string& name, const std::string& tier_name, BacktestTransition& out) {
    Locate(name, out);
    const SloRule* slo = rules_.FindSlo(name);
    if (slo == nullptr) return;
    const BurnRateTier* tier = nullptr;
    for (const auto& t : slo->tiers) tier = t.name == tier_name ? &t : tier;
    if (tier == nullptr) return;
    out.threshold = tier->factor;
    // One character, assigned so: GCC 12 warns (-Wrestrict, a known false positive) on = ">".
    out.comparison.assign(1, '>');
    Labels match = out.alert.labels.Only(slo->by);
    std::vector<std::string> at_or_below;
    for (Duration w : {tier->long_window, tier->short_window}) {
      BacktestWindow bw;
      bw.window = FormatDuration(w);
      bw.value = ValueAt(slo->ErrorRatioQuery(w), out.at, match, slo->by);
      // As the evaluator reads it: NaN (no requests in the window) spends no budget.
      if (bw.value && std::isnan(*bw.value)) bw.value = 0.0;
      if (bw.value) {
        bw.burn_rate = BurnRate(*bw.value, slo->objective);
        if (!(CompareBurnRate(*bw.value, slo->objective, tier->factor) > 0)) {
          at_or_below.push_back(bw.window);
        }
      }
      out.windows.push_back(std::move(bw));
    }
    const std::string both = fmt::format("{} and {}", out.windows[0].window, out.windows[1].window);
    switch (out.reason) {
      case TransitionReason::kThresholdCrossed:
        out.explanation =
            fmt::format("threshold crossed: burn rate above {:g} over both {}", tier->factor, both);
        break;
      case TransitionReason::kRecovered:
        out.explanation = fmt::format("fell below: burn rate at or below {:g} over {}",
                                      tier->factor, fmt::join(at_or_below, " and "));
        break;
      case TransitionReason::kSeriesGone:
        out.explanation = fmt::format(
            "series gone: no sample of this series for {} (absent_after) while other series "
            "answer",
            FormatDuration(slo->absent_after));
        break;
      default:
        out.explanation = std::string(TransitionReasonName(out.reason));
    }
  }

  void ExplainRule(const std::string& name, BacktestTransition& out) {
    Locate(name, out);
    const ThresholdRule* rule = rules_.FindRule(name);
    if (rule == nullptr) return;
    out.threshold = rule->threshold;
    out.comparison = std::string(ComparisonText(rule->op));
    BacktestWindow bw;
    if (out.reason != TransitionReason::kSeriesGone) bw.value = out.alert.value;
    out.windows.push_back(bw);
    const std::string cond = fmt::format("{} {:g}", out.comparison, rule->threshold);
    const std::string value = bw.value ? fmt::format("{:g}", *bw.value) : "none";
    switch (out.reason) {
      case TransitionReason::kThresholdCrossed:
        out.explanation =
            out.to == AlertState::kFiring
                ? fmt::format("threshold crossed: value {} {}, {} evaluation(s) in a row", value,
                              cond, rule->consecutive)
                : fmt::format("threshold crossed: value {} {}", value, cond);
        break;
      case TransitionReason::kRecovered:
        out.explanation =
            out.from == AlertState::kFiring
                ? fmt::format("fell below: value {} not {}, {} evaluation(s) in a row", value, cond,
                              rule->resolve_after)
                : fmt::format("fell below: value {} not {}", value, cond);
        break;
      case TransitionReason::kSeriesGone: {
        Duration gone =
            rule->absent_after.count() > 0 ? rule->absent_after : rules_.evaluation.absent_after;
        out.explanation =
            out.from == AlertState::kPending
                ? std::string("series gone: no sample this evaluation, the pending count stops")
                : fmt::format(
                      "series gone: no sample of this series for {} while other series answer",
                      FormatDuration(gone));
        break;
      }
      default:
        out.explanation = std::string(TransitionReasonName(out.reason));
    }
  }

  void ExplainAbsent(const std::string& name, BacktestTransition& out) {
    Locate(name, out);
    Duration after{};
    if (const auto* s = rules_.FindSlo(name)) after = s->absent_after;
    if (const auto* r = rules_.FindRule(name)) after = r->absent_after;
    out.explanation =
        out.reason == TransitionReason::kNoData
            ? fmt::format("no data: no series for {} (absent_after)", FormatDuration(after))
            : std::string("data back: the query returns series again");
  }

  const RuleSet& rules_;
  source::ReplaySource& replay_;
};

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
  // Prometheus already answered each step (its own 5-minute lookback included): an instant
  // without a point has no data. Looking back a whole step would carry the last point over
  // one more evaluation, and report "no data" and "series gone" one step late. Less than a
  // step still finds the point for groups whose instants fall between the steps.
  auto replay =
      std::make_shared<source::ReplaySource>(source.name(), step - std::chrono::milliseconds(1));
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
  DiscardingSink sink;
  Evaluator evaluator(scheduler, executor, sink);
  Evaluator::SourceMap sources;
  sources[source.name()] = replay;
  evaluator.SetSources(sources);
  Explainer explainer(*rules, *replay);
  evaluator.SetObserver([&](const AlertTransition& t) {
    // Series that drop back to inactive without ever firing are noise in a report.
    if (t.to == AlertState::kInactive && t.from == AlertState::kPending) return;
    report.transitions.push_back(explainer.Explain(t));
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
