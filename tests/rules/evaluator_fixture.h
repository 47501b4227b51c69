#pragma once

// What the evaluator tests share: a recording AlertSink standing in for the dispatcher, an
// executor that holds queries until the test lets them run, and a fixture on simulated time.

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fake_sli_source.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::rules {

// The dispatcher's side of AlertSink: every alert the evaluator hands over, in order.
class RecordingSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>& alerts, TimePoint) override {
    for (const auto& a : alerts) received.push_back(a);
  }
  std::size_t Count(std::string_view name, AlertState state) const {
    std::size_t n = 0;
    for (const auto& a : received) n += a.Name() == name && a.state == state;
    return n;
  }
  // How many times an alert named `name` started firing: the dispatcher opens an incident (a
  // page) each time a fingerprint goes from unknown or resolved to firing. Re-sends of an alert
  // that is already firing are not openings.
  std::size_t Openings(std::string_view name) const {
    std::map<Fingerprint, bool> firing;
    std::size_t n = 0;
    for (const auto& a : received) {
      if (a.Name() != name) continue;
      bool& f = firing[a.fingerprint()];
      if (a.firing() && !f) ++n;
      f = a.firing();
    }
    return n;
  }
  std::vector<Alert> received;
};

// An Executor that queues work until the test runs it: queries "in flight" for as long as the
// test wants, as on the real worker pool when Prometheus is slow.
class QueuedExecutor final : public Executor {
 public:
  void Submit(std::function<void()> work) override { queue_.push_back(std::move(work)); }
  std::size_t queued() const { return queue_.size(); }
  // Runs the `n` oldest queued items (their answers are then posted to the scheduler).
  void RunFirst(std::size_t n) {
    for (; n > 0 && !queue_.empty(); --n) {
      auto work = std::move(queue_.front());
      queue_.pop_front();
      work();
    }
  }
  void RunAll() { RunFirst(queue_.size()); }

 private:
  std::deque<std::function<void()>> queue_;
};

class EvaluatorTest : public ::testing::Test {
 protected:
  EvaluatorTest() : scheduler_(FromUnixMillis(0)) {}

  std::shared_ptr<const RuleSet> Load(const std::string& yaml) {
    auto path = dir_.Write("rules-" + std::to_string(files_++) + ".yaml", yaml);
    config::Diagnostics diags;
    RuleLoadOptions options;
    options.evaluation.default_source = "prometheus";
    auto set = LoadRuleFiles({path}, options, diags);
    EXPECT_TRUE(set.has_value()) << diags.ToString();
    set->source_urls["prometheus"] = "http://prom:9090";
    set->source_down_after["prometheus"] = 3;
    // Without its trailing slash: the link still gets exactly one.
    set->runbook_base_url = "https://git.example.com/runbooks";
    return std::make_shared<const RuleSet>(std::move(*set));
  }

  // `queries`: where queries run; the inline executor (answers at once) unless a test holds
  // them.
  std::unique_ptr<Evaluator> Make(AlertStateStore* store = nullptr, Executor* queries = nullptr) {
    auto e = std::make_unique<Evaluator>(scheduler_, queries ? *queries : executor_, sink_);
    e->SetSources({{"prometheus", source_}});
    e->SetStateStore(store, &executor_);
    return e;
  }

  std::string Q(const RuleSet& set, Duration w) { return set.groups[0].slos[0].ErrorRatioQuery(w); }

  void Advance(Duration d) { scheduler_.AdvanceBy(d); }

  std::vector<Alert> Firing(const Evaluator& e, std::string_view name) {
    std::vector<Alert> out;
    for (auto& a : e.ActiveAlerts()) {
      if (a.firing() && a.Name() == name) out.push_back(a);
    }
    return out;
  }

  testing::TempDir dir_;
  int files_ = 0;
  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  RecordingSink sink_;
  std::shared_ptr<testing::FakeSliSource> source_ = std::make_shared<testing::FakeSliSource>();
};

}  // namespace tocsin::rules
