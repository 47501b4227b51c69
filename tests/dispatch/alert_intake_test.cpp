// The alert intake queue on the simulated loop: big batches applied in bounded chunks with other
// work in between, order kept between batches, a full queue refused (never dropped).
#include "tocsin/dispatch/alert_intake.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;

class NullSink : public GroupSink {
 public:
  void OnGroupFlush(const AlertGroup&, TimePoint) override {}
};

// Runs nothing until asked: what it holds is what the loop handed to the parse thread.
class HeldExecutor : public Executor {
 public:
  void Submit(std::function<void()> work) override { held.push_back(std::move(work)); }
  void RunAll() {
    for (std::size_t i = 0; i < held.size(); ++i) held[i]();
  }
  std::vector<std::function<void()>> held;
};

class AlertIntakeTest : public ::testing::Test {
 protected:
  AlertIntakeTest() {
    dispatcher_ = std::make_unique<Dispatcher>(scheduler_, sink_, silences_, registry_,
                                               testutil::LoadOrDie(testutil::kSlackOnlyConfig));
  }
  void MakeIntake(AlertIntakeOptions options = {}) {
    intake_ = std::make_unique<AlertIntake>(*dispatcher_, scheduler_, parser_, ParsePostedAlerts,
                                            registry_, options);
  }
  TimePoint Now() const { return scheduler_.clock().Now(); }

  // `n` distinct alerts named `name`, firing unless `resolved`.
  std::string Batch(int n, const std::string& name = "Load", bool resolved = false) const {
    std::string ends = FormatRfc3339(resolved ? Now() : Now() + 1h);
    std::string body = "[";
    for (int i = 0; i < n; ++i) {
      if (i) body += ",";
      body += fmt::format(R"({{"labels":{{"alertname":"{}","service":"svc{}","instance":"i{}"}},)"
                          R"("startsAt":"{}","endsAt":"{}"}})",
                          name, i % 100, i, FormatRfc3339(Now()), ends);
    }
    return body + "]";
  }
  std::string Metrics() {
    prometheus::TextSerializer s;
    return s.Serialize(registry_.Collect());
  }

  SimulatedScheduler scheduler_{*ParseTime("2026-11-22T03:00:00Z")};
  NullSink sink_;
  fakes::MemorySilenceStore silence_store_;
  Silences silences_{silence_store_};
  prometheus::Registry registry_;
  InlineExecutor parser_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<AlertIntake> intake_;
};

// Freeing a 50,000-alert batch's parsed alerts on the loop held it for tens of milliseconds in
// one callback (longer than /healthz's 50 ms budget on a busy machine), and batches of 64 took
// 5 % of the loop in the ingest benchmark: alerts parsed by the parse executor are handed back
// to it to be freed there, whatever the batch's size.
TEST_F(AlertIntakeTest, BigBatchIsFreedOffTheLoop) {
  HeldExecutor held;
  intake_ = std::make_unique<AlertIntake>(*dispatcher_, scheduler_, held, ParsePostedAlerts,
                                          registry_, AlertIntakeOptions{});
  std::size_t applied = 0;
  // A big batch, and one of Prometheus' 64 alerts (too big to be parsed inline).
  for (int n : {5000, 64}) {
    SCOPED_TRACE(n);
    const std::string body = Batch(n, "Load" + std::to_string(n));
    ASSERT_GT(body.size(), AlertIntakeOptions{}.inline_parse_bytes);
    std::optional<IntakeOutcome> answer;
    intake_->Submit(body, Now(), 5min, [&](IntakeOutcome o) { answer = std::move(o); });
    ASSERT_EQ(held.held.size(), 1u);  // the parse
    held.RunAll();
    held.held.clear();
    scheduler_.RunPending();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->accepted, static_cast<std::size_t>(n));
    applied += static_cast<std::size_t>(n);
    EXPECT_EQ(dispatcher_->alert_count(), applied);
    // The spent alerts went to the executor, not to the loop's free().
    ASSERT_EQ(held.held.size(), 1u) << "the batch's alerts were freed on the loop";
    held.RunAll();
    held.held.clear();
    EXPECT_EQ(dispatcher_->alert_count(), applied) << "freeing the batch touched the dispatcher";
  }
  intake_.reset();  // before the executor it was given
}

// A Prometheus sending one alert paid two thread hand-offs (to the parse thread and back) for
// a parse of a few microseconds, and a third to free it: each can wait for a CPU.
TEST_F(AlertIntakeTest, ASmallBatchWithNothingAheadIsAppliedAndAnsweredOnTheLoopAtOnce) {
  HeldExecutor held;
  intake_ = std::make_unique<AlertIntake>(*dispatcher_, scheduler_, held, ParsePostedAlerts,
                                          registry_, AlertIntakeOptions{});
  const std::string body = Batch(3);
  ASSERT_LE(body.size(), AlertIntakeOptions{}.inline_parse_bytes);
  std::optional<IntakeOutcome> answer;
  intake_->Submit(body, Now(), 5min, [&](IntakeOutcome o) { answer = std::move(o); });
  ASSERT_TRUE(answer) << "not answered before Submit returned";
  EXPECT_EQ(answer->accepted, 3u);
  EXPECT_EQ(dispatcher_->alert_count(), 3u);
  EXPECT_TRUE(held.held.empty()) << "the parse thread was asked to parse or free it";
  EXPECT_EQ(intake_->depth(), 0u);

  // Behind a batch still with the parse thread, a small one waits its turn (order is kept).
  intake_->Submit(Batch(5000, "Big"), Now(), 5min, [](IntakeOutcome) {});
  std::optional<IntakeOutcome> small;
  intake_->Submit(Batch(1, "Small"), Now(), 5min, [&](IntakeOutcome o) { small = std::move(o); });
  EXPECT_FALSE(small) << "applied before the batch ahead of it";
  EXPECT_EQ(intake_->depth(), 2u);
  held.RunAll();
  held.held.clear();
  scheduler_.RunPending();
  ASSERT_TRUE(small);
  EXPECT_EQ(dispatcher_->alert_count(), 5004u);
  held.RunAll();    // the spent alerts of both batches
  intake_.reset();  // before the executor it was given
}

