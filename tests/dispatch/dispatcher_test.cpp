// The pipeline on the simulated clock: timelines of group_wait, group_interval and
// repeat_interval, inhibition, silences, maintenance windows and reload, without sleeping.
#include "tocsin/dispatch/dispatcher.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "dispatch/dispatch_test_util.h"
#include "dispatch/dispatcher_fixture.h"
#include "fakes/memory_silence_store.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;
using dispatcher_fixture::DispatcherTest;
using dispatcher_fixture::Flush;
using dispatcher_fixture::kConfig;
using dispatcher_fixture::RecordingSink;
using dispatcher_fixture::T0;

TEST_F(DispatcherTest, AStormOf500SeriesBecomesOnePageAfterGroupWait) {
  for (int i = 0; i < 500; ++i) {
    Send({Firing({{"alertname", "DepositErrors"},
                  {"service", "deposit"},
                  {"severity", "critical"},
                  {"instance", "pod-" + std::to_string(i)}})});
    if (i % 100 == 99) AdvanceTo(Duration((i / 100 + 1) * 2s));
  }
  AdvanceTo(29s);
  EXPECT_TRUE(sink_.flushes.empty());
  AdvanceTo(30s);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  const auto& g = sink_.flushes[0].group;
  EXPECT_EQ(sink_.flushes[0].at, 30s);
  EXPECT_EQ(g.alerts.size(), 500u);
  EXPECT_EQ(g.receiver.name, "oncall");
  EXPECT_EQ(g.receiver.escalation_policy, "default");
  EXPECT_EQ(g.group_labels, (Labels{{"alertname", "DepositErrors"}, {"service", "deposit"}}));
}

TEST_F(DispatcherTest, NothingNewIsNotRepeatedBeforeRepeatInterval) {
  Send({Firing({{"alertname", "LoginErrors"}, {"service", "login"}})});
  AdvanceTo(3h);
  ASSERT_EQ(sink_.flushes.size(), 1u);  // at 30s only; the 5m flushes had nothing new
  AdvanceTo(4h + 30s);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].at, 4h + 30s);  // the first group_interval tick after 4h
}

TEST_F(DispatcherTest, NewAlertInAKnownGroupWaitsForGroupInterval) {
  Send({Firing({{"alertname", "WsRtt"}, {"service", "ws"}, {"region", "eu"}})});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  Send({Firing({{"alertname", "WsRtt"}, {"service", "ws"}, {"region", "apac"}})});
  AdvanceTo(5min + 29s);
  EXPECT_EQ(sink_.flushes.size(), 1u);
  AdvanceTo(5min + 30s);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].group.alerts.size(), 2u);
}

// Then the sweep drops the group, quiet for repeat_interval; the dispatcher's index of groups
// by hash must forget it too (ASan reports the dangling entry if it does not), and the
// group's labels coming back make a new group that waits group_wait like any new one.
TEST_F(DispatcherTest, ResolutionIsToldOnceThenTheGroupIsQuietUntilItsAlertsComeBack) {
  Labels l{{"alertname", "GameLaunch"}, {"service", "games"}};
  Send({Firing(l)});
  AdvanceTo(1min);
  Send({Resolved(l)});
  AdvanceTo(5min + 30s);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(sink_.flushes[1].group.AllResolved());
  AdvanceTo(10h);
  EXPECT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(dispatcher_->Groups().empty());
  EXPECT_EQ(dispatcher_->group_count(), 0u);

  Send({Firing(l)});
  EXPECT_EQ(dispatcher_->group_count(), 1u);
  AdvanceTo(10h + 29s);
  EXPECT_EQ(sink_.flushes.size(), 2u);
  AdvanceTo(10h + 30s);
  ASSERT_EQ(sink_.flushes.size(), 3u);
  EXPECT_EQ(sink_.flushes[2].group.alerts.size(), 1u);
  EXPECT_FALSE(sink_.flushes[2].group.AllResolved());
  ASSERT_EQ(dispatcher_->Groups().size(), 1u);
  EXPECT_EQ(dispatcher_->Groups()[0].labels, l);
}

