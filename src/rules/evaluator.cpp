#include "tocsin/rules/evaluator.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "rules/evaluator_impl.h"
#include "tocsin/common/duration.h"

namespace tocsin::rules {

namespace {

TimePoint AlignUp(TimePoint t, Duration interval) {
  auto ms = ToUnixMillis(t);
  auto step = interval.count();
  if (step <= 0) return t;
  auto rem = ms % step;
  return rem == 0 ? t : FromUnixMillis(ms - rem + step);
}

}  // namespace

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
      // Every query reports back, even one that throws: a batch short of a result would stay
      // in flight and its groups skip every tick until a reload.
      Result<QueryResult> r;
      try {
        r = src ? src->Query(expr, now)
                : Result<QueryResult>(Fail(Error::NotFound("no source named " + source_name)));
      } catch (const std::exception& e) {
        r = Fail(Error::Transient(std::string("query failed in tocsin: ") + e.what()));
      }
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
  // Rules or sources were replaced while the queries ran: the answers belong to the old ones.
  // Applying them would judge the new rules on old queries (or the old rules' state machines
  // on the new set). Dropped whole, including the in-flight marks: the group numbers now name
  // the new rule set's groups, whose own evaluations may be in flight.
  if (batch->generation != generation) return;
  for (auto g : batch->groups) in_flight.erase(g);
  Evaluate(*batch);
}

void Evaluator::Impl::DiscardInFlight() {
  ++generation;
  in_flight.clear();
  // A discarded batch may have been the one refreshing the error budgets.
  budget_ever = false;
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
    // A no-data alert fired once the query had returned nothing for absent_after: still
    // nothing at the first evaluation, it keeps firing (the time since the silence began is
    // not stored; counted from the restart it would resolve, and page again absent_after on).
    if (p.state == AlertState::kFiring && key.starts_with("absent/") && !rs.absent_since) {
      rs.absent_since = TimePoint{};
    }
  }
  restored.erase(key);
}

// ---------------------------------------------------------------------------------------------
// Evaluator

std::string_view TransitionReasonName(TransitionReason r) {
  switch (r) {
    case TransitionReason::kThresholdCrossed:
      return "threshold_crossed";
    case TransitionReason::kRecovered:
      return "recovered";
    case TransitionReason::kSeriesGone:
      return "series_gone";
    case TransitionReason::kNoData:
      return "no_data";
    case TransitionReason::kDataBack:
      return "data_back";
    case TransitionReason::kSourceDown:
      return "source_down";
    case TransitionReason::kSourceBack:
      return "source_back";
    case TransitionReason::kRuleChanged:
      return "rule_changed";
  }
  return "unknown";
}

Evaluator::Evaluator(Scheduler& scheduler, Executor& query_executor, AlertSink& sink)
    : impl_(std::make_shared<Impl>(scheduler, query_executor, sink)) {}

Evaluator::~Evaluator() { Stop(); }

void Evaluator::SetSources(SourceMap sources) {
  impl_->sources = std::move(sources);
  impl_->DiscardInFlight();
}

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
      im.Transition(it->first, s.alert, s.p.state, AlertState::kResolved, now,
                    TransitionReason::kRuleChanged);
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
  im.DiscardInFlight();
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
