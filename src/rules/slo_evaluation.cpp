// SLOs: multiwindow burn-rate tiers, the error budget and the budget policy notices.
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

#include "rules/evaluator_impl.h"
#include "tocsin/common/duration.h"
#include "tocsin/rules/burn_rate.h"

namespace tocsin::rules {

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
  // No data is judged on the SLO's shortest paging window: the long windows still answer for
  // hours (the 3d one for days) after the data stops.
  std::optional<Duration> no_data_window = slo.NoDataWindow();
  const Result<QueryResult>* nr =
      no_data_window ? ResultOf(b, g.source, slo.ErrorRatioQuery(*no_data_window)) : nullptr;
  const bool no_data_known = nr != nullptr && *nr;
  // Every series of the SLO is gone (not one PSP among others): firing alerts stay firing.
  const bool silent = no_data_known && (*nr)->vector.empty();
  if (no_data_known) {
    status.data_absent = silent;
    if (!silent) {
      status.no_data_since.reset();
    } else if (!status.no_data_since) {
      status.no_data_since = b.now;
    }
  }
  const TimePoint no_data_since = status.no_data_since.value_or(b.now);

  for (const auto& tier : slo.tiers) {
    if (!tier.enabled) continue;
    std::string key = "slo/" + slo.name + "/" + tier.name;
    auto& rs = StateFor(key, DefinitionHash(slo, tier));
    std::string long_q = slo.ErrorRatioQuery(tier.long_window);
    const auto* lr = ResultOf(b, g.source, long_q);
    const auto* sr = ResultOf(b, g.source, slo.ErrorRatioQuery(tier.short_window));
    if (lr == nullptr || sr == nullptr || !*lr || !*sr) {
      // The source failed: nothing is known, tocsin_source_down says so. Alerts keep their
      // state and whatever mark they had.
      Keep(rs, b.now, out);
      continue;
    }
    const std::size_t first_out = out.alerts.size();
    // Marks every firing alert of this tier once the tier is done, when the SLO is silent.
    auto mark_no_data = [&] {
      if (!silent) return;
      for (auto& [fp, s] : rs.series) {
        if (s.p.state == AlertState::kFiring) MarkNoData(s.alert, no_data_since);
      }
      for (std::size_t k = first_out; k < out.alerts.size(); ++k) {
        if (out.alerts[k].firing()) MarkNoData(out.alerts[k], no_data_since);
      }
    };
    const auto& longs = CachedRatios(b, **lr, slo.by);
    const auto& shorts = CachedRatios(b, **sr, slo.by);
    // One of the tier's windows has no series at all: whatever it remembers stays as it is.
    const bool tier_silent = silent || longs.labels.empty() || shorts.labels.empty();
    if (longs.labels.empty()) {
      Keep(rs, b.now, out);
      mark_no_data();
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
      const double short_ratio = shorts.values[sit->second];
      double burn_long = BurnRate(long_ratio, slo.objective);
      // Strictly faster than the factor, decided exactly (burn_rate.h): a burn of exactly
      // 14.4 does not page the 14.4x tier, at any objective.
      bool violating = CompareBurnRate(long_ratio, slo.objective, tier.factor) > 0 &&
                       CompareBurnRate(short_ratio, slo.objective, tier.factor) > 0;
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
    // longer than absent_after while others still answer is resolved, so a retired PSP cannot
    // page forever. When the SLO's data stopped as a whole nothing is resolved for lack of
    // data: the outage may well go on, and resolving would page again when data returns.
    for (auto it = rs.series.begin(); it != rs.series.end();) {
      auto& s = it->second;
      // Silent, the tier learned nothing of its series: their time gone does not run.
      if (tier_silent) s.last_seen = b.now;
      bool gone = seen.count(it->first) == 0 && !tier_silent && slo.absent_after.count() > 0 &&
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
      Transition(key, s.alert, from, AlertState::kResolved, b.now, TransitionReason::kSeriesGone);
      if (from == AlertState::kFiring) out.alerts.push_back(s.alert);
      out.removed.emplace_back(key, it->first);
      it = rs.series.erase(it);
    }
    mark_no_data();
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
      Keep(rs, b.now, out);
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
      if (!st.budget_remaining || !st.error_ratio) continue;
      double consumed = 1.0 - *st.budget_remaining;
      // Budget consumed >= pct % is a burn rate >= pct / 100 over the SLO window; exact like
      // the tiers, so 80 % spent is at the 80 % line, not a hair under it.
      bool crossed = CompareBurnRate(*st.error_ratio, slo.objective, pct / 100.0) >= 0;
      if (!crossed && rs.series.empty()) continue;
      TemplateData data;
      data.numbers["value"] = consumed;
      data.numbers["budget_consumed"] = consumed;
      data.numbers["threshold"] = pct / 100.0;
      data.numbers["objective"] = slo.objective;
      data.strings["window"] = FormatDuration(slo.window);
      Labels labels = AlertLabels(spec, by);
      seen.insert(labels.fingerprint());
      Step(
          key, rs, labels, crossed, 1, 1, b.now,
          [&] { return BuildAlert(spec, by, data, *b.rules); }, consumed, out);
    }
  }
  std::string what =
      no_data_window ? "its SLI returns no series over the last " + FormatDuration(*no_data_window)
                     : std::string("its SLI returns no series");
  EvaluateAbsent(b, slo.name, slo.alert, slo.absent_after, what, silent, no_data_known, out);
}

}  // namespace tocsin::rules