TEST_F(DispatcherTest, AlertWhoseEndsAtPassesResolvesWithoutBeingResent) {
  Send({Firing({{"alertname", "Pushed"}, {"service", "kyc"}}, 5min)});
  AdvanceTo(5min + 30s);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(sink_.flushes[1].group.AllResolved());
}

TEST_F(DispatcherTest, ConfiguredInhibitionMutesTargetsInTheSameRegionOnly) {
  Send({Firing({{"alertname", "RegionDown"}, {"region", "eu"}, {"severity", "critical"}}),
        Firing({{"alertname", "Latency"},
                {"service", "login"},
                {"region", "eu"},
                {"severity", "warning"}}),
        Firing({{"alertname", "Latency"},
                {"service", "bet"},
                {"region", "apac"},
                {"severity", "warning"}})});
  AdvanceTo(30s);
  std::vector<std::string> notified;
  for (const auto& f : sink_.flushes) {
    for (const auto& a : f.group.alerts) notified.push_back(a.labels.ToString());
  }
  std::sort(notified.begin(), notified.end());
  ASSERT_EQ(notified.size(), 2u) << ::testing::PrintToString(notified);
  // Sorted: {alertname="Latency", ... region="apac"} before {alertname="RegionDown", ...}.
  EXPECT_NE(notified[0].find("apac"), std::string::npos);
  EXPECT_NE(notified[1].find("RegionDown"), std::string::npos);
  auto status = dispatcher_->StatusOf(
      {{"alertname", "Latency"}, {"service", "login"}, {"region", "eu"}, {"severity", "warning"}},
      Now());
  ASSERT_EQ(status.inhibited_by.size(), 1u);
  EXPECT_EQ(status.inhibited_by[0],
            Labels({{"alertname", "RegionDown"}, {"region", "eu"}, {"severity", "critical"}})
                .fingerprint()
                .ToString());
  EXPECT_NE(Metrics().find("tocsin_dispatch_alerts_inhibited_total 1"), std::string::npos)
      << Metrics();
}

TEST_F(DispatcherTest, CauseRidesInTheSymptomsPageWithoutConfiguration) {
  Labels symptom{{"alertname", "DepositSuccessLow"},
                 {"service", "deposit"},
                 {"region", "eu"},
                 {"kind", "symptom"},
                 {"severity", "critical"}};
  Labels cause{{"alertname", "PspTimeout"},
               {"service", "deposit"},
               {"region", "eu"},
               {"kind", "cause"},
               {"severity", "warning"}};
  Labels other_region_cause{{"alertname", "QueueLag"},
                            {"service", "deposit"},
                            {"region", "apac"},
                            {"kind", "cause"},
                            {"severity", "warning"}};
  Send({Firing(symptom), Firing(cause), Firing(other_region_cause)});
  AdvanceTo(30s);
  const AlertGroup* page = nullptr;
  std::vector<std::string> alone;
  for (const auto& f : sink_.flushes) {
    if (f.group.receiver.name == "oncall") page = &f.group;
    for (const auto& a : f.group.alerts) alone.push_back(std::string(a.Name()));
  }
  ASSERT_NE(page, nullptr);
  ASSERT_EQ(page->causes.size(), 1u);
  EXPECT_EQ(page->causes[0].labels, cause);
  // The eu cause does not notify on its own; the apac one (no symptom there) goes to Slack.
  EXPECT_EQ(std::count(alone.begin(), alone.end(), "PspTimeout"), 0);
  EXPECT_EQ(std::count(alone.begin(), alone.end(), "QueueLag"), 1);
}

