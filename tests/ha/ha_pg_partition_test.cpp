// A network partition between a running HA cluster and its PostgreSQL server, with real
// processes: the cluster reaches the server through a proxy (tests/support/partition_proxy.py)
// that stops carrying bytes without closing anything, so every query and every new connection
// waits for an answer that never comes. A stopped server (HaPgOutage) answers at once with a
// refusal; this is the harder case: nothing tells the instances that the database is gone but
// their own timeouts. A second cluster on the `pg` fixture's server, reached directly, gets
// the same alerts at the same moments and sees no partition.
//
// Checked: the standby keeps answering GET /api/v1/ha within a second while the partition lasts
// (no thread that answers requests waits on the database), reports the database silent and
// answers intake 503; the active steps down (it stays until its database calls return, so
// that a write it had sent, such as a page's "sent" mark, still lands once the network heals:
// exiting at once made the next active send that page again); no page is sent twice; once the
// network heals, every alert pages exactly once, the same pages as the cluster without the
// partition; instances exit only by stepping down (75) or starting without a database (2). The
// partition lasts TOCSIN_HA_PARTITION_SECONDS (default 12 s: four leases).
#include <thread>

#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "ha/ha_two_clusters.h"
#include "support/process.h"
#include "support/test_store.h"

namespace tocsin::ha {
namespace {

using namespace std::chrono_literals;
using testing::HaCluster;
using testing::SteadyClock;

constexpr int kLeaseSeconds = 3;
constexpr testing::Ladder kLadder = testing::kStepOneOnly;

int PartitionSeconds() { return testing::PartitionSeconds(kLeaseSeconds); }

using HaPgPartition = testing::TwoClustersTest;

TEST_F(HaPgPartition, TheDatabaseSilentNobodyHangsNothingPagesTwiceAndEveryAlertPagesOnceHealed) {
  faulty_store_ = tocsin::testing::TestStore::Create(store::Dialect::kPostgres);
  ASSERT_TRUE(faulty_store_);
  testing::PartitionProxy proxy(faulty_store_->url().port, dir_.path(), "proxy");
  ASSERT_FALSE(proxy.port().empty());
  store::StoreUrl through_proxy = faulty_store_->url();
  through_proxy.port = proxy.port();
  ASSERT_NO_FATAL_FAILURE(
      StartClusters(TOCSIN_PROVIDER_SIM, through_proxy, "partition", kLeaseSeconds, kLadder));

  firing_ = {"BeforePartition"};
  ASSERT_TRUE(PushUntilAllPagedAndStored(20s));

  // The partition: a new alert every 3 s, every alert pushed every 500 ms, exits restarted.
  // How the standby answers meanwhile (it never stepped down, so it must go on serving), and
  // when the active, which steps down, is gone.
  ASSERT_TRUE(proxy.Cut());
  const auto cut_at = SteadyClock::now();
  const auto heal_at = cut_at + std::chrono::seconds(PartitionSeconds());
  auto since_cut = [&] {
    return std::chrono::duration<double>(SteadyClock::now() - cut_at).count();
  };
  auto next_alert = cut_at;
  int n = 0;
  SteadyClock::duration slowest{};
  double slowest_at = 0;
  int unanswered = 0;
  std::optional<double> active_gone_at;
  std::optional<HttpClientResponse> refused;  // the standby's intake, once it saw no answer
  while (SteadyClock::now() < heal_at) {
    if (SteadyClock::now() >= next_alert) {
      firing_.push_back("DuringPartition" + std::to_string(++n));
      next_alert += 3s;
    }
    PushFiring();
    const auto asked = SteadyClock::now();
    auto answer = faulty_->Get("b", "/api/v1/ha");
    const auto took = SteadyClock::now() - asked;
    if (!answer || answer->status != 200) {
      if (++unanswered <= 5) {
        std::printf("b at +%.1f s: %s\n", since_cut(),
                    answer ? ("HTTP " + std::to_string(answer->status)).c_str() : "no answer");
      }
    } else if (!refused && nlohmann::json::parse(answer->body)["lastError"].is_string()) {
      refused = faulty_->PostAlert("b", "Probe");
    }
    if (took > slowest) {
      slowest = took;
      slowest_at = since_cut();
    }
    if (!active_gone_at && !faulty_->instance("a").process->running()) {
      active_gone_at = since_cut();
    }
    Supervise();
    std::this_thread::sleep_for(500ms);  // Prometheus's pace, not a timer wait
  }
  ASSERT_TRUE(proxy.Heal());
  const auto healed_at = SteadyClock::now();
  std::printf(
      "partition %d s; the standby's slowest GET /api/v1/ha %.3f s (at +%.1f s), %d "
      "unanswered; the active gone at +%.1f s; exits:",
      PartitionSeconds(), std::chrono::duration<double>(slowest).count(), slowest_at, unanswered,
      active_gone_at.value_or(-1));
  for (const auto& [code, count] : exits_) std::printf(" code %d x%d", code, count);
  std::printf("\n");

  ASSERT_TRUE(PushUntilAllPaged(60s)) << "without the partition:\n"
                                      << testing::Describe(calm_->Pages()) << "with it:\n"
                                      << testing::Describe(faulty_->Pages());
  std::printf("every alert paged %.1f s after the network healed\n",
              std::chrono::duration<double>(SteadyClock::now() - healed_at).count());
  ExpectSamePagesEachOnce(firing_.size(), "the partition");
  EXPECT_EQ(unanswered, 0) << "the standby did not answer within 2 s during the partition";
  EXPECT_LT(slowest, 1s) << "the standby's slowest answer, at +" << slowest_at << " s";
  // The standby's intake once it saw the database not answering: 503, Prometheus retries.
  ASSERT_TRUE(refused) << "the standby never reported the database not answering";
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_FALSE(refused->Header("retry-after").empty());
}

}  // namespace
}  // namespace tocsin::ha
