#pragma once

// The fixture of the failover tests: a cluster that sees a fault beside one that does not (the
// run without faults), in one temporary directory; on failure, every instance's log.

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace tocsin::ha::testing {

class TwoClustersTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    std::string logs;
    for (auto* c : {calm_.get(), faulty_.get()}) {
      if (c) logs += c->Logs();
    }
    ADD_FAILURE() << logs;
  }

  // Restarts, 2 s after it exited, an instance of the faulty cluster that is not running (the
  // shipped unit's Restart=on-failure, RestartSec=2s); counts exits by code in `exits_`.
  void Supervise() {
    for (const std::string name : {"a", "b"}) {
      auto& i = faulty_->instance(name);
      if (i.process->running()) continue;
      auto& since = exited_at_[name];
      if (!since) {
        int code = i.process->Wait(std::chrono::milliseconds(0)).value_or(-1);
        exits_[code]++;
        since = SteadyClock::now();
      } else if (SteadyClock::now() - *since >= std::chrono::seconds(2)) {
        since.reset();
        faulty_->Start(name);
      }
    }
  }

  // The provider simulator (`sim_binary`), the calm cluster on the `pg` fixture's server and
  // the faulty one named `name` on `store`; then "a" in both, then "b": a active, b standby in
  // each. Each cluster pages with a routing key of its own.
  void StartClusters(const std::string& sim_binary, const store::StoreUrl& store,
                     const std::string& name, int lease_s, Ladder ladder) {
    sim_ = tocsin::testing::StartProviderSim(sim_binary, dir_.path());
    ASSERT_FALSE(sim_.url.empty()) << "the provider simulator did not start";
    calm_store_ = tocsin::testing::TestStore::Create(store::Dialect::kPostgres);
    ASSERT_TRUE(calm_store_);
    calm_ = std::make_unique<HaCluster>(dir_.path() + "/calm", "calm", calm_store_->url(), sim_.url,
                                        "calm0123456789abcdef0123456789ab", lease_s, ladder);
    faulty_ = std::make_unique<HaCluster>(dir_.path() + "/" + name, name, store, sim_.url,
                                          "down0123456789abcdef0123456789ab", lease_s, ladder);
    StartBoth();
  }

  // Posts every alert of `firing_` to every running instance of both clusters, as Prometheus
  // does with each of its Alertmanagers.
  void PushFiring() {
    for (const auto& a : firing_) {
      calm_->PushAlert(a);
      faulty_->PushAlert(a);
    }
  }
  // Whether `c` has paged step 1 of as many incidents as `firing_` has alerts.
  bool AllPaged(HaCluster& c) {
    std::size_t n = 0;
    for (const auto& p : c.Pages()) n += p.step == 1;
    return n >= firing_.size();
  }
  // Pushes until both clusters have paged every alert of `firing_`, restarting exits.
  bool PushUntilAllPaged(SteadyClock::duration within) {
    return WaitUntil(within, [&] {
      PushFiring();
      Supervise();
      return AllPaged(*calm_) && AllPaged(*faulty_);
    });
  }
  // The same, and until the faulty cluster's active has also stored every page as sent: what
  // to wait for before a fault, so that the fault does not land between the provider's 2xx and
  // the "sent" mark's commit. A fault in that window makes the next active send the page again
  // (with the same dedup_key, which PagerDuty folds): documented, and not what these tests
  // count (a clean CI run cut the network 20 ms after the simulator's 202, before the commit).
  bool PushUntilAllPagedAndStored(SteadyClock::duration within) {
    return WaitUntil(within, [&] {
      PushFiring();
      Supervise();
      return AllPaged(*calm_) && AllPaged(*faulty_) &&
             faulty_->StoredSent(faulty_->Active(), firing_.size());
    });
  }

  // Starts "a" in both clusters, then "b": a active, b standby in each.
  void StartBoth() {
    for (auto* c : {calm_.get(), faulty_.get()}) c->Start("a");
    for (auto* c : {calm_.get(), faulty_.get()}) {
      ASSERT_TRUE(c->WaitForRole("a", "active", std::chrono::seconds(30)));
    }
    for (auto* c : {calm_.get(), faulty_.get()}) c->Start("b");
    for (auto* c : {calm_.get(), faulty_.get()}) {
      ASSERT_TRUE(c->WaitForRole("b", "standby", std::chrono::seconds(30)));
    }
  }

  // Once both clusters have delivered everything: the calm one paged each of `alerts` once,
  // and the faulty one exactly the same pages, each once; the faulty cluster's instances exited
  // only by stepping down (75) or by starting without a database (2), never by a crash.
  void ExpectSamePagesEachOnce(std::size_t alerts, const std::string& fault) {
    const std::string active = faulty_->Active();
    ASSERT_FALSE(active.empty());
    ASSERT_TRUE(WaitUntil(std::chrono::seconds(10), [&] {
      return calm_->PendingDeliveries("a") == 0u && faulty_->PendingDeliveries(active) == 0u;
    }));
    auto calm_pages = calm_->Pages();
    auto faulty_pages = faulty_->Pages();
    const std::string both = "without faults:\n" + Describe(calm_pages) + "with " + fault + ":\n" +
                             Describe(faulty_pages);
    std::printf("%s", both.c_str());
    auto calm_count = CountPagesAbout(calm_pages);
    EXPECT_EQ(calm_count.size(), alerts) << both;
    for (const auto& [what, count] : calm_count) EXPECT_EQ(count, 1) << what << "\n" << both;
    EXPECT_EQ(CountPagesAbout(faulty_pages), calm_count) << both;
    for (const auto& [what, count] : CountPages(faulty_pages)) {
      EXPECT_EQ(count, 1) << what << "\n" << both;
    }
    for (const auto& [code, count] : exits_) {
      EXPECT_TRUE(code == 75 || code == 2) << count << " exit(s) with code " << code;
    }
  }

  tocsin::testing::TempDir dir_;
  // Declared before the clusters, so it outlives their instances' last pages.
  tocsin::testing::SimProcess sim_;
  // Declared before the clusters: their processes end before the schemas are dropped.
  std::unique_ptr<tocsin::testing::TestStore> calm_store_;
  std::unique_ptr<tocsin::testing::TestStore> faulty_store_;
  std::unique_ptr<HaCluster> calm_;
  std::unique_ptr<HaCluster> faulty_;
  std::map<std::string, std::optional<SteadyClock::time_point>> exited_at_;
  std::map<int, int> exits_;
  std::vector<std::string> firing_;  // the alerts that fire, in the order they started
};

}  // namespace tocsin::ha::testing
