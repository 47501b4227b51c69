// The PostgreSQL server stopped under a running HA cluster, with real processes. The cluster
// (two `tocsin serve`, lease 3 s) runs on a throwaway server of this test's own
// (scripts/pg-cluster), so stopping it disturbs no other test; a second cluster on the `pg`
// fixture's server gets the same alerts at the same moments and never sees an outage: the run
// without faults. Both page through PagerDuty at one provider simulator.
//
// While the server is down, a new alert starts firing every few seconds and is pushed (with
// every earlier one, as Prometheus re-sends what fires) to every instance that runs; an
// instance that exits is started again after 2 s, as the shipped systemd unit does. Checked:
// intake answers 503 with Retry-After once the instances have seen the database fail; no page
// is sent twice; once the server is back, every alert is paged, exactly the pages of the run
// without faults, each once. The outage lasts TOCSIN_HA_OUTAGE_SECONDS: 30 s under scripts/test
// (the outage the HA design is held to); 12 s when unset, for a quick run by hand (four
// leases, enough for the step-down, several restarts and the intake's 503s).
#include <signal.h>

#include <cstdlib>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ha/ha_cluster.h"
#include "ha/ha_two_clusters.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_store.h"
#include "tocsin/store/store_url.h"

namespace tocsin::ha {
namespace {

using namespace std::chrono_literals;
using testing::HaCluster;
using testing::Page;
using testing::SteadyClock;

constexpr int kLeaseSeconds = 3;
constexpr testing::Ladder kLadder = testing::kStepOneOnly;

int OutageSeconds() {
  return testing::SecondsFromEnvironment("TOCSIN_HA_OUTAGE_SECONDS", 4 * kLeaseSeconds);
}

using HaPgOutage = testing::TwoClustersTest;

TEST_F(HaPgOutage, DatabaseDownIntakeAnswers503NothingPagesTwiceAndEveryAlertPagesOnceItIsBack) {
  testing::PgServer pg(dir_.path() + "/pg");
  ASSERT_TRUE(pg.Start());
  auto outage_url = pg.Url();
  ASSERT_TRUE(outage_url);
  ASSERT_NO_FATAL_FAILURE(
      StartClusters(TOCSIN_PROVIDER_SIM, *outage_url, "outage", kLeaseSeconds, kLadder));

  // Whether instance `name` has seen the database fail: its last lease poll failed.
  auto saw_failure = [&](const std::string& name) {
    auto j = faulty_->GetJson(name, "/api/v1/ha");
    return j.is_object() && j["lastError"].is_string();
  };
  // What fires, pushed to both clusters every 500 ms. The outage cluster's answers are counted
  // in `during` from an instance that said (just before) it had seen the failure, else `early`.
  std::vector<std::string> firing = {"BeforeOutage"};
  std::map<long, int> during;
  std::map<long, int> early;
  auto push = [&](bool count) {
    for (const auto& a : firing) calm_->PushAlert(a);
    for (const std::string name : {"a", "b"}) {
      if (!faulty_->instance(name).process->running()) continue;
      const bool saw = count && saw_failure(name);
      for (const auto& a : firing) {
        auto r = faulty_->PostAlert(name, a);
        if (count) (saw ? during : early)[r ? r->status : 0]++;
      }
    }
  };
  auto all_paged = [&](HaCluster& c) {
    std::size_t n = 0;
    for (const Page& p : c.Pages()) n += p.step == 1;
    return n >= firing.size();
  };
  // Paged and stored as sent before the outage (see PushUntilAllPagedAndStored).
  ASSERT_TRUE(testing::WaitUntil(20s, [&] {
    push(false);
    return all_paged(*calm_) && all_paged(*faulty_) &&
           faulty_->StoredSent(faulty_->Active(), firing.size());
  }));

  // The outage: a new alert every 3 s, every alert pushed every 500 ms, exits restarted.
  ASSERT_TRUE(pg.Halt());
  const auto down_at = SteadyClock::now();
  const auto up_at = down_at + std::chrono::seconds(OutageSeconds());
  std::optional<HttpClientResponse> refused;  // the standby's answer, once it saw the failure
  auto next_alert = down_at;
  int n = 0;
  while (SteadyClock::now() < up_at) {
    if (SteadyClock::now() >= next_alert) {
      firing.push_back("DuringOutage" + std::to_string(++n));
      next_alert += 3s;
    }
    push(true);
    if (!refused && saw_failure("b")) refused = faulty_->PostAlert("b", "Probe");
    Supervise();
    std::this_thread::sleep_for(500ms);  // Prometheus's pace, not a timer wait
  }
  ASSERT_TRUE(pg.Start());
  const auto back_at = SteadyClock::now();
  std::printf("outage %d s; intake answers before the instance saw the failure:", OutageSeconds());
  for (const auto& [status, count] : early) std::printf(" %ld x%d", status, count);
  std::printf("; after:");
  for (const auto& [status, count] : during) std::printf(" %ld x%d", status, count);
  std::printf("; exits:");
  for (const auto& [code, count] : exits_) std::printf(" code %d x%d", code, count);
  std::printf("\n");

  // Back: Prometheus goes on re-sending what fires; every alert pages, once.
  ASSERT_TRUE(testing::WaitUntil(30s,
                                 [&] {
                                   push(false);
                                   Supervise();
                                   return all_paged(*calm_) && all_paged(*faulty_);
                                 }))
      << "without faults:\n"
      << testing::Describe(calm_->Pages()) << "with the outage:\n"
      << testing::Describe(faulty_->Pages());
  std::printf("paging resumed %.1f s after the server was back\n",
              std::chrono::duration<double>(SteadyClock::now() - back_at).count());
  ExpectSamePagesEachOnce(firing.size(), "the outage");
  // Intake while the database is down: refused with 503, never a 2xx for what cannot be kept.
  EXPECT_EQ(during.count(200), 0u) << "2xx answered while the database was down";
  EXPECT_GT(during[503], 0);
  ASSERT_TRUE(refused) << "the standby did not answer during the outage";
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_FALSE(refused->Header("retry-after").empty());
  EXPECT_NE(refused->body.find("tocsin instance b cannot reach its database"), std::string::npos)
      << refused->body;
  EXPECT_EQ(refused->body.find(outage_url->password), std::string::npos) << refused->body;
}

}  // namespace
}  // namespace tocsin::ha
