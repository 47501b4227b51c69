// Durable before acknowledged, proved by fault injection (LevelDB's FaultInjectionTestEnv, here
// through store::FaultInjector): each scenario first runs without faults and records the pages
// the provider simulator received. Then, for every N from 1 to the number of writes (and
// separately of commits) of that run, it runs again with the N-th one failing, "restarts" right
// after (every module destroyed, the same database file reopened, started again) and goes on
// to the end of the scenario. The pages must be the same: none lost, none added.
//
// Real parts: SQLite store, outbox, PagerDuty and Slack notifiers speaking HTTP to the provider
// simulator, the Slack and PagerDuty webhook handlers; only time is simulated. The outside
// world behaves as documented: an alert source re-sends firing (and for a while resolved)
// alerts every minute, PagerDuty retries a webhook delivery until it gets a 2xx, and a person
// who clicked Acknowledge in Slack and was not told it worked clicks again.
//
// How pages are compared: as the providers hold them. PagerDuty folds events by dedup_key, so
// a PagerDuty page is (action, dedup_key, step, who it pages); Slack messages by what they
// say. A page the provider got twice therefore counts once. That matters in one place only:
// between a provider's 2xx and the outbox writing "sent" (or the Slack message ts) lies the
// documented at-least-once window, where a restart legitimately re-sends the same request
// with the same key. Outside that window the test also checks that no request was repeated.
#include <gtest/gtest.h>

#include <initializer_list>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fault_harness.h"

