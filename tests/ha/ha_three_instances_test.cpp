// Three instances under kills, with real processes: two HA clusters of three `tocsin serve`
// instances each (lease 3 s, a ladder of 0 s, 6 s and 9 s) page through PagerDuty at one
// provider simulator. In one cluster nothing happens; in the other the active is killed with
// SIGKILL, and then the instance that took over from it, each killed instance started again
// 2 s after it died, as the shipped unit does. Every firing alert is pushed to every running
// instance every 500 ms, and a new alert starts firing after each takeover, so that every
// active of the run pages steps of its own.
//
// A kill comes only when nothing is in flight (every page due so far delivered and stored as
// sent, no step due within 1.5 s): a kill between the provider's 2xx and the "sent" mark's
// commit makes the next active send that page again with the same dedup_key, which PagerDuty
// folds (documented, not what this test counts). Checked: each kill is followed by a takeover
// under the next epoch within lease + lease/3 (plus slack), by whichever instance polls first
// once the lease expired (the killed one, started again 2 s later, may win that race); the
// second kill hits the instance that took over from the first; every step of every alert pages
// exactly once, the same pages as the cluster without kills; at the end all three instances
// run, each killed process was started again once per kill and nothing else exited, and
// exactly one instance is active (the last to take over, at the first epoch plus two), the
// other two standbys. About 20 s.
#include <csignal>
#include <thread>

#include <gtest/gtest.h>

#include "ha/ha_cluster.h"
#include "ha/ha_two_clusters.h"
#include "support/process.h"
#include "support/sanitizer.h"
#include "support/test_store.h"

