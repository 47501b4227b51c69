// The incident list's JSON over a real IncidentManager on the simulated clock: the delivery
// summaries are read from the timelines only for incidents that changed.
#include "panel/incident_views.h"

#include <gtest/gtest.h>

#include "incident/incident_test_support.h"

namespace tocsin::incident {
namespace {

using std::chrono::minutes;

// Regression: every listing read every open incident's timeline from the store, on the loop
// (and took each incident twice); a change reloaded the whole list.
TEST_F(IncidentTest, PanelListReadsATimelineOnlyWhenItsIncidentChanged) {
  Build();
  manager_->OnGroupFlush(Group("payments"), At(minutes(0)));
  manager_->OnGroupFlush(Group("", Severity::kCritical, true, "g2"), At(minutes(0)));
  panel::PagedCache cache;
  panel::ViewContext cached{*manager_, policies_, nullptr, At(minutes(1)), &cache};
  panel::ViewContext uncached{*manager_, policies_, nullptr, At(minutes(1))};
  auto first = panel::IncidentListJson(cached);
  ASSERT_TRUE(first);
  ASSERT_EQ((*first)["incidents"].size(), 2u);
  EXPECT_EQ(cache.reads(), 2u);
  auto again = panel::IncidentListJson(cached);
  ASSERT_TRUE(again);
  EXPECT_EQ(cache.reads(), 2u) << "nothing changed, yet a timeline was read";
  EXPECT_EQ(*again, *first);

  // INC-1 changes (acknowledged: its timeline grows): only its timeline is read again, and
  // the list says what a listing without the cache says.
  ASSERT_TRUE(manager_->Acknowledge("INC-1", "l1a", At(minutes(1))));
  auto after = panel::IncidentListJson(cached);
  ASSERT_TRUE(after);
  EXPECT_EQ(cache.reads(), 3u);
  EXPECT_EQ(*after, *panel::IncidentListJson(uncached));

  // Asked for one id, the answer has that incident alone; a resolved one is left out.
  std::set<std::string> only{"INC-2", "INC-9"};
  auto some = panel::IncidentListJson(cached, &only);
  ASSERT_TRUE(some);
  ASSERT_EQ((*some)["incidents"].size(), 1u);
  EXPECT_EQ((*some)["incidents"][0]["id"], "INC-2");
  EXPECT_EQ(cache.reads(), 3u);
}

}  // namespace
}  // namespace tocsin::incident
