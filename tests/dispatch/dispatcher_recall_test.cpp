// After a restart the dispatcher knows nothing, and a resolved alert it has not seen firing is
// dropped: the alerts open incidents announced are recalled (Dispatcher::Recall), so that their
// resolves are told, without paging anyone again.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "dispatch/dispatcher_fixture.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;
using dispatcher_fixture::DispatcherTest;

const Labels kDeposit{
    {"alertname", "DepositErrors"}, {"service", "payments"}, {"severity", "critical"}};
const Labels kLogin{{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}};

class DispatcherRecallTest : public DispatcherTest {
 protected:
  explicit DispatcherRecallTest(const char* yaml = dispatcher_fixture::kConfig)
      : DispatcherTest(yaml) {}
  // As an open incident keeps an alert: fired two hours ago, its last endsAt `ends_in` from now
  // (negative: passed while tocsin was down).
  Alert Announced(const Labels& labels, Duration ends_in) {
    Alert a;
    a.labels = labels;
    a.starts_at = Now() - 2h;
    a.ends_at = Now() + ends_in;
    return a;
  }
  // The key of the group the fixture's routes put `labels` in, as a dispatcher of its own
  // names it (what an incident keeps).
  std::string KeyOf(const Labels& labels, const std::string& receiver = "oncall") {
    SimulatedScheduler scheduler(Now());
    dispatcher_fixture::RecordingSink sink(Now());
    prometheus::Registry registry;
    Dispatcher d(scheduler, sink, silences_, registry, config_);
    Alert a;
    a.labels = labels;
    d.OnAlerts({a}, Now());
    for (const auto& g : d.Groups()) {
      if (g.receiver == receiver) return g.key;
    }
    return "";
  }
  // Each alert as the only one of its own open incident.
  std::size_t Recall(std::vector<Alert> alerts, TimePoint until) {
    kept_.clear();
    for (auto& a : alerts) {
      std::string key = KeyOf(a.labels);
      kept_.push_back({std::move(key), {std::move(a)}});
    }
    return RecallKept(until);
  }
  std::size_t RecallKept(TimePoint until) {
    std::vector<Dispatcher::RecalledGroup> groups;
    for (const auto& k : kept_) groups.push_back({&k.key, &k.alerts});
    return dispatcher_->Recall(groups, until, Now()).alerts;
  }
  // What the open incidents keep: their keys and alerts.
  struct Kept {
    std::string key;
    std::vector<Alert> alerts;
  };
  std::vector<Kept> kept_;
};

