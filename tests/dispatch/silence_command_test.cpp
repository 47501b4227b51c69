#include "tocsin/dispatch/silence_command.h"

#include <gtest/gtest.h>

#include <optional>

#include "fakes/memory_silence_store.h"

namespace tocsin::dispatch {
namespace {

const TimePoint kNow = FromUnixMillis(1795312391000);

// The answer, with a store that completes at once.
std::string Answer(Silences& silences, const std::vector<std::string>& words,
                   const std::string& actor, TimePoint now) {
  std::optional<std::string> answer;
  RunSilenceCommand(silences, words, actor, now, [&answer](std::string a) { answer = a; });
  EXPECT_TRUE(answer) << "no answer";
  return answer.value_or("");
}

TEST(SilenceCommandTest, CreatesASilenceForTheSlackUser) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  std::string answer =
      Answer(silences, {"2h", "service=payments-api", "psp=PSP-A", "--", "PSP-A", "maintenance"},
             "olena", kNow);
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

TEST(SilenceCommandTest, AnswersOnlyOnceTheSilenceIsDurable) {
  fakes::MemorySilenceStore store;
  store.hold = true;
  Silences silences(store);
  std::optional<std::string> answer;
  RunSilenceCommand(silences, {"1h", "service=payments-api"}, "olena", kNow,
                    [&answer](std::string a) { answer = a; });
  EXPECT_FALSE(answer) << "answered before the write was durable";
  EXPECT_TRUE(silences.MutedBy({{"service", "payments-api"}}, kNow).empty());
  store.Release();
  ASSERT_TRUE(answer);
  EXPECT_NE(answer->find("created for 1h by olena"), std::string::npos) << *answer;
  EXPECT_EQ(silences.MutedBy({{"service", "payments-api"}}, kNow).size(), 1u);
}

TEST(SilenceCommandTest, SaysWhatToFix) {
  fakes::MemorySilenceStore store;
  Silences silences(store);
  EXPECT_NE(Answer(silences, {}, "olena", kNow).find("Usage"), std::string::npos);
  EXPECT_NE(Answer(silences, {"soon", "a=b"}, "olena", kNow).find("how long"), std::string::npos);
  EXPECT_NE(Answer(silences, {"1h", "a~b"}, "olena", kNow).find("Matcher \"a~b\""),
            std::string::npos);
  // A matcher that matches everything is refused, as Alertmanager refuses it.
  EXPECT_NE(Answer(silences, {"1h", "a=~\".*\""}, "olena", kNow).find("Silence not created"),
            std::string::npos);
  auto loaded = store.LoadAll();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->empty());
}

}  // namespace
}  // namespace tocsin::dispatch
