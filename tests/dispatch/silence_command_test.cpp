#include "tocsin/dispatch/silence_command.h"

#include <gtest/gtest.h>

#include "fakes/memory_silence_store.h"

namespace tocsin::dispatch {
namespace {

const TimePoint kNow = FromUnixMillis(1795312391000);

TEST(SilenceCommandTest, CreatesASilenceForTheSlackUser) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  std::string answer = RunSilenceCommand(
      silences, {"2h", "service=payments-api", "psp=PSP-A", "--", "PSP-A", "maintenance"}, "olena",
      kNow);
  EXPECT_NE(answer.find("created for 2h by olena"), std::string::npos) << answer;
  Labels muted{{"service", "payments-api"}, {"psp", "PSP-A"}, {"alertname", "X"}};
  EXPECT_EQ(silences.MutedBy(muted, kNow + std::chrono::minutes(119)).size(), 1u);
  EXPECT_TRUE(silences.MutedBy(muted, kNow + std::chrono::minutes(121)).empty());
  EXPECT_TRUE(silences.MutedBy(muted.With("psp", "PSP-B"), kNow).empty());
  auto loaded = store.LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].comment, "PSP-A maintenance");
  EXPECT_EQ((*loaded)[0].created_by, "olena");
}

TEST(SilenceCommandTest, SaysWhatToFix) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  EXPECT_NE(RunSilenceCommand(silences, {}, "olena", kNow).find("Usage"), std::string::npos);
  EXPECT_NE(RunSilenceCommand(silences, {"soon", "a=b"}, "olena", kNow).find("how long"),
            std::string::npos);
  EXPECT_NE(RunSilenceCommand(silences, {"1h", "a~b"}, "olena", kNow).find("Matcher \"a~b\""),
            std::string::npos);
  // A matcher that matches everything is refused, as Alertmanager refuses it.
  EXPECT_NE(
      RunSilenceCommand(silences, {"1h", "a=~\".*\""}, "olena", kNow).find("Silence not created"),
      std::string::npos);
  auto loaded = store.LoadAll();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->empty());
}

}  // namespace
}  // namespace tocsin::dispatch
