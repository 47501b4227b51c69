// Answers to queries sent before a reload (SetRules or SetSources) never reach the new rules:
// the queries wait on a QueuedExecutor, as on the worker pool when Prometheus is slow, while
// the test swaps what they were sent for.
#include <gtest/gtest.h>

#include "evaluator_fixture.h"

namespace tocsin::rules {
namespace {

using std::chrono::seconds;

std::string LagRule(const char* threshold) {
  return std::string(R"(
groups:
  - name: queue
    interval: 30s
    rules:
      - alert: queue_lag
        expr: lag_seconds
        threshold: )") +
         threshold + R"(
        consecutive: 1
        resolve_after: 1
        severity: warning
        service: payments-api
        domain: payments
)";
}

class StaleBatchTest : public EvaluatorTest {
 protected:
  QueuedExecutor queries_;
};

TEST_F(StaleBatchTest, AnswersToTheOldRulesAreNotAppliedAfterSetRules) {
  auto e = Make(nullptr, &queries_);
  e->SetRules(Load(LagRule("10")));
  e->Start();
  source_->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 50}});
  scheduler_.RunPending();  // t=0: the query is sent and waits
  ASSERT_EQ(queries_.queued(), 1u);
  // The reload raises the threshold above the lag: under the new rule nothing violates.
  e->SetRules(Load(LagRule("100")));
  queries_.RunAll();
  scheduler_.RunPending();
  EXPECT_TRUE(Firing(*e, "queue_lag").empty());
  EXPECT_EQ(sink_.Count("queue_lag", AlertState::kFiring), 0u);
  // The next tick asks again under the new rule: still nothing.
  Advance(seconds(30));
  queries_.RunAll();
  scheduler_.RunPending();
  EXPECT_TRUE(Firing(*e, "queue_lag").empty());
  EXPECT_EQ(sink_.Count("queue_lag", AlertState::kFiring), 0u);
}

TEST_F(StaleBatchTest, AnswersFromTheOldSourcesAreNotAppliedAfterSetSources) {
  auto e = Make(nullptr, &queries_);
  e->SetRules(Load(LagRule("10")));
  e->Start();
  // The old source (say, a Prometheus being replaced) still reports a lag.
  source_->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 50}});
  scheduler_.RunPending();
  ASSERT_EQ(queries_.queued(), 1u);
  auto fresh = std::make_shared<testing::FakeSliSource>();
  fresh->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 1}});
  e->SetSources({{"prometheus", fresh}});
  queries_.RunAll();  // answered by the old source
  scheduler_.RunPending();
  EXPECT_TRUE(Firing(*e, "queue_lag").empty());
  EXPECT_EQ(sink_.Count("queue_lag", AlertState::kFiring), 0u);
  Advance(seconds(30));
  queries_.RunAll();
  scheduler_.RunPending();
  EXPECT_EQ(fresh->queries("lag_seconds"), 1u);
  EXPECT_TRUE(Firing(*e, "queue_lag").empty());
}

TEST_F(StaleBatchTest, AStaleBatchDoesNotReleaseTheSameGroupOfTheNewRules) {
  auto e = Make(nullptr, &queries_);
  e->SetRules(Load(LagRule("10")));
  e->Start();
  source_->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 50}});
  scheduler_.RunPending();  // batch A (old rules) waits
  e->SetRules(Load(LagRule("20")));
  Advance(seconds(30));  // batch B (new rules, same group number) waits too
  ASSERT_EQ(queries_.queued(), 2u);
  queries_.RunFirst(1);  // A answers: stale
  scheduler_.RunPending();
  EXPECT_TRUE(Firing(*e, "queue_lag").empty());
  // B is still in flight: the next tick must be skipped, not start a second batch beside it.
  Advance(seconds(30));
  EXPECT_EQ(e->stats().skipped_ticks, 1u);
  EXPECT_EQ(queries_.queued(), 1u);
  queries_.RunAll();  // B answers under the rules it was sent for: fires once
  scheduler_.RunPending();
  EXPECT_EQ(Firing(*e, "queue_lag").size(), 1u);
  EXPECT_EQ(sink_.Count("queue_lag", AlertState::kFiring), 1u);
}

}  // namespace
}  // namespace tocsin::rules
