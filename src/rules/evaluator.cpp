#include "tocsin/rules/evaluator.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"

namespace tocsin::rules {

namespace {

using source::QueryResult;

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TimePoint AlignUp(TimePoint t, Duration interval) {
  auto ms = ToUnixMillis(t);
  auto step = interval.count();
  if (step <= 0) return t;
  auto rem = ms % step;
  return rem == 0 ? t : FromUnixMillis(ms - rem + step);
}

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

// The labels of an alert of `spec` for one series: series labels (without __name__), the rule's
// static labels, then what tocsin sets. Cheap: no template rendering, used for every series of
// every tick to find its state.
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

}  // namespace

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

  // --- evaluation -------------------------------------------------------------------------
  void Evaluate(Batch& b);
  const Result<QueryResult>* ResultOf(const Batch& b, const std::string& source,
                                      const std::string& expr) const;
  void EvaluateSlo(Batch& b, const RuleGroup& g, const SloRule& slo, Output& out);
  void EvaluateThreshold(Batch& b, const RuleGroup& g, const ThresholdRule& rule, Output& out);
  void EvaluateAbsent(Batch& b, const std::string& name, const AlertTemplateFields& fields,
                      Duration absent_after, bool empty, bool known, Output& out);
  void EvaluateSources(Batch& b, Output& out);
  // Advances one series. Returns the state after.
  void Step(const std::string& key, RuleState& rs, const Labels& labels, bool violating,
            long long consecutive, long long resolve_after, TimePoint now,
            const std::function<Alert()>& build, double value, Output& out);
  // Re-sends the firing alerts of a rule whose data is missing this tick.
  void Keep(RuleState& rs, Output& out);
  Alert BuildAlert(const AlertSpec& spec, const Labels& series, TemplateData data,
                   const RuleSet& rules) const;
  void Transition(const std::string& key, const Alert& a, AlertState from, AlertState to,
                  TimePoint at);
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

// ---------------------------------------------------------------------------------------------
// Scheduling

void Evaluator::Impl::ScheduleNext() {
  if (!running || !rules || next_due.empty()) return;
  if (timer) scheduler.Cancel(*timer);
  TimePoint at = *std::min_element(next_due.begin(), next_due.end());
  std::weak_ptr<Impl> weak = shared_from_this();
  timer = scheduler.ScheduleAt(at, [weak] {
    if (auto self = weak.lock()) self->OnTimer();
  });
}

void Evaluator::Impl::OnTimer() {
  timer.reset();
  if (!running || !rules) return;
  // Read the clock once: every rule of this batch is evaluated at the same instant.
  TimePoint now = scheduler.clock().Now();
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < next_due.size(); ++i) {
    if (next_due[i] > now) continue;
    due.push_back(i);
    Duration iv = rules->groups[i].interval;
    while (next_due[i] <= now) next_due[i] += iv;  // a late loop skips ticks, never bunches
  }
  RunBatch(std::move(due), now);
  ScheduleNext();
}

std::size_t Evaluator::Impl::Need(Batch& b, const std::string& source, const std::string& expr) {
  QueryKey k{source, expr};
  auto [it, inserted] = b.index.emplace(k, b.queries.size());
  if (inserted) b.queries.push_back(std::move(k));
  return it->second;
}

