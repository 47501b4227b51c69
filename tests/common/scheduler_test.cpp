#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/log_capture.h"
#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/common/worker_pool.h"

namespace tocsin {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kStart = FromUnixMillis(1'795'312'391'000);

TEST(SimulatedSchedulerTest, FiresDueTimersInDeadlineOrderAtTheirTime) {
  SimulatedScheduler s(kStart);
  std::vector<std::pair<int, TimePoint>> fired;
  s.ScheduleAfter(minutes(10), [&] { fired.push_back({10, s.clock().Now()}); });
  s.ScheduleAfter(minutes(5), [&] { fired.push_back({5, s.clock().Now()}); });
  s.ScheduleAfter(minutes(0), [&] { fired.push_back({0, s.clock().Now()}); });
  s.AdvanceBy(minutes(7));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].first, 0);
  EXPECT_EQ(fired[0].second, kStart);
  EXPECT_EQ(fired[1].first, 5);
  EXPECT_EQ(fired[1].second, kStart + minutes(5));
  EXPECT_EQ(s.clock().Now(), kStart + minutes(7));
  s.AdvanceBy(minutes(3));
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[2].second, kStart + minutes(10));
}

TEST(SimulatedSchedulerTest, SameDeadlineKeepsCreationOrder) {
  SimulatedScheduler s(kStart);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    s.ScheduleAt(kStart + seconds(30), [&order, i] { order.push_back(i); });
  s.AdvanceBy(seconds(30));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(SimulatedSchedulerTest, TimersScheduledByCallbacksFireInTheSameAdvance) {
  SimulatedScheduler s(kStart);
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    s.ScheduleAfter(seconds(30), tick);
  };
  s.ScheduleAfter(seconds(30), tick);
  s.AdvanceBy(minutes(5));
  EXPECT_EQ(ticks, 10);
}

TEST(SimulatedSchedulerTest, CancelRemovesOnlyThatTimer) {
  SimulatedScheduler s(kStart);
  int a = 0, b = 0;
  TimerId ta = s.ScheduleAfter(seconds(1), [&] { ++a; });
  s.ScheduleAfter(seconds(1), [&] { ++b; });
  EXPECT_TRUE(s.Cancel(ta));
  EXPECT_FALSE(s.Cancel(ta));
  s.AdvanceBy(seconds(2));
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
}

TEST(SimulatedSchedulerTest, PostedWorkFromAnotherThreadRunsOnAdvance) {
  SimulatedScheduler s(kStart);
  int ran = 0;
  std::thread t([&] { s.Post([&] { ++ran; }); });
  t.join();
  EXPECT_EQ(ran, 0);
  s.RunPending();
  EXPECT_EQ(ran, 1);
}

TEST(SimulatedSchedulerTest, PastDeadlineFiresAtCurrentTime) {
  SimulatedScheduler s(kStart);
  s.AdvanceBy(minutes(1));
  TimePoint seen;
  s.ScheduleAt(kStart, [&] { seen = s.clock().Now(); });
  s.RunPending();
  EXPECT_EQ(seen, kStart + minutes(1));
}

TEST(AsioSchedulerTest, FiresInOrderAndCancels) {
  boost::asio::io_context io;
  SystemClock clock;
  AsioScheduler s(io, clock);
  std::vector<int> order;
  s.ScheduleAfter(std::chrono::milliseconds(20), [&] { order.push_back(2); });
  s.ScheduleAfter(std::chrono::milliseconds(1), [&] { order.push_back(1); });
  TimerId c = s.ScheduleAfter(std::chrono::milliseconds(5), [&] { order.push_back(99); });
  EXPECT_TRUE(s.Cancel(c));
  s.Post([&] { order.push_back(0); });
  io.run();  // returns when no timer is left
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(WorkerPoolTest, ATaskThatThrowsIsReportedAndThePoolGoesOn) {
  std::atomic<int> failures = 0;
  std::atomic<bool> after = false;
  {
    WorkerPool pool(1, "test pool", [&failures] { ++failures; });
    pool.Submit([] { throw std::runtime_error("a bug in a task"); });
    pool.Submit([] { throw 42; });
    pool.Submit([&after] { after = true; });
  }  // joined: without the catch, std::terminate would have ended the test binary
  EXPECT_EQ(failures.load(), 2);
  EXPECT_TRUE(after.load());
}

TEST(WorkerPoolTest, ATaskThatKeepsThrowingIsLoggedOnceAndCountedEachTime) {
  std::vector<std::string> lines;
  std::atomic<int> failures = 0;
  tocsin::testing::LogCapture capture;
  {
    WorkerPool pool(2, "test pool", [&failures] { ++failures; });
    for (int i = 0; i < 50; ++i) pool.Submit([] { throw std::runtime_error("a bug in a task"); });
  }
  lines = capture.lines();
  EXPECT_EQ(failures.load(), 50);
  // The 50 throws take far less than the 10 s interval: one line, not 50.
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("test pool: a task failed and was abandoned: a bug in a task; the pool "
                          "goes on (a repeat within 10 s is not logged)"),
            std::string::npos)
      << lines[0];
}

}  // namespace
}  // namespace tocsin
