#pragma once

// The fixture of the failover tests: a cluster that sees a fault beside one that does not (the
// run without faults), in one temporary directory; on failure, every instance's log.

#include <chrono>
#include <csignal>
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
  // shipped unit's Restart=on-failure, RestartSec=2s); counts exits by code in `exits_`, and
  // keeps each instance's exit codes in order in `exits_of_`.
  void Supervise() {
    for (const std::string& name : faulty_->Names()) {
      auto& i = faulty_->instance(name);
      if (i.process->running()) continue;
      auto& since = exited_at_[name];
      if (!since) {
        int code = i.process->Wait(std::chrono::milliseconds(0)).value_or(-1);
        exits_[code]++;
        exits_of_[name].push_back(code);
        since = SteadyClock::now();
      } else if (SteadyClock::now() - *since >= std::chrono::seconds(2)) {
        since.reset();
        faulty_->Start(name);
      }
    }
  }

  // The provider simulator (`sim_binary`), the calm cluster on the `pg` fixture's server and
  // the faulty one named `name` on `store` (its instances named in `stores_of` reach it at a
  // URL of their own: a proxy); then "a" in both, then the other `instances`: a active, the
  // others standbys in each. Each cluster pages with a routing key of its own.
  void StartClusters(const std::string& sim_binary, const store::StoreUrl& store,
                     const std::string& name, int lease_s, Ladder ladder,
                     const std::vector<std::string>& instances = {"a", "b"},
                     const std::map<std::string, store::StoreUrl>& stores_of = {}) {
    sim_ = tocsin::testing::StartProviderSim(sim_binary, dir_.path());
    ASSERT_FALSE(sim_.url.empty()) << "the provider simulator did not start";
    calm_store_ = tocsin::testing::TestStore::Create(store::Dialect::kPostgres);
    ASSERT_TRUE(calm_store_);
    calm_ = std::make_unique<HaCluster>(dir_.path() + "/calm", "calm", calm_store_->url(), sim_.url,
                                        "calm0123456789abcdef0123456789ab", lease_s, ladder);
    faulty_ = std::make_unique<HaCluster>(dir_.path() + "/" + name, name, store, sim_.url,
                                          "down0123456789abcdef0123456789ab", lease_s, ladder);
    for (const auto& [instance, url] : stores_of) faulty_->SetStoreOf(instance, url);
    StartAll(instances);
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

  // Starts `instances` in both clusters, the first alone until it is active, then the others:
  // the first is active and the others standbys in each.
  void StartAll(const std::vector<std::string>& instances) {
    for (auto* c : {calm_.get(), faulty_.get()}) c->Start(instances.front());
    for (auto* c : {calm_.get(), faulty_.get()}) {
      ASSERT_TRUE(c->WaitForRole(instances.front(), "active", std::chrono::seconds(30)));
    }
    for (std::size_t n = 1; n < instances.size(); ++n) {
      for (auto* c : {calm_.get(), faulty_.get()}) c->Start(instances[n]);
    }
    for (std::size_t n = 1; n < instances.size(); ++n) {
      for (auto* c : {calm_.get(), faulty_.get()}) {
        ASSERT_TRUE(c->WaitForRole(instances[n], "standby", std::chrono::seconds(30)));
      }
    }
  }

  // Once both clusters have delivered everything: the calm one paged each of its `pages` once,
  // and the faulty one exactly the same pages, each once; the faulty cluster's instances exited
  // only by stepping down (75), by starting without a database (2) or by the test's SIGKILLs
  // (`kills_` of them), never by a crash. `pages`: how many different pages (alerts times the
  // ladder steps each paged).
  void ExpectSamePagesEachOnce(std::size_t pages, const std::string& fault) {
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
    EXPECT_EQ(calm_count.size(), pages) << both;
    for (const auto& [what, count] : calm_count) EXPECT_EQ(count, 1) << what << "\n" << both;
    EXPECT_EQ(CountPagesAbout(faulty_pages), calm_count) << both;
    for (const auto& [what, count] : CountPages(faulty_pages)) {
      EXPECT_EQ(count, 1) << what << "\n" << both;
    }
    constexpr int kKilled = 128 + SIGKILL;
    for (const auto& [code, count] : exits_) {
      EXPECT_TRUE(code == 75 || code == 2 || (code == kKilled && count == kills_))
          << count << " exit(s) with code " << code;
    }
    EXPECT_EQ(exits_.count(kKilled) ? exits_.at(kKilled) : 0, kills_);
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
  std::map<std::string, std::vector<int>> exits_of_;
  int kills_ = 0;                    // the instances the test killed with SIGKILL
  std::vector<std::string> firing_;  // the alerts that fire, in the order they started
};

}  // namespace tocsin::ha::testing