// Review finding: a kill -9 (or an outage) lost the resolve of an incident whose alert resolved
// before its source sent it again: Prometheus re-sends the resolve, which was dropped as unknown.
TEST_F(DispatcherRecallTest, AResolveReceivedAfterARestartIsTold) {
  ASSERT_EQ(Recall({Announced(kDeposit, -10min), Announced(kLogin, 1h)}, Now() + 5min), 2u);
  AdvanceTo(1min);
  EXPECT_TRUE(sink_.flushes.empty()) << "announced before the restart: nobody is told again";
  Send({Resolved(kDeposit)});
  AdvanceTo(5min + 1s);
  ASSERT_EQ(sink_.flushes.size(), 1u) << "told at the group's next flush";
  EXPECT_TRUE(sink_.flushes[0].group.AllResolved());
  EXPECT_EQ(sink_.flushes[0].group.group_labels.GetOr("alertname"), "DepositErrors");
  EXPECT_EQ(sink_.flushes[0].group.receiver.name, "oncall");
  // The other one, sent again firing by its source, is no news.
  Send({Firing(kLogin)});
  AdvanceTo(3h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
}

// GET /api/v1/groups said a recalled group was notified at the restart, a notice that never
// happened: it says "recalled" and no last notice until something is told.
TEST_F(DispatcherRecallTest, TheGroupsListingSaysRecalledUntilSomethingIsTold) {
  const Labels b = kDeposit.With("instance", "b");
  ASSERT_EQ(Recall({Announced(kDeposit, 1h), Announced(b, 1h)}, Now() + 5min), 2u);
  auto groups = dispatcher_->Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(groups[0].recalled);
  EXPECT_FALSE(groups[0].last_notified.has_value());
  Send({Resolved(kDeposit)});
  AdvanceTo(5min + 1s);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  groups = dispatcher_->Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_FALSE(groups[0].recalled);
  ASSERT_TRUE(groups[0].last_notified.has_value());
  EXPECT_EQ(*groups[0].last_notified, T0() + 5min);
}

// tocsin's own rules forget a series once they hand its resolve over: after a kill -9 nothing
// ever sends it again. Nothing sent again within `until` is resolved, as an alert whose endsAt
// passed; one its source keeps sending stays firing.
TEST_F(DispatcherRecallTest, AnAlertNothingSendsAgainResolvesAfterTheWait) {
  ASSERT_EQ(Recall({Announced(kDeposit, -1min), Announced(kLogin, -1min)}, Now() + 6min), 2u);
  for (int minute = 1; minute <= 11; ++minute) {
    AdvanceTo(std::chrono::minutes(minute));
    Send({Firing(kLogin, 4min)});
  }
  ASSERT_EQ(sink_.flushes.size(), 1u) << "at the first flush past the wait (10 min)";
  EXPECT_EQ(sink_.flushes[0].at, 10min);
  EXPECT_TRUE(sink_.flushes[0].group.AllResolved());
  EXPECT_EQ(sink_.flushes[0].group.group_labels.GetOr("alertname"), "DepositErrors");
}

TEST_F(DispatcherRecallTest, AlertsHeardOfSinceTheStartOrNotFiringAreNotRecalled) {
  Send({Firing(kLogin)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  Alert resolved = Announced(kDeposit, -1h);
  resolved.state = AlertState::kResolved;
  EXPECT_EQ(Recall({Announced(kLogin, -1h), resolved}, Now() + 5min), 0u);
  EXPECT_EQ(dispatcher_->alert_count(), 1u);
  // Not recalled, the resolved one's resolve is dropped as before: it pages nobody.
  Send({Resolved(kDeposit)});
  AdvanceTo(2h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
}

// A recalled alert that starts firing again after its resolve is a recurrence: it pages.
TEST_F(DispatcherRecallTest, ARecalledAlertThatFiresAgainAfterItsResolvePages) {
  ASSERT_EQ(Recall({Announced(kDeposit, 1h)}, Now() + 5min), 1u);
  Send({Resolved(kDeposit)});
  AdvanceTo(5min + 1s);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  ASSERT_TRUE(sink_.flushes[0].group.AllResolved());
  Send({Firing(kDeposit)});
  AdvanceTo(11min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_FALSE(sink_.flushes[1].group.AllResolved());
}

// Review finding: an alert the routes no longer group under its incident's key (the config
// changed while tocsin was down) joined groups nobody announced as if they had been told.
TEST_F(DispatcherRecallTest, AnAlertGroupedUnderAnotherKeyNowIsNotRecalled) {
  // Its incident was opened by the root route (the critical route came later): that route's
  // key, which the critical route's alert no longer gets.
  kept_.push_back(
      {KeyOf(kDeposit.With("severity", "warning"), "slack"), {Announced(kDeposit, 1h)}});
  ASSERT_FALSE(kept_[0].key.empty());
  EXPECT_EQ(RecallKept(Now() + 5min), 0u);
  EXPECT_EQ(dispatcher_->alert_count(), 0u);
  Send({Firing(kDeposit)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u) << "a new group, announced as new";
  EXPECT_FALSE(sink_.flushes[0].group.AllResolved());
}

// An incident keeps only the alerts not muted at its last change. Its group announced A, A was
// silenced, C joined: the incident kept {C}. After a restart A joins as a new alert, muted, so
// C's resolve is "everything resolved", as Alertmanager (which sends what is not muted) tells
// it; the end of A's silence pages A as new. docs/routing.md says so.
TEST_F(DispatcherRecallTest, AnAlertSilencedAfterItsPageJoinsARecalledGroupAsNew) {
  const Labels a = kDeposit.With("instance", "psp-a");
  const Labels c = kDeposit.With("instance", "psp-c");
  ASSERT_TRUE(SilenceNow(R"(instance="psp-a")", 2h, "PSP-A maintenance"));
  ASSERT_EQ(Recall({Announced(c, 1h)}, Now() + 10min), 1u);
  Send({Firing(a, 4h)});  // Prometheus sends it again, under its silence
  Send({Resolved(c)});
  AdvanceTo(1h);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  EXPECT_TRUE(sink_.flushes[0].group.AllResolved());
  AdvanceTo(2h + 6min);
  ASSERT_EQ(sink_.flushes.size(), 2u) << "the silence ended";
  EXPECT_FALSE(sink_.flushes[1].group.AllResolved());
}

// A group the dispatcher already has (a promoted standby's: it has been receiving all along)
// keeps what it knows; its incident's alerts are not recalled over it.
TEST_F(DispatcherRecallTest, AGroupTheDispatcherHasIsNotRecalled) {
  Send({Firing(kDeposit)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  Send({Resolved(kDeposit)});  // told at the group's next flush
  const Labels other = kDeposit.With("instance", "psp-b");
  EXPECT_EQ(Recall({Announced(other, 1h)}, Now() + 5min), 0u);
  AdvanceTo(6min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(sink_.flushes[1].group.AllResolved()) << "the recall held nothing open";
}

// A source that promised an endsAt still ahead keeps it; one whose endsAt passed while tocsin
// was down is given its length again from now.
TEST_F(DispatcherRecallTest, AnEndsAtStillAheadIsKeptAndOneThatPassedCountsAgain) {
  Alert ahead = Announced(kDeposit, 20min);
  ahead.updated_at = Now() - 3h;  // promised 3h20m: not 3h20m more
  Alert passed = Announced(kLogin, -1min);
  passed.updated_at = Now() - 1min - 30min;  // promised 30 min, which passed while down
  ASSERT_EQ(Recall({ahead, passed}, Now() + 5min), 2u);
  AdvanceTo(26min);
  ASSERT_EQ(sink_.flushes.size(), 1u) << "at its endsAt (20 min, a flush)";
  EXPECT_EQ(sink_.flushes[0].at, 20min);
  EXPECT_EQ(sink_.flushes[0].group.group_labels.GetOr("alertname"), "DepositErrors");
  AdvanceTo(40min);
  ASSERT_EQ(sink_.flushes.size(), 2u) << "30 min from the restart";
  EXPECT_EQ(sink_.flushes[1].at, 30min);
  EXPECT_EQ(sink_.flushes[1].group.group_labels.GetOr("alertname"), "LoginErrors");
}

// The fixture's routes, the critical one with `continue: true` and a route of the payments
// team's channel after it.
std::string ContinueConfig() {
  std::string yaml = dispatcher_fixture::kConfig;
  auto after = [&](const std::string& line, const std::string& added) {
    yaml.insert(yaml.find(line) + line.size(), added);
  };
  after("      receiver: oncall\n",
        "      continue: true\n"
        "    - matchers: ['service=\"payments\"']\n"
        "      receiver: payments-slack\n");
  after("  - {name: oncall, escalation_policy: default}\n",
        "  - {name: payments-slack, slack: [{channel: \"#payments\"}]}\n");
  return yaml;
}
const std::string kContinueConfig = ContinueConfig();

class DispatcherRecallContinueTest : public DispatcherRecallTest {
 protected:
  DispatcherRecallContinueTest() : DispatcherRecallTest(kContinueConfig.c_str()) {}
};

// Review finding: a recalled alert joined its `continue` routes' groups as new, and they
// flushed at once: #payments got a "firing" post at every restart, for an alert that may have
// resolved while tocsin was down. It joins them once its source sends it firing again.
TEST_F(DispatcherRecallContinueTest, OtherRoutesTakeARecalledAlertOnlyWhenItsSourceSendsItAgain) {
  ASSERT_EQ(Recall({Announced(kDeposit, 1h), Announced(kDeposit.With("instance", "b"), 1h)},
                   Now() + 5min),
            2u);
  AdvanceTo(4min);
  EXPECT_TRUE(sink_.flushes.empty()) << "nobody is told of a recalled alert";
  Send({Resolved(kDeposit.With("instance", "b"))});
  Send({Firing(kDeposit)});  // still firing: Prometheus sends it again
  AdvanceTo(30min);
  // #payments at once (it started two hours ago, as after any restart), on-call at its flush.
  std::vector<std::string> told;
  for (const auto& f : sink_.flushes) {
    const auto firing = std::count_if(f.group.alerts.begin(), f.group.alerts.end(),
                                      [](const Alert& a) { return a.firing(); });
    told.push_back(
        fmt::format("{} {} {} firing", FormatDuration(f.at), f.group.receiver.name, firing));
  }
  EXPECT_EQ(told, (std::vector<std::string>{"4m payments-slack 1 firing", "5m oncall 1 firing"}));
}

// Review finding: a reload between the restart and the source's next send, which groups the
// alert under another key for its receiver: the send joined that receiver's new group too (a
// second incident, and a page), where the reload's re-routing keeps an alert its receiver
// holds out of its other groups.
TEST_F(DispatcherRecallContinueTest, AReloadBeforeTheSourceSendsAgainOpensNoSecondGroup) {
  ASSERT_EQ(Recall({Announced(kDeposit, 1h)}, Now() + 5min), 1u);
  std::string regrouped = kContinueConfig;
  const std::string by = "      receiver: oncall\n";
  regrouped.replace(regrouped.find(by), by.size(), by + "      group_by: [alertname]\n");
  dispatcher_->ApplyConfig(testutil::LoadOrDie(regrouped));
  AdvanceTo(1min);
  Send({Firing(kDeposit)});
  AdvanceTo(30min);
  std::vector<std::string> told;
  for (const auto& f : sink_.flushes) {
    told.push_back(fmt::format("{} {}", FormatDuration(f.at), f.group.receiver.name));
  }
  EXPECT_EQ(told, (std::vector<std::string>{"1m payments-slack"}))
      << "on-call keeps the alert in the group it was announced in";
}

}  // namespace
}  // namespace tocsin::dispatch