namespace tocsin::faults {
namespace {

using store::StoreOp;
using store::testkit::CountingFaultInjector;

template <typename Strings>
std::string Join(const Strings& s) {
  std::string out;
  for (const auto& x : s) out += "  " + x + "\n";
  return out;
}

// The fault kept the outbox from recording a delivery the provider had already accepted: the
// documented at-least-once window.
// Whether the fault kept a statement containing one of `fragments` out of the database.
bool Lost(const Outcome& o, std::initializer_list<const char*> fragments) {
  for (const auto& sql : o.lost_writes) {
    for (const char* f : fragments) {
      if (sql.find(f) != std::string::npos) return true;
    }
  }
  return false;
}

bool InAtLeastOnceWindow(const Outcome& o) {
  return Lost(o, {"UPDATE notify_outbox SET state = ?", "INSERT INTO notify_slack_messages"});
}

// The fault-free run of each scenario, computed once per process.
const Outcome& FaultFree(Scenario s) {
  static std::map<Scenario, Outcome> cache;
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  spdlog::set_level(spdlog::level::warn);  // hundreds of runs: only what goes wrong
  CountingFaultInjector counter;           // counts, never fails
  Outcome o = RunScenario(s, &counter);
  return cache.emplace(s, std::move(o)).first->second;
}

// ---- the fault-free runs themselves ------------------------------------------------------

class FaultFreeRun : public ::testing::TestWithParam<Scenario> {};

TEST_P(FaultFreeRun, PagesEveryStepOnceAndIsDeterministic) {
  const Outcome& o = FaultFree(GetParam());
  ASSERT_FALSE(o.pages.empty());
  EXPECT_EQ(o.incident_ids.size(), 1u);
  for (const auto& [page, n] : o.requests) EXPECT_EQ(n, 1) << page << " was sent " << n << " times";
  bool l1 = false;
  bool l2 = false;
  bool dm = false;
  for (const auto& p : o.pages) {
    l1 = l1 || (p.find("trigger") != std::string::npos && p.find("L1 Day") != std::string::npos);
    l2 = l2 || p.find("Payments L2") != std::string::npos;
    dm = dm || p.find("Duty Manager") != std::string::npos;
  }
  EXPECT_TRUE(l1 && l2) << Join(o.pages);
  // Only the ladder nobody acknowledges reaches the Duty Manager (step 3 at 10 min).
  EXPECT_EQ(dm, GetParam() == Scenario::kLadder) << Join(o.pages);
  if (GetParam() != Scenario::kLadder) {
    EXPECT_TRUE(o.pages.count("pagerduty resolve tocsin/INC-#") > 0 ||
                GetParam() == Scenario::kPagerDutyAck)
        << Join(o.pages);
  }
  // Run again: the same pages (the test is only meaningful if the scenario is deterministic).
  CountingFaultInjector counter;
  Outcome second = RunScenario(GetParam(), &counter);
  EXPECT_EQ(second.pages, o.pages);
  EXPECT_EQ(second.writes, o.writes);
  EXPECT_EQ(second.commits, o.commits);
  std::cout << ScenarioName(GetParam()) << ": " << o.writes << " writes, " << o.commits
            << " commits, pages:\n"
            << Join(o.pages);
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultFreeRun,
                         ::testing::Values(Scenario::kLadder, Scenario::kPagerDutyAck,
                                           Scenario::kSlackAck),
                         [](const auto& p) { return ScenarioName(p.param); });

// ---- one fault per run -------------------------------------------------------------------

struct FaultCase {
  Scenario scenario;
  StoreOp op;
  int n;
};

void PrintTo(const FaultCase& c, std::ostream* os) {
  *os << ScenarioName(c.scenario) << (c.op == StoreOp::kWrite ? " write #" : " commit #") << c.n;
}

std::string OpName(StoreOp op) { return op == StoreOp::kWrite ? "Write" : "Commit"; }

// Every N up to these bounds is instantiated (one CTest test each); the fault-free runs have
// exactly this many today. CoversEveryWriteOfTheFaultFreeRun fails when a scenario's count
// changes either way (grown: operations left unfailed; shrunk: cases that only skip).
int MaxOps(Scenario s, StoreOp op) {
  switch (s) {
    case Scenario::kLadder:
      return op == StoreOp::kCommit ? 40 : 103;
    case Scenario::kPagerDutyAck:
      return op == StoreOp::kCommit ? 38 : 99;
    case Scenario::kSlackAck:
      return op == StoreOp::kCommit ? 40 : 105;
  }
  return 0;
}

class OneFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(OneFault, SamePagesAfterRestart) {
  const FaultCase c = GetParam();
  const Outcome& clean = FaultFree(c.scenario);
  int available = c.op == StoreOp::kWrite ? clean.writes : clean.commits;
  if (c.n > available) {
    GTEST_SKIP() << "the fault-free run has only " << available << " " << OpName(c.op)
                 << "s: nothing to fail";
  }
  CountingFaultInjector injector(c.op, c.n);
  Outcome o = RunScenario(c.scenario, &injector);
  ASSERT_TRUE(o.fired) << "the " << c.n << "-th " << OpName(c.op)
                       << " never happened: the scenario is not deterministic";
  std::string context =
      fmt::format("fault: {} #{} failed ({})\nlost writes:\n{}what happened:\n{}", OpName(c.op),
                  c.n, o.failed_sql, Join(o.lost_writes), Join(o.log));
  std::set<std::string> lost;
  std::set<std::string> extra;
  std::set_difference(clean.pages.begin(), clean.pages.end(), o.pages.begin(), o.pages.end(),
                      std::inserter(lost, lost.end()));
  std::set_difference(o.pages.begin(), o.pages.end(), clean.pages.begin(), clean.pages.end(),
                      std::inserter(extra, extra.end()));
  EXPECT_TRUE(lost.empty()) << "pages lost:\n" << Join(lost) << context;
  EXPECT_TRUE(extra.empty()) << "pages that the fault-free run did not send:\n"
                             << Join(extra) << context;
  EXPECT_EQ(o.incident_ids.size(), 1u) << "one alert group, one incident\n" << context;
  if (!InAtLeastOnceWindow(o)) {
    for (const auto& [page, n] : o.requests) {
      EXPECT_EQ(n, 1) << "sent " << n << " times outside the at-least-once window: " << page << "\n"
                      << context;
    }
  }
}

TEST(OneFaultCoverage, CoversEveryWriteOfTheFaultFreeRun) {
  for (Scenario s : {Scenario::kLadder, Scenario::kPagerDutyAck, Scenario::kSlackAck}) {
    const Outcome& o = FaultFree(s);
    EXPECT_GT(o.writes, 0);
    // Equal, not at most: a scenario that shrank would leave cases that only skip.
    EXPECT_EQ(o.writes, MaxOps(s, StoreOp::kWrite)) << ScenarioName(s) << ": update MaxOps";
    EXPECT_EQ(o.commits, MaxOps(s, StoreOp::kCommit)) << ScenarioName(s) << ": update MaxOps";
  }
}

std::vector<FaultCase> AllCases() {
  std::vector<FaultCase> out;
  for (Scenario s : {Scenario::kLadder, Scenario::kPagerDutyAck, Scenario::kSlackAck}) {
    for (StoreOp op : {StoreOp::kWrite, StoreOp::kCommit}) {
      for (int n = 1; n <= MaxOps(s, op); ++n) out.push_back({s, op, n});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Faults, OneFault, ::testing::ValuesIn(AllCases()), [](const auto& p) {
  return fmt::format("{}_{}{}", ScenarioName(p.param.scenario), OpName(p.param.op), p.param.n);
});

}  // namespace
}  // namespace tocsin::faults