namespace tocsin::ha {
namespace {

using namespace std::chrono_literals;
using testing::Page;
using testing::SteadyClock;
using testing::WallMs;

constexpr int kLeaseSeconds = 3;
constexpr testing::Ladder kLadder{/*step2_after_s=*/6, /*step3_after_s=*/9};
constexpr int kSteps = 3;
using testing::kSlackMs;

bool Has(const std::vector<Page>& pages, const std::string& alert, int step) {
  for (const auto& p : pages) {
    if (p.alert == alert && p.step == step) return true;
  }
  return false;
}

// Whether no ladder step comes due within the next 1.5 s and none is overdue and not yet
// paged, counting each step from its alert's step 1 (paged a moment after the incident
// opened, so a little later than the true deadline: the window covers that).
bool NoStepDueSoon(const std::vector<Page>& pages, const std::vector<std::string>& alerts) {
  const double now = WallMs();
  for (const auto& alert : alerts) {
    std::optional<double> opened;
    for (const auto& p : pages) {
      if (p.alert == alert && p.step == 1) opened = p.at_ms;
    }
    if (!opened) return false;  // step 1 itself is still to come
    const std::pair<int, int> later[] = {{2, kLadder.step2_after_s}, {3, kLadder.step3_after_s}};
    for (const auto& [step, after_s] : later) {
      if (!Has(pages, alert, step) && *opened + after_s * 1000.0 - 1500 < now) return false;
    }
  }
  return true;
}

struct Kill {
  std::string victim;
  std::int64_t epoch = 0;  // the victim's
  double at_ms = 0;
  std::string successor;
  std::int64_t new_epoch = 0;
  double took_over_at_ms = 0;  // when the successor first reported active
};

using HaThreeInstances = testing::TwoClustersTest;

TEST_F(HaThreeInstances, KillNineTheActiveTwiceEveryStepPagesOnceAndOneInstanceIsActive) {
  faulty_store_ = tocsin::testing::TestStore::Create(store::Dialect::kPostgres);
  ASSERT_TRUE(faulty_store_);
  ASSERT_NO_FATAL_FAILURE(StartClusters(TOCSIN_PROVIDER_SIM, faulty_store_->url(), "kills",
                                        kLeaseSeconds, kLadder, {"a", "b", "c"}));
  const auto first = faulty_->Role("a");
  ASSERT_TRUE(first && first->role == "active");

  firing_ = {"BeforeKills"};
  std::vector<Kill> kills;
  std::string active = "a";
  std::int64_t epoch = first->epoch;
  // Pages every active of the run must have sent before it is killed: the first step 1, then
  // (the successor's own) step 2 of the first alert and step 1 of the alert raised at its
  // takeover.
  auto ready_to_kill = [&](const std::vector<Page>& pages) {
    if (kills.empty()) return Has(pages, "BeforeKills", 1);
    return Has(pages, "BeforeKills", 2) && Has(pages, "AfterKill1", 1);
  };
  auto ladders_done = [&](testing::HaCluster& c) {
    std::size_t n = 0;
    for (const auto& p : c.Pages()) n += p.step > 0;
    return n >= firing_.size() * kSteps;
  };
  auto next_push = SteadyClock::now();
  const auto give_up = SteadyClock::now() + 60s;
  bool done = false;
  while (!done && SteadyClock::now() < give_up) {
    if (SteadyClock::now() >= next_push) {
      PushFiring();
      next_push = SteadyClock::now() + 500ms;
    }
    Supervise();
    const auto pages = faulty_->Pages();
    const bool took_over = kills.empty() || !kills.back().successor.empty();
    if (took_over && kills.size() < 2 && ready_to_kill(pages) && NoStepDueSoon(pages, firing_) &&
        faulty_->StoredSent(active, pages.size())) {
      auto r = faulty_->Role(active);
      ASSERT_TRUE(r && r->role == "active" && r->epoch == epoch) << active << " is not active";
      ASSERT_TRUE(faulty_->instance(active).process->Signal(SIGKILL));
      kills.push_back(Kill{active, epoch, WallMs(), "", 0, 0});
      ++kills_;
      ASSERT_TRUE(faulty_->instance(active).process->Wait(5s).has_value());
    } else if (!took_over) {
      // Any instance may win the lease, the killed one started again included.
      for (const std::string& name : faulty_->Names()) {
        if (!faulty_->instance(name).process->running()) continue;
        if (auto r = faulty_->Role(name); r && r->role == "active" && r->epoch > epoch) {
          kills.back().successor = active = name;
          kills.back().new_epoch = epoch = r->epoch;
          kills.back().took_over_at_ms = WallMs();
          firing_.push_back("AfterKill" + std::to_string(kills.size()));
          break;
        }
      }
    } else if (kills.size() == 2) {
      done = ladders_done(*calm_) && ladders_done(*faulty_);
    }
    std::this_thread::sleep_for(50ms);  // the poll interval
  }
  const std::string both = "without faults:\n" + testing::Describe(calm_->Pages()) +
                           "with kills:\n" + testing::Describe(faulty_->Pages());
  ASSERT_EQ(kills.size(), 2u) << both;
  ASSERT_FALSE(kills.back().successor.empty()) << "nobody took over after the second kill";
  ASSERT_TRUE(done) << "the ladders did not finish:\n" << both;

  // Every killed instance is running again, and the cluster has exactly one active: the one
  // that took over last, none after it.
  std::map<std::string, testing::RoleView> roles;
  const bool settled = testing::WaitUntil(30s, [&] {
    PushFiring();
    Supervise();
    roles.clear();
    for (const std::string& name : faulty_->Names()) {
      if (!faulty_->instance(name).process->running()) return false;
      auto r = faulty_->Role(name);
      if (!r || r->epoch != epoch) return false;
      roles[name] = *r;
    }
    return true;
  });
  for (const auto& k : kills) {
    std::printf("killed %s (epoch %lld): %s active (epoch %lld) %.0f ms later\n", k.victim.c_str(),
                static_cast<long long>(k.epoch), k.successor.c_str(),
                static_cast<long long>(k.new_epoch), k.took_over_at_ms - k.at_ms);
  }
  ASSERT_TRUE(settled) << "not every instance runs and reports epoch " << epoch;
  int actives = 0;
  for (const auto& [name, r] : roles) {
    actives += r.role == "active";
    if (name != active) {
      EXPECT_EQ(r.role, "standby") << name;
    }
  }
  EXPECT_EQ(actives, 1);
  EXPECT_EQ(roles.at(active).role, "active");
  // Each killed process was started again (once per kill), nothing else exited.
  std::map<std::string, int> killed;
  for (const auto& k : kills) killed[k.victim]++;
  for (const std::string& name : faulty_->Names()) {
    EXPECT_EQ(faulty_->instance(name).lives, 1 + killed[name]) << name;
  }

  // Each takeover came under the next epoch, within lease + lease/3 (plus slack) of its kill.
  for (std::size_t k = 0; k < kills.size(); ++k) {
    EXPECT_EQ(kills[k].new_epoch, first->epoch + static_cast<std::int64_t>(k) + 1);
    EXPECT_LE(kills[k].took_over_at_ms - kills[k].at_ms,
              (kLeaseSeconds + kLeaseSeconds / 3.0) * 1000.0 + kSlackMs + 1000.0);
  }
  ExpectSamePagesEachOnce(firing_.size() * kSteps, "two kills of the active");
}

}  // namespace
}  // namespace tocsin::ha
