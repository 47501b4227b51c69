// Memory stays flat while distinct alerts come and go: the incidents remembered for reopening
// after their resolve are forgotten once reopen_window has passed. Regression test for the map
// of recently resolved incidents that was never pruned (one entry per distinct group, forever).
#include <fmt/format.h>

#include <algorithm>

#include "incident/incident_test_support.h"
#include "support/sanitizer.h"

namespace tocsin::incident {
namespace {

TEST_F(IncidentTest, RecentlyResolvedIncidentsAreForgottenAfterTheReopenWindow) {
  Build();
  // Distinct groups, one every 10 s, each firing then resolved a minute later; the run spans
  // many reopen windows.
#if defined(TOCSIN_ASAN)
  // Every incident goes through the real SQLite store, several times slower under
  // AddressSanitizer; 3,000 groups (8 hours and 20 minutes) still span 16 reopen windows, and
  // a map that was never pruned would hold about three times what the bound below allows.
  constexpr int kGroups = 3000;
#else
  constexpr int kGroups = 20000;
#endif
  constexpr auto kStep = seconds(10);
  const std::size_t within_window = static_cast<std::size_t>(config_.reopen_window / kStep) + 1;
  std::size_t largest = 0;
  for (int i = 0; i < kGroups; ++i) {
    auto key = fmt::format("g{}", i);
    ASSERT_TRUE(manager_->Open(Group("payments", Severity::kCritical, true, key), "system",
                               scheduler_.clock().Now()));
    if (i >= 6) {
      // The group opened a minute ago resolves.
      auto old = fmt::format("g{}", i - 6);
      manager_->OnGroupFlush(Group("payments", Severity::kCritical, false, old),
                             scheduler_.clock().Now());
    }
    largest = std::max(largest, manager_->recent_resolved_count());
    scheduler_.AdvanceBy(kStep);
  }
  EXPECT_EQ(manager_->open_count(), 6u);
  // At most twice what one reopen window holds (the map is swept when it doubles).
  EXPECT_LE(largest, std::max<std::size_t>(2 * within_window, 1024) + 1)
      << "resolved incidents older than reopen_window are kept";
  EXPECT_GE(manager_->recent_resolved_count(), within_window - 6)
      << "an incident resolved within reopen_window must still reopen";

  // And one resolved within the window still reopens instead of opening a new incident.
  auto recent = fmt::format("g{}", kGroups - 10);
  auto reopened = manager_->Open(Group("payments", Severity::kCritical, true, recent), "system",
                                 scheduler_.clock().Now());
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->key, recent);
  auto kinds = Kinds(reopened->id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "reopened"), kinds.end());
}

}  // namespace
}  // namespace tocsin::incident
