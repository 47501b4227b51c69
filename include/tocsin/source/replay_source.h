#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/source/sli_source.h"

namespace tocsin::source {

// An SliSource that answers from series held in memory: what `tocsin test rules` feeds from a
// test file and what `tocsin backtest` loads with query_range. An instant query at t returns,
// for each series of that expression, its latest point at or before t within `lookback` (the
// way Prometheus looks back 5 minutes), so a gap in the data is "no data", not zero. Unknown
// expressions answer an empty vector. Periods can be marked as failing, to test that rules
// keep their state while the source is down. Thread-safe.
class ReplaySource final : public SliSource {
 public:
  explicit ReplaySource(std::string name, Duration lookback = std::chrono::minutes(5))
      : name_(std::move(name)), lookback_(lookback) {}

  void Add(const std::string& expr, Series series);
  // Queries at times in [from, to) fail with a transient "unreachable" error.
  void FailBetween(TimePoint from, TimePoint to);
  bool Has(const std::string& expr) const;
  std::size_t queries() const;

  const std::string& name() const override { return name_; }
  Result<QueryResult> Query(const std::string& expr, TimePoint at) override;
  Result<QueryResult> QueryRange(const std::string& expr, TimePoint start, TimePoint end,
                                 Duration step) override;

 private:
  std::string name_;
  Duration lookback_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Series>> series_;
  std::vector<std::pair<TimePoint, TimePoint>> failing_;
  std::size_t queries_ = 0;
};

}  // namespace tocsin::source
