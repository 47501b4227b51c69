// A failover of PostgreSQL itself under a running HA cluster, with real processes: the
// cluster's store.url names a primary and its streaming replica (libpq's host list with
// target_session_attrs=read-write, as docs/operations.md advises), the primary commits
// synchronously, and it crashes (pg_ctl -m immediate: no shutdown, nothing more sent). The
// replica is promoted a few seconds later, as Patroni or an operator would. A second cluster on
// the `pg` fixture's server gets the same alerts at the same moments and sees no failover.
//
// Checked: once the replica takes writes, paging resumes on it without anyone changing the
// configuration; every alert, those raised while no server took writes included, is paged
// exactly once, the same pages as the cluster without the failover (nothing committed before
// the crash is lost: RPO 0 with synchronous replication); the only exits are a step-down (75)
// and a start without a database (2). The promotion comes TOCSIN_HA_PROMOTE_AFTER seconds
// after the crash (default 5: more than the lease, so the active steps down and an instance
// takes the lease on the promoted server).
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "ha/ha_two_clusters.h"
#include "support/test_store.h"
#include "tocsin/store/store_url.h"

namespace tocsin::ha {
namespace {

using namespace std::chrono_literals;
using testing::HaCluster;
using testing::SteadyClock;

constexpr int kLeaseSeconds = 3;
constexpr testing::Ladder kLadder = testing::kStepOneOnly;

int PromoteAfterSeconds() { return testing::SecondsFromEnvironment("TOCSIN_HA_PROMOTE_AFTER", 5); }

using HaPgPromotion = testing::TwoClustersTest;

TEST_F(HaPgPromotion, ThePrimaryCrashesItsReplicaIsPromotedAndEveryAlertPagesOnce) {
  testing::PgServer primary(dir_.path() + "/primary");
  ASSERT_TRUE(primary.Start());
  testing::PgServer replica(dir_.path() + "/replica");
  ASSERT_TRUE(replica.StartReplicaOf(primary));
  ASSERT_TRUE(primary.CommitSynchronously());
  auto primary_url = primary.Url();
  ASSERT_TRUE(primary_url);
  // What an operator writes: both servers, the one that takes writes is the store.
  auto both = store::ParseStoreUrl("postgresql://postgres@127.0.0.1:" + primary.port() +
                                   ",127.0.0.1:" + replica.port() +
                                   "/postgres?target_session_attrs=read-write");
  ASSERT_TRUE(both) << both.error().message();
  both->password = primary_url->password;

  ASSERT_NO_FATAL_FAILURE(
      StartClusters(TOCSIN_PROVIDER_SIM, *both, "promoted", kLeaseSeconds, kLadder));

  // What fires, pushed to every running instance of both clusters, as Prometheus does.
  firing_ = {"BeforeCrash"};
  ASSERT_TRUE(PushUntilAllPagedAndStored(20s));

  // The crash, a new alert every 2 s, every alert pushed every 500 ms, exits restarted; the
  // promotion after PromoteAfterSeconds().
  ASSERT_TRUE(primary.Crash());
  const auto crashed_at = SteadyClock::now();
  const auto promote_at = crashed_at + std::chrono::seconds(PromoteAfterSeconds());
  auto next_alert = crashed_at;
  int n = 0;
  while (SteadyClock::now() < promote_at) {
    if (SteadyClock::now() >= next_alert) {
      firing_.push_back("DuringFailover" + std::to_string(++n));
      next_alert += 2s;
    }
    PushFiring();
    Supervise();
    std::this_thread::sleep_for(500ms);  // Prometheus's pace, not a timer wait
  }
  ASSERT_TRUE(replica.Promote());
  const auto promoted_at = SteadyClock::now();
  firing_.push_back("AfterPromotion");

  ASSERT_TRUE(PushUntilAllPaged(30s)) << "without the failover:\n"
                                      << testing::Describe(calm_->Pages()) << "with it:\n"
                                      << testing::Describe(faulty_->Pages());
  std::printf(
      "primary crashed, replica promoted %d s later; every alert paged %.1f s after the "
      "promotion; exits:",
      PromoteAfterSeconds(),
      std::chrono::duration<double>(SteadyClock::now() - promoted_at).count());
  for (const auto& [code, count] : exits_) std::printf(" code %d x%d", code, count);
  std::printf("\n");
  ExpectSamePagesEachOnce(firing_.size(), "the failover");
}

}  // namespace
}  // namespace tocsin::ha
