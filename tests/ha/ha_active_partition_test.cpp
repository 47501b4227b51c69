// A network partition that cuts the active instance alone from PostgreSQL while the standby
// still reaches it, with real processes. Instance a (started first: the active) reaches the
// database through a proxy of its own (tests/support/partition_proxy.py), which stops carrying
// bytes without closing anything; instance b reaches it directly. A second cluster on the `pg`
// fixture's server gets the same alerts at the same moments and sees no partition: the run
// without faults. Both page through PagerDuty at one provider simulator.
//
// Once the page raised before the cut is stored as sent, a's proxy is cut; a new alert starts
// firing every 3 s, and every firing alert is pushed to every running instance every 500 ms.
// What the coordinator promises (src/ha/ha_coordinator.cpp): a cannot renew, so it steps down
// by its own clock `lease` minus the safety margin after its last renewal was sent, before the
// lease expires in the database; b finds the lease expired at its next poll and takes it under
// the next epoch. Checked: a logged its step-down (the lease could not be renewed) before b
// logged its takeover; b took over within lease + lease/3 of the cut (plus slack); b pages every
// alert while a is still cut off; when the proxy heals, the calls a had left in it return, a
// exits with 75, is started again 2 s later as by the unit and comes back as a standby, and the
// cluster sends no page at all after the heal; every alert paged exactly once, the same pages
// as the cluster without the partition. The cut lasts TOCSIN_HA_PARTITION_SECONDS (default
// 12 s: four leases); new alerts stop 3 s before the heal, and the heal waits until every alert
// was paged.
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "ha/ha_two_clusters.h"
#include "support/process.h"
#include "support/sanitizer.h"
#include "support/test_store.h"

