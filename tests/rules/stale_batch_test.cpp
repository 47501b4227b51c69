// Answers to queries sent before a reload (SetRules or SetSources) never reach the new rules:
// the queries wait on a QueuedExecutor, as on the worker pool when Prometheus is slow, while
// the test swaps what they were sent for.
#include <gtest/gtest.h>

#include <stdexcept>

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
  // Installs `rule`, starts, and sends the t=0 query, which waits in queries_. The source
  // reports a lag of 50 s.
  std::unique_ptr<Evaluator> StartHeld(const std::string& rule) {
    auto e = Make(nullptr, &queries_);
    e->SetRules(Load(rule));
    e->Start();
    source_->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 50}});
    scheduler_.RunPending();
    EXPECT_EQ(queries_.queued(), 1u);
    return e;
  }
  // Lets every held query answer and delivers the answers; then nothing may be firing.
  void AnswerAndExpectNothingFiring(const Evaluator& e) {
    queries_.RunAll();
    scheduler_.RunPending();
    EXPECT_TRUE(Firing(e, "queue_lag").empty());
    EXPECT_EQ(sink_.Count("queue_lag", AlertState::kFiring), 0u);
  }

  QueuedExecutor queries_;
};

TEST_F(StaleBatchTest, AnswersToTheOldRulesAreNotAppliedAfterSetRules) {
  auto e = StartHeld(LagRule("10"));  // 50 > 10: the t=0 answer violates the old rule
  // The reload raises the threshold above the lag: under the new rule nothing violates.
  e->SetRules(Load(LagRule("100")));
  AnswerAndExpectNothingFiring(*e);
  // The next tick asks again under the new rule: still nothing.
  Advance(seconds(30));
  AnswerAndExpectNothingFiring(*e);
}

TEST_F(StaleBatchTest, AnswersFromTheOldSourcesAreNotAppliedAfterSetSources) {
  // The old source (say, a Prometheus being replaced) still reports a lag.
  auto e = StartHeld(LagRule("10"));
  auto fresh = std::make_shared<testing::FakeSliSource>();
  fresh->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 1}});
  e->SetSources({{"prometheus", fresh}});
  AnswerAndExpectNothingFiring(*e);  // answered by the old source
  Advance(seconds(30));
  AnswerAndExpectNothingFiring(*e);
  EXPECT_EQ(fresh->queries("lag_seconds"), 1u);
}

TEST_F(StaleBatchTest, AStaleBatchDoesNotReleaseTheSameGroupOfTheNewRules) {
  auto e = StartHeld(LagRule("10"));  // batch A (old rules) waits
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

// A query that throws (a bug in a source) still reports back: its batch used to stay in
// flight, and the group skipped every tick as "still waiting for its queries" until a reload.
TEST_F(StaleBatchTest, AQueryThatThrowsReportsBackAndTheNextTickAsksAgain) {
  auto e = Make(nullptr, &queries_);
  e->SetRules(Load(LagRule("10")));
  source_->Set("lag_seconds",
               [](TimePoint) -> source::QueryResult { throw std::runtime_error("source bug"); });
  e->Start();
  scheduler_.RunPending();
  ASSERT_EQ(queries_.queued(), 1u);
  queries_.RunAll();
  scheduler_.RunPending();
  source_->SetValues("lag_seconds", {{Labels{{"queue", "deposits"}}, 50}});
  Advance(seconds(30));
  EXPECT_EQ(queries_.queued(), 1u) << "the group skipped its tick";
  queries_.RunAll();
  scheduler_.RunPending();
  EXPECT_FALSE(Firing(*e, "queue_lag").empty());
}

}  // namespace
}  // namespace tocsin::rules