// The causes come out of a hash table; the page lists them by their labels, the same way on
// every flush and after every restart.
TEST_F(DispatcherTest, CausesRideInTheOrderOfTheirLabels) {
  Labels symptom{{"alertname", "DepositSuccessLow"},
                 {"service", "deposit"},
                 {"region", "eu"},
                 {"kind", "symptom"},
                 {"severity", "critical"}};
  std::vector<Alert> alerts{Firing(symptom)};
  for (const char* name : {"QueueLag", "PspTimeout", "DbSlow", "TlsErrors", "CacheMiss", "Dns"}) {
    alerts.push_back(Firing({{"alertname", name},
                             {"service", "deposit"},
                             {"region", "eu"},
                             {"kind", "cause"},
                             {"severity", "warning"}}));
  }
  Send(alerts);
  AdvanceTo(30s);
  const AlertGroup* page = nullptr;
  for (const auto& f : sink_.flushes) {
    if (f.group.receiver.name == "oncall") page = &f.group;
  }
  ASSERT_NE(page, nullptr);
  std::vector<std::string> names;
  for (const auto& c : page->causes) names.push_back(std::string(c.Name()));
  EXPECT_EQ(names, (std::vector<std::string>{"CacheMiss", "DbSlow", "Dns", "PspTimeout", "QueueLag",
                                             "TlsErrors"}));
}

TEST_F(DispatcherTest, CauseAloneGoesToSlackAndSymptomLaterPicksItUp) {
  Labels cause{{"alertname", "DbConnSaturation"},
               {"service", "wallet"},
               {"region", "eu"},
               {"kind", "cause"}};
  Send({Firing(cause)});
  AdvanceTo(30s);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  EXPECT_EQ(sink_.flushes[0].group.receiver.name, "slack");
  Send({Firing({{"alertname", "WalletErrors"},
                {"service", "wallet"},
                {"region", "eu"},
                {"kind", "symptom"},
                {"severity", "critical"}})});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].group.receiver.name, "oncall");
  ASSERT_EQ(sink_.flushes[1].group.causes.size(), 1u);
  EXPECT_EQ(sink_.flushes[1].group.causes[0].labels, cause);
}

TEST_F(DispatcherTest, SilenceMutesAtFlushAndExpiringItLetsThePageThrough) {
  auto id = SilenceNow("service=\"login\"", 2h, "login deploy");
  ASSERT_TRUE(id);
  Send({Firing({{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}})});
  AdvanceTo(30min);
  EXPECT_TRUE(sink_.flushes.empty());
  EXPECT_EQ(dispatcher_->StatusOf({{"service", "login"}}, Now()).silenced_by,
            std::vector<std::string>{*id});
  ASSERT_TRUE(fakes::ExpireNow(silences_, *id, Now()));
  AdvanceTo(35min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  EXPECT_EQ(sink_.flushes[0].at, 30min + 30s);
  EXPECT_NE(Metrics().find("tocsin_dispatch_alerts_silenced_total{by=\"silence\"} 6"),
            std::string::npos)
      << Metrics();
}

TEST_F(DispatcherTest, MaintenanceWindowMutesOnlyInsideTheWindow) {
  // 2026-11-17 is a Tuesday; 02:00-03:00 Kyiv (EET, UTC+2) is 00:00-01:00 UTC: T0 is inside.
  Labels psp_a{{"alertname", "PspErrors"}, {"service", "deposit"}, {"psp", "A"}};
  Labels psp_b{{"alertname", "PspErrors"}, {"service", "deposit"}, {"psp", "B"}};
  Send({Firing(psp_a), Firing(psp_b, 24h)});
  AdvanceTo(30s);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  ASSERT_EQ(sink_.flushes[0].group.alerts.size(), 1u);
  EXPECT_EQ(sink_.flushes[0].group.alerts[0].labels, psp_b);
  EXPECT_EQ(dispatcher_->StatusOf(psp_a, Now()).muted_by, std::vector<std::string>{"psp-a-weekly"});
  AdvanceTo(1h + 1min);  // window closed at 01:00 UTC; next group tick pages PSP-A
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].group.alerts.size(), 2u);
}

TEST_F(DispatcherTest, ReloadKeepsGroupsSoNothingPagesTwice) {
  Send({Firing({{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}})});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  dispatcher_->ApplyConfig(testutil::LoadOrDie(kConfig));
  AdvanceTo(2h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
  ASSERT_EQ(dispatcher_->Groups().size(), 1u);
  // A reload that moves critical alerts to another receiver starts a new group for it.
  std::string moved = kConfig;
  moved.replace(moved.find("receiver: oncall"), 16, "receiver: slack ");
  dispatcher_->ApplyConfig(testutil::LoadOrDie(moved));
  AdvanceTo(2h + 1min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].group.receiver.name, "slack");
}