TEST_F(AlertIntakeTest, FiftyThousandAlertBatchIsAppliedInChunksWithOtherWorkInBetween) {
  MakeIntake();
  std::optional<IntakeOutcome> answer;
  intake_->Submit(Batch(50000), Now(), 5min, [&](IntakeOutcome o) { answer = std::move(o); });
  // Another handler queued on the loop right behind the batch, as a timer or request would be.
  std::optional<std::size_t> seen_by_other_work;
  scheduler_.Post([&] { seen_by_other_work = dispatcher_->alert_count(); });
  scheduler_.RunPending();

  ASSERT_TRUE(seen_by_other_work);
  EXPECT_GT(*seen_by_other_work, 0u);
  EXPECT_LT(*seen_by_other_work, 50000u) << "the other handler waited for the whole batch";
  EXPECT_LE(intake_->largest_chunk(), AlertIntakeOptions{}.chunk_alerts);
  ASSERT_TRUE(answer) << "the batch is answered once its last chunk is applied";
  EXPECT_FALSE(answer->refused);
  EXPECT_EQ(answer->accepted, 50000u);
  EXPECT_EQ(dispatcher_->alert_count(), 50000u);
  EXPECT_EQ(intake_->depth(), 0u);
}

TEST_F(AlertIntakeTest, BatchesApplyInTheOrderTheyCameEvenWhenTheFirstIsHuge) {
  MakeIntake({.queue_batches = 16, .chunk_alerts = 500});
  std::vector<std::string> answers;
  // The big batch fires alert i0..; the small one right after resolves i0: applied out of
  // order, the alert would end up firing.
  intake_->Submit(Batch(5000), Now(), 5min, [&](IntakeOutcome) { answers.push_back("big"); });
  intake_->Submit(Batch(1, "Load", /*resolved=*/true), Now(), 5min,
                  [&](IntakeOutcome) { answers.push_back("small"); });
  scheduler_.RunPending();
  EXPECT_EQ(answers, (std::vector<std::string>{"big", "small"}));
  std::size_t firing = 0;
  dispatcher_->ForEachActiveAlert(
      Now(), [&](Fingerprint, const StoredAlert&, const std::vector<std::string>&) { ++firing; });
  EXPECT_EQ(firing, 4999u) << "the resolve posted after the big batch must win";
}

TEST_F(AlertIntakeTest, FullQueueRefusesWithRetryAfterAndCountsIt) {
  // Every batch through the parse thread, so that they wait in the queue.
  MakeIntake({.queue_batches = 2, .inline_parse_bytes = 0});
  std::vector<IntakeOutcome> outcomes;
  for (int i = 0; i < 3; ++i) {
    intake_->Submit(Batch(10, fmt::format("A{}", i)), Now(), 5min,
                    [&](IntakeOutcome o) { outcomes.push_back(std::move(o)); });
  }
  // The third is refused at once, before the loop applied anything.
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].refused);
  EXPECT_EQ(outcomes[0].queue_depth, 2u);
  EXPECT_GE(outcomes[0].retry_after, 1s);
  EXPECT_EQ(intake_->depth(), 2u);
  auto metrics = Metrics();
  EXPECT_NE(metrics.find("tocsin_alert_intake_queue_batches 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(tocsin_alert_intake_batches_total{result="rejected"} 1)"),
            std::string::npos)
      << metrics;
  scheduler_.RunPending();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(dispatcher_->alert_count(), 20u) << "the two queued batches are applied";
  // Room again: the sender's retry is taken.
  intake_->Submit(Batch(10, "A2"), Now(), 5min,
                  [&](IntakeOutcome o) { outcomes.push_back(std::move(o)); });
  scheduler_.RunPending();
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_FALSE(outcomes[3].refused);
  EXPECT_EQ(dispatcher_->alert_count(), 30u);
  metrics = Metrics();
  EXPECT_NE(metrics.find(R"(tocsin_alert_intake_batches_total{result="applied"} 3)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tocsin_alert_intake_queue_batches 0"), std::string::npos) << metrics;
}

TEST_F(AlertIntakeTest, ApplyAllAppliesAndAnswersEverythingReceivedAtOnce) {
  MakeIntake({.queue_batches = 16, .chunk_alerts = 100});
  int answered = 0;
  for (int i = 0; i < 3; ++i) {
    intake_->Submit(Batch(1000, fmt::format("B{}", i)), Now(), 5min,
                    [&](IntakeOutcome) { ++answered; });
  }
  intake_->ApplyAll();
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(dispatcher_->alert_count(), 3000u);
  scheduler_.RunPending();  // chunk callbacks still posted find nothing left to do
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(dispatcher_->alert_count(), 3000u);
}

}  // namespace
}  // namespace tocsin::dispatch