void Evaluator::Impl::RunBatch(std::vector<std::size_t> groups, TimePoint now) {
  auto batch = std::make_shared<Batch>();
  batch->generation = generation;
  batch->now = now;
  batch->rules = rules;
  for (auto g : groups) {
    if (in_flight.count(g) != 0) {
      ++stats.skipped_ticks;
      spdlog::warn(
          "rule group {}: previous evaluation still waiting for its queries; skipping "
          "this tick",
          rules->groups[g].name);
      continue;
    }
    batch->groups.push_back(g);
  }
  if (batch->groups.empty()) return;
  batch->budget = !budget_ever || now - last_budget >= rules->evaluation.budget_interval;
  if (batch->budget) {
    budget_ever = true;
    last_budget = now;
  }
  for (auto gi : batch->groups) {
    const auto& g = rules->groups[gi];
    for (const auto& slo : g.slos) {
      for (const auto& t : slo.tiers) {
        if (!t.enabled) continue;
        Need(*batch, g.source, slo.ErrorRatioQuery(t.long_window));
        Need(*batch, g.source, slo.ErrorRatioQuery(t.short_window));
      }
      if (batch->budget) Need(*batch, g.source, slo.ErrorRatioQuery(slo.window));
    }
    for (const auto& r : g.rules) Need(*batch, g.source, r.expr);
    in_flight.insert(gi);
  }
  ++stats.ticks;
  stats.queries_last_tick = batch->queries.size();
  stats.queries_total += batch->queries.size();
  batch->results.resize(batch->queries.size());
  batch->remaining = batch->queries.size();
  if (batch->queries.empty()) {
    Evaluate(*batch);
    return;
  }
  std::weak_ptr<Impl> weak = shared_from_this();
  Scheduler* sched = &scheduler;
  for (std::size_t i = 0; i < batch->queries.size(); ++i) {
    auto it = sources.find(batch->queries[i].source);
    std::shared_ptr<source::SliSource> src = it == sources.end() ? nullptr : it->second;
    std::string expr = batch->queries[i].expr;
    std::string source_name = batch->queries[i].source;
    executor.Submit([weak, sched, batch, i, src, expr, source_name, now] {
      Result<QueryResult> r =
          src ? src->Query(expr, now)
              : Result<QueryResult>(Fail(Error::NotFound("no source named " + source_name)));
      sched->Post([weak, batch, i, r = std::move(r)]() mutable {
        if (auto self = weak.lock()) self->OnResult(batch, i, std::move(r));
      });
    });
  }
}