namespace tocsin::ha {
namespace {

using namespace std::chrono_literals;
using testing::SteadyClock;
using testing::WallMs;

constexpr int kLeaseSeconds = 3;
constexpr testing::Ladder kLadder = testing::kStepOneOnly;
// The safety margin of a 3 s lease (SafetyMargin: lease/5, at least 1 s).
constexpr double kMarginMs = 1000;
using testing::kSlackMs;

int PartitionSeconds() { return testing::PartitionSeconds(kLeaseSeconds); }

using HaActivePartition = testing::TwoClustersTest;

TEST_F(HaActivePartition, TheActiveAloneCutOffStepsDownTheStandbyTakesOverEachAlertPagesOnce) {
  faulty_store_ = tocsin::testing::TestStore::Create(store::Dialect::kPostgres);
  ASSERT_TRUE(faulty_store_);
  testing::PartitionProxy proxy(faulty_store_->url().port, dir_.path(), "proxy-a");
  ASSERT_FALSE(proxy.port().empty());
  store::StoreUrl a_url = faulty_store_->url();
  a_url.port = proxy.port();
  ASSERT_NO_FATAL_FAILURE(StartClusters(TOCSIN_PROVIDER_SIM, faulty_store_->url(), "cut",
                                        kLeaseSeconds, kLadder, {"a", "b"}, {{"a", a_url}}));
  const auto first = faulty_->Role("a");
  ASSERT_TRUE(first && first->role == "active");

  firing_ = {"BeforeCut"};
  ASSERT_TRUE(PushUntilAllPagedAndStored(20s));
  ASSERT_EQ(faulty_->Active(), "a");

  // The cut: a new alert every 3 s (none in the last 3 s), every alert pushed every 500 ms,
  // exits restarted; when b reports active, by the test's clock.
  ASSERT_TRUE(proxy.Cut());
  const double cut_at_ms = WallMs();
  const auto cut_at = SteadyClock::now();
  const auto heal_at = cut_at + std::chrono::seconds(PartitionSeconds());
  auto next_alert = cut_at;
  auto next_push = cut_at;
  int n = 0;
  std::optional<double> b_active_seen_at;
  std::optional<double> a_gone_at;
  while (SteadyClock::now() < heal_at) {
    const auto now = SteadyClock::now();
    if (now >= next_alert && next_alert + 3s <= heal_at) {
      firing_.push_back("DuringCut" + std::to_string(++n));
      next_alert += 3s;
    }
    if (now >= next_push) {
      PushFiring();
      next_push = SteadyClock::now() + 500ms;
    }
    if (!b_active_seen_at) {
      if (auto r = faulty_->Role("b"); r && r->role == "active") b_active_seen_at = WallMs();
    }
    if (!a_gone_at && !faulty_->instance("a").process->running()) a_gone_at = WallMs();
    Supervise();
    std::this_thread::sleep_for(50ms);  // the poll interval
  }
  // Paging does not wait for the heal: b pages every alert while a is still cut off.
  ASSERT_TRUE(PushUntilAllPaged(30s)) << "without the partition:\n"
                                      << testing::Describe(calm_->Pages()) << "with it:\n"
                                      << testing::Describe(faulty_->Pages());
  ASSERT_TRUE(b_active_seen_at) << "b did not take over during the cut";
  const std::size_t paged_before_heal = faulty_->Pages().size();
  ASSERT_TRUE(proxy.Heal());
  const double healed_at_ms = WallMs();

  // The calls a had left in the proxy return: a exits (75), is started again 2 s later and
  // comes back as a standby of b's epoch.
  ASSERT_TRUE(testing::WaitUntil(60s, [&] {
    PushFiring();
    Supervise();
    if (faulty_->instance("a").lives < 2) return false;
    auto r = faulty_->Role("a");
    return r && r->role == "standby" && r->epoch == first->epoch + 1;
  })) << "a did not come back as a standby after the heal";

  // The order of events, by the instances' own log lines (one wall clock on this machine).
  const auto stepped_down = faulty_->LoggedAtMs(
      "a", 0,
      fmt::format("STEPS DOWN from active (epoch {}): the lease could not be renewed",
                  first->epoch));
  const auto took_over =
      faulty_->LoggedAtMs("b", 0, fmt::format("is now ACTIVE (epoch {})", first->epoch + 1));
  ASSERT_TRUE(stepped_down) << "a did not step down for want of a renewal";
  ASSERT_TRUE(took_over) << "b did not take over under the next epoch";
  std::printf("cut %d s: a stepped down at +%.0f ms, b active at +%.0f ms (seen at +%.0f ms), ",
              PartitionSeconds(), *stepped_down - cut_at_ms, *took_over - cut_at_ms,
              *b_active_seen_at - cut_at_ms);
  if (a_gone_at) {
    std::printf("a's first process gone at +%.0f ms", *a_gone_at - cut_at_ms);
  } else {
    std::printf("a's first process still there at the heal (+%.0f ms)", healed_at_ms - cut_at_ms);
  }
  std::printf("; exits of a:");
  for (int code : exits_of_["a"]) std::printf(" %d", code);
  std::printf("\n");
  // a stopped paging before b started: never two instances paging at once.
  EXPECT_LT(*stepped_down, *took_over);
  // a's own deadline: its last renewal was sent at most lease/3 before the cut.
  EXPECT_LE(*stepped_down - cut_at_ms, kLeaseSeconds * 1000.0 - kMarginMs + kSlackMs);
  EXPECT_LE(*took_over - cut_at_ms, (kLeaseSeconds + kLeaseSeconds / 3.0) * 1000.0 + kSlackMs);
  // a's first process ended by stepping down, and no later start failed otherwise.
  ASSERT_FALSE(exits_of_["a"].empty());
  EXPECT_EQ(exits_of_["a"].front(), 75);
  EXPECT_TRUE(exits_of_["b"].empty()) << "b exited";

  // b stayed the active, under the epoch it took; after the heal nothing was paged again.
  auto b = faulty_->Role("b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->role, "active");
  EXPECT_EQ(b->epoch, first->epoch + 1);
  ExpectSamePagesEachOnce(firing_.size(), "the active cut off");
  const auto pages = faulty_->Pages();
  EXPECT_EQ(pages.size(), paged_before_heal) << testing::Describe(pages);
  for (const auto& p : pages) {
    EXPECT_LT(p.at_ms, healed_at_ms) << "paged after the heal: " << p.what;
  }
}

}  // namespace
}  // namespace tocsin::ha
