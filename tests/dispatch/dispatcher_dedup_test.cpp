// What the dedup stage tells a group's receiver when alerts flap, recur after their resolve,
// or are muted after their page: a recurrence pages, a mute is not a resolve, a flap inside a
// firing group is not news.
#include <gtest/gtest.h>

#include "dispatch/dispatcher_fixture.h"
#include "fakes/memory_silence_store.h"
#include "tocsin/common/duration.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;
using dispatcher_fixture::DispatcherTest;
using dispatcher_fixture::Flush;

std::size_t FiringNotices(const std::vector<Flush>& flushes) {
  std::size_t n = 0;
  for (const auto& f : flushes) n += f.group.AllResolved() ? 0 : 1;
  return n;
}

// Flaps between two flushes (resolved, firing, resolved, firing inside one group_interval):
// no notice ever said it resolved, so nothing pages again until the repeat interval.
TEST_F(DispatcherTest, AFlapBetweenTwoFlushesDoesNotPageAgain) {
  Labels l{{"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}};
  Send({Firing(l)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  for (int i = 0; i < 4; ++i) {
    AdvanceTo(Duration(2min + i * 1min));
    Send({i % 2 == 0 ? Resolved(l) : Firing(l)});
  }
  AdvanceTo(3h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
  // Still firing at the repeat interval: a reminder is due.
  AdvanceTo(4h + 10min);
  EXPECT_EQ(FiringNotices(sink_.flushes), 2u);
}

// The bug: once a notice said BetSuccess resolved (its incident auto-resolved), the alert
// firing again and staying down counted as a flap of an alert announced within
// repeat_interval: nothing paged for nearly four hours. A recurrence still firing at the next
// flush pages (within reopen_window its incident reopens).
TEST_F(DispatcherTest, AnAlertFiringAgainAfterItsResolvedNoticePagesAtTheNextFlush) {
  Labels l{{"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}};
  Send({Firing(l)});
  AdvanceTo(2min);
  Send({Resolved(l)});
  AdvanceTo(6min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  ASSERT_TRUE(sink_.flushes[1].group.AllResolved());
  AdvanceTo(17min);
  Send({Firing(l)});
  AdvanceTo(17min + 29s);
  EXPECT_EQ(sink_.flushes.size(), 2u);  // group_wait, as for a new group
  AdvanceTo(17min + 30s);
  ASSERT_EQ(sink_.flushes.size(), 3u);
  EXPECT_FALSE(sink_.flushes[2].group.AllResolved());
  AdvanceTo(3h);
  EXPECT_EQ(sink_.flushes.size(), 3u);
}

// Inside a group that keeps firing, an alert that was announced within repeat_interval and
// fires again does not page again: its incident is open all along.
TEST_F(DispatcherTest, AFlappingAlertOfAFiringGroupDoesNotPageAgain) {
  Labels a{{"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}, {"pod", "a"}};
  Labels b{{"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}, {"pod", "b"}};
  Send({Firing(a), Firing(b)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  for (int i = 0; i < 4; ++i) {
    AdvanceTo(Duration(2min + i * 15min));
    Send({i % 2 == 0 ? Resolved(a) : Firing(a)});
  }
  AdvanceTo(3h);
  // The page, then the notice of the pod's first resolve (the group still fires); its flaps
  // after that are not news.
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_FALSE(sink_.flushes[1].group.AllResolved());
  EXPECT_EQ(sink_.flushes[1].at, 5min + 30s);
}

// The bug: a silence (or a maintenance window, or an inhibition) that began after the page
// emptied the group at its next flush, which read as "everything resolved": the incident
// auto-resolved, its provider alerts were resolved, and the alert, still firing, did not page
// again when the silence ended. Muted is not resolved: no notice while muted, none when it
// ends (the page stands), and "resolved" once the alert resolves.
TEST_F(DispatcherTest, ASilenceAfterThePageIsNotAResolve) {
  Labels l{{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}};
  Send({Firing(l)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  auto id = SilenceNow("service=\"login\"", 2h, "known: rollback running");
  ASSERT_TRUE(id);
  AdvanceTo(1h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
  ASSERT_TRUE(fakes::ExpireNow(silences_, *id, Now()));
  AdvanceTo(2h);
  EXPECT_EQ(sink_.flushes.size(), 1u);
  Send({Resolved(l)});
  AdvanceTo(2h + 10min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(sink_.flushes[1].group.AllResolved());
}

// The same for an inhibition that begins after the page: RegionDown in eu mutes the eu
// latency warning, which keeps its notice until it resolves.
TEST_F(DispatcherTest, AnInhibitionAfterThePageIsNotAResolve) {
  Labels latency{
      {"alertname", "Latency"}, {"service", "login"}, {"region", "eu"}, {"severity", "warning"}};
  Send({Firing(latency)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  Send({Firing({{"alertname", "RegionDown"}, {"region", "eu"}, {"severity", "critical"}})});
  AdvanceTo(1h);
  // Only RegionDown's own page came since.
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_EQ(sink_.flushes[1].group.group_labels.GetOr("alertname"), "RegionDown");
  Send({Resolved(latency)});
  AdvanceTo(1h + 10min);
  ASSERT_EQ(sink_.flushes.size(), 3u);
  EXPECT_TRUE(sink_.flushes[2].group.AllResolved());
  EXPECT_EQ(sink_.flushes[2].group.group_labels.GetOr("alertname"), "Latency");
}

// Review finding: a notice while one announced alert was muted (another alert of the group
// resolving) forgot the muted one; when the last unmuted alert resolved, the group said
// "everything resolved" (the incident resolved while the muted alert fired), and the end of
// the silence paged it again as a recurrence.
TEST_F(DispatcherTest, AnAlertMutedAfterThePageStaysAnnouncedThroughOtherNotices) {
  auto pod = [](const std::string& p) {
    return Labels{
        {"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}, {"pod", p}};
  };
  Send({Firing(pod("a")), Firing(pod("b")), Firing(pod("c"))});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  auto id = SilenceNow("pod=\"a\"", 2h, "pod a is being replaced");
  ASSERT_TRUE(id);
  Send({Resolved(pod("b"))});
  AdvanceTo(10min);
  ASSERT_EQ(sink_.flushes.size(), 2u);  // b resolved: told
  EXPECT_FALSE(sink_.flushes[1].group.AllResolved());
  Send({Resolved(pod("c"))});
  AdvanceTo(20min);
  EXPECT_EQ(sink_.flushes.size(), 2u) << "a still fires (muted): nothing resolved the group";
  ASSERT_TRUE(fakes::ExpireNow(silences_, *id, Now()));
  AdvanceTo(1h);
  EXPECT_EQ(sink_.flushes.size(), 2u) << "the silence ended: a's page stands, no new one";
  Send({Resolved(pod("a"))});
  AdvanceTo(1h + 10min);
  ASSERT_EQ(sink_.flushes.size(), 3u);
  EXPECT_TRUE(sink_.flushes[2].group.AllResolved());
}

// Review finding: tocsin's own rules forget a series once they hand its resolve to the
// dispatcher; a stop while that resolve waited for group_interval lost it for good, and its
// incident escalated on after the restart. A graceful stop flushes such groups first.
TEST_F(DispatcherTest, FlushResolvesTellsAResolveStillWaitingForItsGroupAtOnce) {
  Labels paged{{"alertname", "DepositErrors"}, {"service", "payments"}, {"severity", "critical"}};
  Labels other{{"alertname", "LoginErrors"}, {"service", "login"}, {"severity", "critical"}};
  Send({Firing(paged), Firing(other)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  Send({Resolved(paged)});
  dispatcher_->FlushResolves(Now());
  ASSERT_EQ(sink_.flushes.size(), 3u) << "told now, not at the next group_interval";
  EXPECT_TRUE(sink_.flushes[2].group.AllResolved());
  EXPECT_EQ(sink_.flushes[2].group.group_labels.GetOr("alertname"), "DepositErrors");
  // The group still firing holds no resolve: nothing to tell it, and its timer is unchanged.
  dispatcher_->FlushResolves(Now());
  EXPECT_EQ(sink_.flushes.size(), 3u);
  AdvanceTo(2h);
  EXPECT_EQ(sink_.flushes.size(), 3u) << "nothing else was due before repeat_interval";
}

// An alert muted from the start was never announced: it holds nothing open. Its group's
// paged alert resolving is told ("everything resolved" of what was announced), so the
// incident resolves instead of escalating for days behind a long silence.
TEST_F(DispatcherTest, AnAlertMutedFromTheStartDoesNotHoldTheResolveBack) {
  ASSERT_TRUE(SilenceNow("pod=\"noisy\"", 7 * 24h, "noisy pod, ticket OPS-12"));
  Labels paged{
      {"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}, {"pod", "a"}};
  Labels noisy{
      {"alertname", "BetSuccess"}, {"service", "bet"}, {"severity", "critical"}, {"pod", "noisy"}};
  Send({Firing(paged), Firing(noisy)});
  AdvanceTo(1min);
  ASSERT_EQ(sink_.flushes.size(), 1u);
  ASSERT_EQ(sink_.flushes[0].group.alerts.size(), 1u);
  Send({Resolved(paged)});
  AdvanceTo(10min);
  ASSERT_EQ(sink_.flushes.size(), 2u);
  EXPECT_TRUE(sink_.flushes[1].group.AllResolved());
}

}  // namespace
}  // namespace tocsin::dispatch
