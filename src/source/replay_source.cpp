#include "tocsin/source/replay_source.h"

#include <algorithm>

#include "tocsin/common/duration.h"

namespace tocsin::source {

void ReplaySource::Add(const std::string& expr, Series series) {
  std::lock_guard lock(mu_);
  std::sort(series.points.begin(), series.points.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto& list = series_[expr];
  for (auto& s : list) {
    if (s.metric == series.metric) {
      s.points.insert(s.points.end(), series.points.begin(), series.points.end());
      std::sort(s.points.begin(), s.points.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      return;
    }
  }
  list.push_back(std::move(series));
}

void ReplaySource::FailBetween(TimePoint from, TimePoint to) {
  std::lock_guard lock(mu_);
  failing_.emplace_back(from, to);
}

bool ReplaySource::Has(const std::string& expr) const {
  std::lock_guard lock(mu_);
  return series_.count(expr) != 0;
}

std::size_t ReplaySource::queries() const {
  std::lock_guard lock(mu_);
  return queries_;
}

Result<QueryResult> ReplaySource::Query(const std::string& expr, TimePoint at) {
  std::lock_guard lock(mu_);
  ++queries_;
  for (const auto& [from, to] : failing_) {
    if (at >= from && at < to) {
      return Fail(Error::Transient("source " + name_ + " unreachable at " + FormatRfc3339(at) +
                                   " (failure injected by the test)"));
    }
  }
  QueryResult out;
  out.type = ResultType::kVector;
  auto it = series_.find(expr);
  if (it == series_.end()) return out;
  for (const auto& s : it->second) {
    // Latest point at or before `at`.
    auto p = std::upper_bound(s.points.begin(), s.points.end(), at,
                              [](TimePoint t, const auto& point) { return t < point.first; });
    if (p == s.points.begin()) continue;
    --p;
    if (at - p->first > lookback_) continue;
    out.vector.push_back(Sample{s.metric, at, p->second});
  }
  return out;
}

Result<QueryResult> ReplaySource::QueryRange(const std::string& expr, TimePoint start,
                                             TimePoint end, Duration step) {
  QueryResult out;
  out.type = ResultType::kMatrix;
  std::map<Labels, Series> by;
  for (TimePoint t = start; t <= end && step.count() > 0; t += step) {
    auto r = Query(expr, t);
    if (!r) return r;
    for (const auto& s : r->vector) {
      auto& series = by[s.metric];
      series.metric = s.metric;
      series.points.emplace_back(t, s.value);
    }
  }
  for (auto& [k, v] : by) out.matrix.push_back(std::move(v));
  return out;
}

}  // namespace tocsin::source