// The receivers listed with each alert (GET /api/v2/alerts) follow a reload, for alerts sent
// before it and after it, and for alerts that take a route one after another (the dispatcher
// keeps its last answer while a burst takes the same route).
TEST_F(DispatcherTest, ListedReceiversFollowAReload) {
  auto receivers_of = [&](const std::string& name) {
    std::vector<std::string> out;
    dispatcher_->ForEachActiveAlert(
        Now(), [&](Fingerprint, const StoredAlert& a, const std::vector<std::string>& receivers) {
          if (a.labels().GetOr("alertname") == name) out = receivers;
        });
    return out;
  };
  using Names = std::vector<std::string>;
  Send({Firing({{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}}),
        Firing({{"alertname", "GameLag"}, {"service", "games"}, {"severity", "warning"}}),
        Firing({{"alertname", "DepositErrors"}, {"service", "psp"}, {"severity", "critical"}})});
  EXPECT_EQ(receivers_of("LoginErrors"), Names{"oncall"});
  EXPECT_EQ(receivers_of("GameLag"), Names{"slack"});
  EXPECT_EQ(receivers_of("DepositErrors"), Names{"oncall"});
  std::string moved = kConfig;
  moved.replace(moved.find("receiver: oncall"), 16, "receiver: slack ");
  dispatcher_->ApplyConfig(testutil::LoadOrDie(moved));
  Send({Firing({{"alertname", "BetErrors"}, {"service", "bets"}, {"severity", "critical"}})});
  EXPECT_EQ(receivers_of("LoginErrors"), Names{"slack"});
  EXPECT_EQ(receivers_of("DepositErrors"), Names{"slack"});
  EXPECT_EQ(receivers_of("BetErrors"), Names{"slack"});
  dispatcher_->ApplyConfig(testutil::LoadOrDie(kConfig));
  Send({Firing({{"alertname", "SpinErrors"}, {"service", "games"}, {"severity", "critical"}})});
  EXPECT_EQ(receivers_of("BetErrors"), Names{"oncall"});
  EXPECT_EQ(receivers_of("SpinErrors"), Names{"oncall"});
  EXPECT_EQ(receivers_of("GameLag"), Names{"slack"});
}

TEST_F(DispatcherTest, PendingAlertsFromTheRulesEngineDoNotPage) {
  Alert pending = Firing({{"alertname", "LoginErrors"}, {"service", "login"}});
  pending.state = AlertState::kPending;
  Send({pending});
  AdvanceTo(1h);
  EXPECT_TRUE(sink_.flushes.empty());
  EXPECT_TRUE(dispatcher_->Groups().empty());
  // Once it fires, it pages after group_wait.
  Alert firing = Firing({{"alertname", "LoginErrors"}, {"service", "login"}});
  Send({firing});
  AdvanceTo(1h + 30s);
  EXPECT_EQ(sink_.flushes.size(), 1u);
}

TEST_F(DispatcherTest, MetricsCountReceivedDeduplicatedGroupedNotified) {
  Labels l{{"alertname", "X"}, {"service", "s"}};
  Send({Firing(l)});
  Send({Firing(l)});
  AdvanceTo(30s);
  auto m = Metrics();
  EXPECT_NE(m.find("tocsin_dispatch_alerts_received_total 2"), std::string::npos) << m;
  EXPECT_NE(m.find("tocsin_dispatch_alerts_deduplicated_total 1"), std::string::npos) << m;
  EXPECT_NE(m.find("tocsin_dispatch_alerts_grouped_total 1"), std::string::npos) << m;
  EXPECT_NE(m.find("tocsin_dispatch_notifications_total 1"), std::string::npos) << m;
}

}  // namespace
}  // namespace tocsin::dispatch
