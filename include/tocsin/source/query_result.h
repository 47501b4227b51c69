#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"

namespace tocsin::source {

// One value of one series at one time. Values keep Prometheus' NaN and +-Inf.
struct Sample {
  Labels metric;
  TimePoint t{};
  double value = 0;
};

// One series of a range query: its points in time order.
struct Series {
  Labels metric;
  std::vector<std::pair<TimePoint, double>> points;
};

enum class ResultType { kVector, kScalar, kMatrix, kString };

// The `data` of a successful Prometheus query response. Plain value.
struct QueryResult {
  ResultType type = ResultType::kVector;
  std::vector<Sample> vector;  // kVector; kScalar as one sample with empty labels
  std::vector<Series> matrix;  // kMatrix
  std::string string_value;    // kString
  std::vector<std::string> warnings;
};

}  // namespace tocsin::source