void Evaluator::Impl::OnResult(const std::shared_ptr<Batch>& batch, std::size_t i,
                               Result<QueryResult> r) {
  batch->results[i] = std::move(r);
  if (--batch->remaining > 0) return;
  for (auto g : batch->groups) in_flight.erase(g);
  // Rules were replaced while the queries ran: their answers belong to the old rules.
  if (batch->generation != generation) return;
  Evaluate(*batch);
}

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
                                 AlertState to, TimePoint at) {
  if (from == to) return;
  spdlog::debug("rules: {} {} {} -> {}", key, a.labels.ToString(), AlertStateName(from),
                AlertStateName(to));
  if (observer) observer(AlertTransition{key, a, from, to, at});
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
  Transition(key, s.alert, from, s.p.state, now);
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

void Evaluator::Impl::Keep(RuleState& rs, Output& out) {
  for (auto& [fp, s] : rs.series) {
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
    bool url = f.runbook.rfind("http://", 0) == 0 || f.runbook.rfind("https://", 0) == 0;
    std::string href =
        url || set.runbook_base_url.empty() ? f.runbook : set.runbook_base_url + f.runbook;
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

void Evaluator::Impl::EvaluateSources(Batch& b, Output& out) {
  std::map<std::string, std::pair<bool, std::string>> used;  // source -> (failed, error)
  for (std::size_t i = 0; i < b.queries.size(); ++i) {
    auto& u = used[b.queries[i].source];
    const auto& r = *b.results[i];
    if (!r) {
      ++stats.query_failures_total;
      if (!u.first) u = {true, r.error().message()};
    }
  }
  static const std::string kName = "tocsin_source_down";
  static const AlertTemplateFields kFields = [] {
    AlertTemplateFields f;
    f.service = "tocsin";
    f.domain = "sre-platform";
    f.kind = AlertKind::kSymptom;
    f.runbook = "tocsin-source-down.md";
    f.summary = *Template::Parse(
        "tocsin cannot read SLIs from source {{ $labels.source }}: alerting is blind");
    f.description = *Template::Parse(
        "{{ $value }} evaluations in a row failed. Alerts of rules on this source keep their "
        "last state (no resolve) until it answers again.");
    return f;
  }();
  for (const auto& [name, u] : used) {
    auto& h = source_health[name];
    h.name = name;
    if (u.first) {
      ++h.consecutive_failures;
      h.last_error = u.second;
      spdlog::warn("rules: source {} failed ({} in a row): {}", name, h.consecutive_failures,
                   u.second);
    } else {
      h.consecutive_failures = 0;
    }
    long long down_after = 3;
    if (auto it = b.rules->source_down_after.find(name); it != b.rules->source_down_after.end()) {
      down_after = it->second;
    }
    h.down = h.consecutive_failures >= down_after;
    std::string key = "source/" + name;
    auto& rs = StateFor(key, Fnv1a64(key));
    AlertSpec spec{&kName, &kFields, b.rules->evaluation.source_down_severity,
                   "",     name,     Labels{{"source", name}}};
    TemplateData data;
    data.numbers["value"] = static_cast<double>(h.consecutive_failures);
    data.strings["window"] = "";
    // A copy, not the structured binding: clang 14 cannot capture bindings in lambdas.
    const auto& failure = u;
    auto build = [&] {
      Alert a = BuildAlert(spec, {}, data, *b.rules);
      if (failure.first) a.annotations["description"] += " Last error: " + failure.second;
      return a;
    };
    Step(key, rs, spec.extra.Merge(Labels{{"alertname", kName}}), u.first, down_after, 1, b.now,
         build, static_cast<double>(h.consecutive_failures), out);
  }
}

void Evaluator::Impl::EvaluateAbsent(Batch& b, const std::string& name,
                                     const AlertTemplateFields& fields, Duration absent_after,
                                     bool empty, bool known, Output& out) {
  static const std::string kName = "tocsin_absent_data";
  std::string key = "absent/" + name;
  if (absent_after.count() <= 0) return;
  auto& rs = StateFor(key, Fnv1a64(key));
  if (!known) {  // the query failed: absence unknown, keep as is
    Keep(rs, out);
    return;
  }
  if (!empty) {
    rs.absent_since.reset();
  } else if (!rs.absent_since) {
    rs.absent_since = b.now;
  }
  bool violating = empty && b.now - *rs.absent_since >= absent_after;
  AlertTemplateFields f;
  f.service = fields.service;
  f.domain = fields.domain;
  f.kind = AlertKind::kSymptom;
  f.runbook = "tocsin-source-down.md";
  f.dashboards = fields.dashboards;
  f.summary = *Template::Parse("No data for {{ $labels.rule }}: its SLI query returns no series");
  f.description = *Template::Parse(
      "The query of {{ $labels.rule }} has returned nothing for longer than {{ $window }}. No "
      "data is not healthy: check the exporter, the scrape job and the metric names.");
  AlertSpec spec{&kName, &f, b.rules->evaluation.absent_severity, "", "", Labels{{"rule", name}}};
  TemplateData data;
  data.strings["window"] = FormatDuration(absent_after);
  Labels labels = Labels{{"alertname", kName}, {"rule", name}};
  Step(
      key, rs, labels, violating, 1, 1, b.now, [&] { return BuildAlert(spec, {}, data, *b.rules); },
      0, out);
}

namespace {

// by-labels -> error ratio; NaN (no requests in the window) counts as no errors: no traffic
// spends no budget. Absence of every series is handled separately (absent-data alert).
Ratios RatiosBy(const QueryResult& r, const std::vector<std::string>& by) {
  Ratios out;
  out.labels.reserve(r.vector.size());
  for (const auto& s : r.vector) {
    double v = std::isnan(s.value) ? 0.0 : s.value;
    Labels key = s.metric.Only(by);
    Fingerprint fp = key.fingerprint();
    auto [it, inserted] = out.index.try_emplace(fp, out.labels.size());
    if (!inserted) {
      out.values[it->second] = v;
      continue;
    }
    out.labels.push_back(std::move(key));
    out.fps.push_back(fp);
    out.values.push_back(v);
  }
  return out;
}

template <typename BatchT>
const Ratios& CachedRatios(BatchT& b, const QueryResult& r, const std::vector<std::string>& by) {
  std::string key;
  for (const auto& l : by) key += l + ",";
  auto [it, inserted] = b.ratios.try_emplace({&r, key});
  if (inserted) it->second = RatiosBy(r, by);
  return it->second;
}

}  // namespace

void Evaluator::Impl::EvaluateSlo(Batch& b, const RuleGroup& g, const SloRule& slo, Output& out) {
  auto& [status, series] = slo_status[slo.name];
  status.name = slo.name;
  status.service = slo.alert.service;
  status.domain = slo.alert.domain;
  status.objective = slo.objective;
  status.window = slo.window;
  auto series_of = [&series = series](const Labels& by, Fingerprint fp) -> SloSeriesStatus& {
    auto [it, inserted] = series.try_emplace(fp);
    if (inserted) it->second.labels = by;
    return it->second;
  };
  const double budget = slo.error_budget();
  bool any_known = false;
  bool all_empty = true;

  for (const auto& tier : slo.tiers) {
    if (!tier.enabled) continue;
    std::string key = "slo/" + slo.name + "/" + tier.name;
    auto& rs = StateFor(key, DefinitionHash(slo, tier));
    std::string long_q = slo.ErrorRatioQuery(tier.long_window);
    const auto* lr = ResultOf(b, g.source, long_q);
    const auto* sr = ResultOf(b, g.source, slo.ErrorRatioQuery(tier.short_window));
    if (lr == nullptr || sr == nullptr || !*lr || !*sr) {
      Keep(rs, out);
      continue;
    }
    any_known = true;
    if (!(*lr)->vector.empty() || !(*sr)->vector.empty()) all_empty = false;
    const auto& longs = CachedRatios(b, **lr, slo.by);
    const auto& shorts = CachedRatios(b, **sr, slo.by);
    if (longs.labels.empty()) {
      Keep(rs, out);
      continue;
    }
    std::set<Fingerprint> seen;
    AlertSpec spec{&slo.name, &slo.alert, tier.severity,
                   long_q,    g.source,   Labels{{"slo", slo.name}, {"tier", tier.name}}};
    // By-labels of the series this tier remembers: a healthy series not among them needs no
    // alert labels at all (at 10,000 SLOs x 100 series this is most of the tick). Only valid
    // when no static or tocsin-set label overrides a `by:` label.
    std::unordered_set<Fingerprint> active_by;
    static const std::set<std::string> kSetByTocsin = {"alertname", "severity", "service", "domain",
                                                       "kind",      "slo",      "tier"};
    bool skip_healthy = std::none_of(slo.by.begin(), slo.by.end(), [&](const std::string& l) {
      return slo.alert.labels.Has(l) || kSetByTocsin.count(l) != 0;
    });
    for (const auto& [fp, st] : rs.series) active_by.insert(st.p.labels.Only(slo.by).fingerprint());
    for (std::size_t i = 0; i < longs.labels.size(); ++i) {
      const Labels& by = longs.labels[i];
      const double long_ratio = longs.values[i];
      auto sit = shorts.index.find(longs.fps[i]);
      if (sit == shorts.index.end()) continue;  // no short-window data for this series yet
      double burn_long = long_ratio / budget;
      double burn_short = shorts.values[sit->second] / budget;
      bool violating = burn_long > tier.factor && burn_short > tier.factor;
      series_of(by, longs.fps[i]).burn_rates[tier.name] = burn_long;
      // The common case at scale: healthy and nothing remembered for this series.
      if (!violating &&
          (rs.series.empty() || (skip_healthy && active_by.count(longs.fps[i]) == 0))) {
        continue;
      }
      TemplateData data;
      data.numbers["value"] = 1.0 - long_ratio;
      data.numbers["threshold"] = slo.objective / 100.0;
      data.numbers["objective"] = slo.objective;
      data.numbers["burn_rate"] = burn_long;
      data.numbers["factor"] = tier.factor;
      data.numbers["budget_consumed"] = burn_long *
                                        std::chrono::duration<double>(tier.long_window).count() /
                                        std::chrono::duration<double>(slo.window).count();
      data.strings["window"] = FormatDuration(tier.long_window);
      Labels labels = AlertLabels(spec, by);
      seen.insert(labels.fingerprint());
      Step(
          key, rs, labels, violating, 1, 1, b.now,
          [&] { return BuildAlert(spec, by, data, *b.rules); }, burn_long, out);
    }
    // A series missing this tick (e.g. a PSP without traffic) keeps its state; one gone for
    // longer than absent_after is resolved, so a retired PSP cannot page forever.
    for (auto it = rs.series.begin(); it != rs.series.end();) {
      auto& s = it->second;
      bool gone = seen.count(it->first) == 0 && slo.absent_after.count() > 0 &&
                  b.now - s.last_seen >= slo.absent_after;
      if (!gone) {
        if (seen.count(it->first) == 0 && s.p.state == AlertState::kFiring) {
          out.alerts.push_back(s.alert);
        }
        ++it;
        continue;
      }
      AlertState from = s.p.state;
      s.alert.state = AlertState::kResolved;
      s.alert.ends_at = b.now;
      s.alert.annotations["description"] += " (series disappeared; resolved without data)";
      Transition(key, s.alert, from, AlertState::kResolved, b.now);
      if (from == AlertState::kFiring) out.alerts.push_back(s.alert);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
    }
  }

  if (b.budget) {
    std::string q = slo.ErrorRatioQuery(slo.window);
    const auto* r = ResultOf(b, g.source, q);
    if (r != nullptr && *r) {
      status.budget_updated_at = b.now;
      const auto& ratios = CachedRatios(b, **r, slo.by);
      for (std::size_t i = 0; i < ratios.labels.size(); ++i) {
        double ratio = ratios.values[i];
        auto& st = series_of(ratios.labels[i], ratios.fps[i]);
        st.error_ratio = ratio;
        st.budget_remaining = 1.0 - ratio / budget;
      }
    }
  }
  // Budget policy notices: > 50 % spent = feature freeze, > 80 % = bug fixes only. Info and
  // warning severities: teams want to know, not to be woken.
  for (auto [pct, sev] :
       {std::pair<int, Severity>{50, Severity::kInfo}, {80, Severity::kWarning}}) {
    std::string key = fmt::format("budget/{}/{}", slo.name, pct);
    auto& rs = StateFor(key, Fnv1a64(key + fmt::format("/{}", slo.objective)));
    if (!b.budget) {
      Keep(rs, out);
      continue;
    }
    static const std::string kName = "tocsin_error_budget_burned";
    AlertTemplateFields f = slo.alert;
    f.summary = *Template::Parse(
        "{{ $labels.slo }}: {{ $budget_consumed | percent }} of the error budget burned "
        "(policy line {{ $threshold | percent }})");
    f.description = *Template::Parse(
        pct == 50 ? std::string("Error budget policy: more than 50 % burned means feature "
                                "freeze (canary-only deposits).")
                  : std::string("Error budget policy: more than 80 % burned means bug fixes "
                                "only."));
    AlertSpec spec{&kName,   &f,
                   sev,      slo.ErrorRatioQuery(slo.window),
                   g.source, Labels{{"slo", slo.name}, {"budget_burned", std::to_string(pct)}}};
    std::set<Fingerprint> seen;
    for (const auto& [fp, st] : series) {
      const Labels& by = st.labels;
      if (!st.budget_remaining) continue;
      double consumed = 1.0 - *st.budget_remaining;
      if (consumed < pct / 100.0 && rs.series.empty()) continue;
      TemplateData data;
      data.numbers["value"] = consumed;
      data.numbers["budget_consumed"] = consumed;
      data.numbers["threshold"] = pct / 100.0;
      data.numbers["objective"] = slo.objective;
      data.strings["window"] = FormatDuration(slo.window);
      Labels labels = AlertLabels(spec, by);
      seen.insert(labels.fingerprint());
      Step(
          key, rs, labels, consumed >= pct / 100.0, 1, 1, b.now,
          [&] { return BuildAlert(spec, by, data, *b.rules); }, consumed, out);
    }
  }
  status.data_absent = any_known && all_empty;
  EvaluateAbsent(b, slo.name, slo.alert, slo.absent_after, all_empty, any_known, out);
}

void Evaluator::Impl::EvaluateThreshold(Batch& b, const RuleGroup& g, const ThresholdRule& rule,
                                        Output& out) {
  std::string key = "rule/" + rule.name;
  auto& rs = StateFor(key, DefinitionHash(rule));
  const auto* r = ResultOf(b, g.source, rule.expr);
  if (r == nullptr || !*r) {
    Keep(rs, out);
    EvaluateAbsent(b, rule.name, rule.alert, rule.absent_after, false, false, out);
    return;
  }
  const auto& samples = (*r)->vector;
  EvaluateAbsent(b, rule.name, rule.alert, rule.absent_after, samples.empty(), true, out);
  if (samples.empty()) {
    Keep(rs, out);
    return;
  }
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
      Transition(key, s.alert, s.p.state, AlertState::kInactive, b.now);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
      continue;
    }
    if (b.now - s.last_seen >= gone_after) {
      s.alert.state = AlertState::kResolved;
      s.alert.ends_at = b.now;
      s.alert.annotations["description"] += " (series disappeared; resolved without data)";
      Transition(key, s.alert, AlertState::kFiring, AlertState::kResolved, b.now);
      out.alerts.push_back(s.alert);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
      continue;
    }
    out.alerts.push_back(s.alert);
    ++it;
  }
}

void Evaluator::Impl::AdoptRestored(const std::string& key, std::uint64_t hash, Duration interval,
                                    TimePoint now) {
  auto range = restored.equal_range(key);
  for (auto it = range.first; it != range.second; ++it) {
    const auto& p = it->second;
    if (p.definition_hash != hash) continue;  // the rule changed while tocsin was down
    // A pending count is only evidence while it is recent: after a long outage it would fire
    // on fewer consecutive violations than the rule asks for.
    if (p.state == AlertState::kPending && now - p.updated_at > 2 * interval) continue;
    if (p.state != AlertState::kPending && p.state != AlertState::kFiring) continue;
    auto& rs = StateFor(key, hash);
    SeriesState s;
    s.p = p;
    s.last_seen = now;
    s.alert.labels = p.labels;
    s.alert.rule = std::string(p.labels.GetOr("alertname"));
    s.alert.state = p.state;
    s.alert.starts_at = p.active_since;
    s.alert.updated_at = now;
    s.alert.value = p.value;
    if (auto sev = ParseSeverity(p.labels.GetOr("severity"))) s.alert.severity = *sev;
    auto kind = p.labels.GetOr("kind");
    s.alert.kind = kind == "cause"
                       ? AlertKind::kCause
                       : (kind == "symptom" ? AlertKind::kSymptom : AlertKind::kUnspecified);
    rs.series.emplace(p.labels.fingerprint(), std::move(s));
  }
  restored.erase(key);
}

// ---------------------------------------------------------------------------------------------
// Evaluator

Evaluator::Evaluator(Scheduler& scheduler, Executor& query_executor, AlertSink& sink)
    : impl_(std::make_shared<Impl>(scheduler, query_executor, sink)) {}

Evaluator::~Evaluator() { Stop(); }

void Evaluator::SetSources(SourceMap sources) { impl_->sources = std::move(sources); }

void Evaluator::SetStateStore(AlertStateStore* store, Executor* store_executor) {
  impl_->store = store;
  impl_->store_executor = store_executor;
}

Result<void> Evaluator::RestoreState() {
  if (impl_->store == nullptr) return {};
  auto loaded = impl_->store->Load();
  if (!loaded) return Fail(loaded.error());
  for (auto& p : *loaded) {
    std::string key = p.rule_key;
    impl_->restored.emplace(std::move(key), std::move(p));
  }
  return {};
}

void Evaluator::SetRules(std::shared_ptr<const RuleSet> rules) {
  auto& im = *impl_;
  TimePoint now = im.scheduler.clock().Now();
  // Keys and definition hashes of the new rules.
  std::map<std::string, std::pair<std::uint64_t, Duration>> keys;
  for (const auto& g : rules->groups) {
    for (const auto& slo : g.slos) {
      for (const auto& t : slo.tiers) {
        if (t.enabled)
          keys["slo/" + slo.name + "/" + t.name] = {DefinitionHash(slo, t), g.interval};
      }
      for (int pct : {50, 80}) {
        std::string k = fmt::format("budget/{}/{}", slo.name, pct);
        keys[k] = {Fnv1a64(k + fmt::format("/{}", slo.objective)), g.interval};
      }
      keys["absent/" + slo.name] = {Fnv1a64("absent/" + slo.name), g.interval};
    }
    for (const auto& r : g.rules) {
      keys["rule/" + r.name] = {DefinitionHash(r), g.interval};
      keys["absent/" + r.name] = {Fnv1a64("absent/" + r.name), g.interval};
    }
  }
  for (const auto& [name, url] : rules->source_urls) {
    keys["source/" + name] = {Fnv1a64("source/" + name), rules->evaluation.interval};
  }
  // Resolve what the new rules no longer define (or define differently).
  Output out;
  for (auto it = im.states.begin(); it != im.states.end();) {
    auto k = keys.find(it->first);
    bool keep = k != keys.end() && k->second.first == it->second.hash;
    // Source state is kept while the evaluator has not been told about sources by name yet.
    if (!keep && it->first.rfind("source/", 0) == 0 && rules->source_urls.empty()) keep = true;
    if (keep) {
      ++it;
      continue;
    }
    for (auto& [fp, s] : it->second.series) {
      if (s.p.state == AlertState::kFiring) {
        s.alert.state = AlertState::kResolved;
        s.alert.ends_at = now;
        s.alert.annotations["description"] += " (rule changed or removed by a reload)";
        out.alerts.push_back(s.alert);
      }
      im.Transition(it->first, s.alert, s.p.state, AlertState::kResolved, now);
      out.removed.emplace_back(it->first, fp);
    }
    it = im.states.erase(it);
  }
  for (const auto& [key, hv] : keys) {
    if (im.restored.count(key) != 0) im.AdoptRestored(key, hv.first, hv.second, now);
  }
  // Whatever is left restored belongs to rules that no longer exist.
  for (const auto& [key, p] : im.restored) out.removed.emplace_back(key, p.labels.fingerprint());
  im.restored.clear();
  for (auto it = im.slo_status.begin(); it != im.slo_status.end();) {
    bool exists = false;
    for (const auto& g : rules->groups) {
      for (const auto& slo : g.slos) exists = exists || slo.name == it->first;
    }
    it = exists ? std::next(it) : im.slo_status.erase(it);
  }
  im.rules = std::move(rules);
  ++im.generation;
  im.in_flight.clear();
  im.budget_ever = false;
  im.Flush(out, now);
  if (im.running) {
    // Strictly after now: a reload on a tick boundary must not evaluate the same instant twice
    // (that would count one violation as two consecutive ones).
    im.next_due.clear();
    for (const auto& g : im.rules->groups) {
      im.next_due.push_back(AlignUp(now + std::chrono::milliseconds(1), g.interval));
    }
    im.ScheduleNext();
  }
}

void Evaluator::SetObserver(TransitionObserver observer) { impl_->observer = std::move(observer); }

void Evaluator::Start() {
  auto& im = *impl_;
  if (im.running) return;
  im.running = true;
  if (!im.rules) return;
  TimePoint now = im.scheduler.clock().Now();
  im.next_due.clear();
  for (const auto& g : im.rules->groups) im.next_due.push_back(AlignUp(now, g.interval));
  im.ScheduleNext();
}

void Evaluator::Stop() {
  auto& im = *impl_;
  im.running = false;
  if (im.timer) im.scheduler.Cancel(*im.timer);
  im.timer.reset();
}

void Evaluator::EvaluateAllNow() {
  auto& im = *impl_;
  if (!im.rules) return;
  std::vector<std::size_t> all;
  for (std::size_t i = 0; i < im.rules->groups.size(); ++i) all.push_back(i);
  im.RunBatch(std::move(all), im.scheduler.clock().Now());
}

std::vector<SloStatus> Evaluator::SloStatuses() const {
  std::vector<SloStatus> out;
  for (const auto& [name, entry] : impl_->slo_status) {
    SloStatus s = entry.first;
    for (const auto& [fp, series] : entry.second) s.series.push_back(series);
    std::sort(
        s.series.begin(), s.series.end(),
        [](const SloSeriesStatus& a, const SloSeriesStatus& b) { return a.labels < b.labels; });
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<SourceHealth> Evaluator::SourceStatuses() const {
  std::vector<SourceHealth> out;
  for (const auto& [name, s] : impl_->source_health) out.push_back(s);
  return out;
}

std::vector<Alert> Evaluator::ActiveAlerts() const {
  std::vector<Alert> out;
  for (const auto& [key, rs] : impl_->states) {
    for (const auto& [fp, s] : rs.series) {
      if (s.p.state == AlertState::kPending || s.p.state == AlertState::kFiring) {
        out.push_back(s.alert);
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
  return out;
}

const EvaluatorStats& Evaluator::stats() const { return impl_->stats; }

}  // namespace tocsin::rules
