// The per-series state machine (inactive -> pending -> firing -> resolved), alert building and
// threshold rules.
#include <time.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "rules/evaluator_impl.h"
#include "tocsin/common/url.h"

namespace tocsin::rules {

namespace evaluator_detail {

Labels AlertLabels(const AlertSpec& spec, const Labels& series) {
  const auto& f = *spec.fields;
  return series.Without("__name__")
      .Merge(f.labels)
      .Merge(spec.extra)
      .With("alertname", *spec.rule)
      .With("severity", SeverityName(spec.severity))
      .With("service", f.service)
      .With("domain", f.domain)
      .With("kind", AlertKindName(f.kind));
}

}  // namespace evaluator_detail

namespace {

// Step's states follow one condition per rule kind: for "absent/" states it is "no data", for
// "source/" states "the source failed", for every other rule "beyond the threshold".
TransitionReason StepReason(const std::string& key, bool violating) {
  if (key.rfind("absent/", 0) == 0) {
    return violating ? TransitionReason::kNoData : TransitionReason::kDataBack;
  }
  if (key.rfind("source/", 0) == 0) {
    return violating ? TransitionReason::kSourceDown : TransitionReason::kSourceBack;
  }
  return violating ? TransitionReason::kThresholdCrossed : TransitionReason::kRecovered;
}

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Evaluation

const Result<QueryResult>* Evaluator::Impl::ResultOf(const Batch& b, const std::string& source,
                                                     const std::string& expr) const {
  auto it = b.index.find(QueryKey{source, expr});
  if (it == b.index.end() || !b.results[it->second]) return nullptr;
  return &*b.results[it->second];
}

void Evaluator::Impl::Evaluate(Batch& b) {
  double cpu_start = CpuSeconds();
  Output out;
  EvaluateSources(b, out);
  for (auto gi : b.groups) {
    const auto& g = b.rules->groups[gi];
    for (const auto& slo : g.slos) EvaluateSlo(b, g, slo, out);
    for (const auto& r : g.rules) EvaluateThreshold(b, g, r, out);
  }
  Flush(out, b.now);
  stats.last_eval_seconds = CpuSeconds() - cpu_start;
}

void Evaluator::Impl::Flush(Output& out, TimePoint now) {
  if (!out.alerts.empty()) {
    stats.alerts_sent_total += out.alerts.size();
    sink.OnAlerts(out.alerts, now);
  }
  if (store != nullptr && store_executor != nullptr &&
      (!out.changed.empty() || !out.removed.empty())) {
    AlertStateStore* st = store;
    store_executor->Submit(
        [st, changed = std::move(out.changed), removed = std::move(out.removed)] {
          // A store outage must not stop alerting: log and carry on; the next change is written.
          if (auto r = st->Apply(changed, removed); !r) {
            spdlog::error("rules: cannot persist alert state: {}", r.error().message());
          }
        });
  }
}

RuleState& Evaluator::Impl::StateFor(const std::string& key, std::uint64_t hash) {
  auto& rs = states[key];
  rs.hash = hash;
  return rs;
}

void Evaluator::Impl::Transition(const std::string& key, const Alert& a, AlertState from,
                                 AlertState to, TimePoint at, TransitionReason reason) {
  if (from == to) return;
  spdlog::debug("rules: {} {} {} -> {} ({})", key, a.labels.ToString(), AlertStateName(from),
                AlertStateName(to), TransitionReasonName(reason));
  if (observer) observer(AlertTransition{key, a, from, to, at, reason});
}

void Evaluator::Impl::Step(const std::string& key, RuleState& rs, const Labels& labels,
                           bool violating, long long consecutive, long long resolve_after,
                           TimePoint now, const std::function<Alert()>& build, double value,
                           Output& out) {
  Fingerprint fp = labels.fingerprint();
  auto it = rs.series.find(fp);
  if (it == rs.series.end()) {
    if (!violating) return;  // inactive and fine: nothing to remember
    SeriesState s;
    s.p.rule_key = key;
    s.p.definition_hash = rs.hash;
    s.p.labels = labels;
    it = rs.series.emplace(fp, std::move(s)).first;
  }
  SeriesState& s = it->second;
  PersistedAlertState before = s.p;
  s.last_seen = now;
  s.p.updated_at = now;
  s.p.value = value;
  AlertState from = s.p.state;
  if (violating) {
    s.p.good = 0;
    if (s.p.state == AlertState::kInactive || s.p.state == AlertState::kResolved) {
      s.p.state = AlertState::kPending;
      s.p.bad = 0;
      s.p.active_since = now;
    }
    // Capped so that a long-firing alert does not rewrite its row every tick.
    s.p.bad = std::min(s.p.bad + 1, consecutive);
    if (s.p.state == AlertState::kPending && s.p.bad >= consecutive) {
      s.p.state = AlertState::kFiring;
      s.p.fired_at = now;
    }
  } else {
    switch (s.p.state) {
      case AlertState::kPending:
      case AlertState::kInactive:
      case AlertState::kResolved:
        s.p.state = AlertState::kInactive;
        break;
      case AlertState::kFiring:
        s.p.good = std::min(s.p.good + 1, resolve_after);
        if (s.p.good >= resolve_after) s.p.state = AlertState::kResolved;
        break;
    }
  }
  s.alert = build();
  s.alert.starts_at = s.p.active_since;
  s.alert.updated_at = now;
  s.alert.state = s.p.state;
  if (s.p.state == AlertState::kResolved) s.alert.ends_at = now;
  Transition(key, s.alert, from, s.p.state, now, StepReason(key, violating));
  if (s.p.state == AlertState::kFiring ||
      (s.p.state == AlertState::kResolved && from == AlertState::kFiring)) {
    out.alerts.push_back(s.alert);
  }
  bool changed = before.state != s.p.state || before.bad != s.p.bad || before.good != s.p.good;
  if (s.p.state == AlertState::kInactive || s.p.state == AlertState::kResolved) {
    // Forgotten: the resolve has been sent; a new violation starts a new alert.
    if (from != AlertState::kInactive) out.removed.emplace_back(key, fp);
    rs.series.erase(it);
    return;
  }
  if (changed) out.changed.push_back(s.p);
}

void Evaluator::Impl::Keep(RuleState& rs, TimePoint now, Output& out) {
  for (auto& [fp, s] : rs.series) {
    s.last_seen = now;
    if (s.p.state == AlertState::kFiring) out.alerts.push_back(s.alert);
  }
}

Alert Evaluator::Impl::BuildAlert(const AlertSpec& spec, const Labels& series, TemplateData data,
                                  const RuleSet& set) const {
  const auto& f = *spec.fields;
  Alert a;
  a.labels = AlertLabels(spec, series);
  a.rule = *spec.rule;
  a.kind = f.kind;
  a.severity = spec.severity;
  data.labels = &a.labels;
  data.strings["rule"] = *spec.rule;
  auto num = [&](const char* n) -> std::optional<double> {
    auto it = data.numbers.find(n);
    return it == data.numbers.end() ? std::nullopt : std::optional<double>(it->second);
  };
  a.value = num("value");
  a.threshold = num("threshold");
  a.burn_rate = num("burn_rate");
  a.budget_consumed = num("budget_consumed");
  a.annotations["summary"] = f.summary.Render(data);
  a.annotations["description"] = f.description.Render(data);
  if (std::string action = f.action.Render(data); !action.empty()) {
    a.annotations["action"] = std::move(action);
  }
  a.annotations["query"] = spec.query;
  if (!f.runbook.empty()) {
    std::string href = UrlUnder(set.runbook_base_url, f.runbook);
    a.annotations["runbook"] = href;
    a.links.push_back({href, "Runbook: " + f.runbook});
  }
  for (const auto& d : f.dashboards) {
    if (!a.annotations.count("dashboard")) a.annotations["dashboard"] = d.url;
    a.links.push_back({d.url, d.title});
  }
  auto src = set.source_urls.find(spec.source);
  if (src != set.source_urls.end() && !spec.query.empty()) {
    a.generator_url = src->second + "/graph?g0.expr=" + UrlEncode(spec.query) + "&g0.tab=0";
    a.links.push_back({a.generator_url, "Query"});
  }
  return a;
}

void Evaluator::Impl::EvaluateThreshold(Batch& b, const RuleGroup& g, const ThresholdRule& rule,
                                        Output& out) {
  static constexpr std::string_view kWhat = "its query returns no series";
  std::string key = "rule/" + rule.name;
  auto& rs = StateFor(key, DefinitionHash(rule));
  const auto* r = ResultOf(b, g.source, rule.expr);
  if (r == nullptr || !*r) {
    Keep(rs, b.now, out);
    EvaluateAbsent(b, rule.name, rule.alert, rule.absent_after, kWhat, false, false, out);
    return;
  }
  const auto& samples = (*r)->vector;
  EvaluateAbsent(b, rule.name, rule.alert, rule.absent_after, kWhat, samples.empty(), true, out);
  if (samples.empty()) {
    // The rule's data stopped as a whole: firing alerts stay firing, marked, never resolved
    // for lack of data (rs.absent_since of the rule's own state is when the silence began).
    if (!rs.absent_since) rs.absent_since = b.now;
    for (auto& [fp, s] : rs.series) {
      if (s.p.state == AlertState::kFiring) MarkNoData(s.alert, *rs.absent_since);
    }
    Keep(rs, b.now, out);
    return;
  }
  rs.absent_since.reset();
  AlertSpec spec{&rule.name, &rule.alert, rule.severity, rule.expr, g.source, {}};
  std::set<Fingerprint> seen;
  for (const auto& s : samples) {
    bool violating = Compare(s.value, rule.op, rule.threshold);
    if (!violating && rs.series.empty()) continue;
    TemplateData data;
    data.numbers["value"] = s.value;
    data.numbers["threshold"] = rule.threshold;
    Labels labels = AlertLabels(spec, s.metric);
    seen.insert(labels.fingerprint());
    Step(
        key, rs, labels, Compare(s.value, rule.op, rule.threshold), rule.consecutive,
        rule.resolve_after, b.now, [&] { return BuildAlert(spec, s.metric, data, *b.rules); },
        s.value, out);
  }
  // Series absent this tick while others answered: not evidence of health. A pending count
  // stops (it needs consecutive violations); a firing alert stays until the series is back.
  Duration gone_after =
      rule.absent_after.count() > 0 ? rule.absent_after : b.rules->evaluation.absent_after;
  for (auto it = rs.series.begin(); it != rs.series.end();) {
    if (seen.count(it->first) != 0) {
      ++it;
      continue;
    }
    auto& s = it->second;
    if (s.p.state == AlertState::kPending) {
      Transition(key, s.alert, s.p.state, AlertState::kInactive, b.now,
                 TransitionReason::kSeriesGone);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
      continue;
    }
    if (b.now - s.last_seen >= gone_after) {
      s.alert.state = AlertState::kResolved;
      s.alert.ends_at = b.now;
      s.alert.annotations["description"] += " (series disappeared; resolved without data)";
      Transition(key, s.alert, AlertState::kFiring, AlertState::kResolved, b.now,
                 TransitionReason::kSeriesGone);
      out.alerts.push_back(s.alert);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
      continue;
    }
    out.alerts.push_back(s.alert);
    ++it;
  }
}

}  // namespace tocsin::rules
