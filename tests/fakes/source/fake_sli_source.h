#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "tocsin/source/sli_source.h"

namespace tocsin::testing {

// Programmable SliSource: each expression answers what its function returns at the query time;
// unknown expressions answer an empty vector. Can be switched to fail (source down) and counts
// queries per expression, to prove that shared queries are sent once. Thread-safe.
class FakeSliSource final : public source::SliSource {
 public:
  using Answer = std::function<source::QueryResult(TimePoint)>;

  explicit FakeSliSource(std::string name = "prometheus") : name_(std::move(name)) {}

  void Set(const std::string& expr, Answer answer) {
    std::lock_guard lock(mu_);
    answers_[expr] = std::move(answer);
  }
  // Convenience: one series per labels with a constant value.
  void SetValues(const std::string& expr, std::vector<std::pair<Labels, double>> values) {
    Set(expr, [values](TimePoint t) {
      source::QueryResult r;
      for (const auto& [l, v] : values) r.vector.push_back({l, t, v});
      return r;
    });
  }
  void SetDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  std::size_t queries() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  std::size_t queries(const std::string& expr) const {
    std::lock_guard lock(mu_);
    auto it = per_expr_.find(expr);
    return it == per_expr_.end() ? 0 : it->second;
  }

  const std::string& name() const override { return name_; }
  Result<source::QueryResult> Query(const std::string& expr, TimePoint at) override {
    Answer answer;
    {
      std::lock_guard lock(mu_);
      ++total_;
      ++per_expr_[expr];
      if (down_)
        return Fail(Error::Transient("source " + name_ + " unreachable: connection refused"));
      auto it = answers_.find(expr);
      if (it == answers_.end()) return source::QueryResult{};
      answer = it->second;
    }
    return answer(at);
  }
  Result<source::QueryResult> QueryRange(const std::string& expr, TimePoint start, TimePoint end,
                                         Duration step) override {
    source::QueryResult out;
    out.type = source::ResultType::kMatrix;
    std::map<Labels, source::Series> by;
    for (TimePoint t = start; t <= end; t += step) {
      auto r = Query(expr, t);
      if (!r) return r;
      for (const auto& s : r->vector) {
        by[s.metric].metric = s.metric;
        by[s.metric].points.emplace_back(t, s.value);
      }
    }
    for (auto& [k, v] : by) out.matrix.push_back(std::move(v));
    return out;
  }

 private:
  std::string name_;
  mutable std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::map<std::string, std::size_t> per_expr_;
  std::size_t total_ = 0;
  bool down_ = false;
};

}  // namespace tocsin::testing
