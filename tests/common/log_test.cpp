#include "tocsin/common/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace tocsin {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { log::ClearSecrets(); }
  void TearDown() override {
    log::ClearSecrets();
    log::Setup(log::Format::kText, spdlog::level::info);
  }
  std::vector<std::string> lines_;
  log::Writer Capture() {
    return [this](std::string_view l) { lines_.emplace_back(l); };
  }
};

TEST_F(LogTest, RegisteredSecretNeverReachesALine) {
  log::Setup(log::Format::kText, spdlog::level::info, Capture());
  log::AddSecret("R0UT1NGKEY-abcdef0123456789");
  spdlog::info("sending with key {} to {}", "R0UT1NGKEY-abcdef0123456789", "pagerduty");
  spdlog::error("failure: https://user:R0UT1NGKEY-abcdef0123456789@example.com");
  ASSERT_EQ(lines_.size(), 2u);
  for (const auto& l : lines_) {
    EXPECT_EQ(l.find("R0UT1NGKEY"), std::string::npos) << l;
    EXPECT_NE(l.find("<redacted>"), std::string::npos) << l;
  }
}

TEST_F(LogTest, LongerSecretRedactedWholeWhenItContainsAShorterOne) {
  log::AddSecret("abcd");
  log::AddSecret("abcdefgh");
  EXPECT_EQ(log::Redact("x abcdefgh y abcd"), "x <redacted> y <redacted>");
}

TEST_F(LogTest, ShortValuesAreNotTreatedAsSecrets) {
  log::AddSecret("abc");
  EXPECT_EQ(log::Redact("abc"), "abc");
}

// An alert's annotation with a newline made a line of its own that read as another record; a
// NUL reached the log raw. Each record is one line, its control characters escaped.
TEST_F(LogTest, ATextRecordIsOneLineWhateverItsMessageHolds) {
  log::Setup(log::Format::kText, spdlog::level::info, /*journald=*/false,
             [this](std::string_view l) { lines_.emplace_back(l); });
  using namespace std::string_literals;
  spdlog::info("incident INC-1 opened ({})",
               "hi\n2026-12-07T00:00:00.000Z error FORGED\r\0x\x1b[0m\tend"s);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('\n'), std::string::npos);
  EXPECT_NE(lines_[0].find("(hi\\n2026-12-07T00:00:00.000Z error FORGED\\r\\x00x\\x1b[0m\tend)"),
            std::string::npos)
      << lines_[0];
}

TEST_F(LogTest, JsonLinesAreValidJsonWithLevelAndMessage) {
  log::Setup(log::Format::kJson, spdlog::level::debug, Capture());
  log::AddSecret("s3cr3t-token");
  spdlog::warn("token \"s3cr3t-token\" rejected\nsecond line");
  ASSERT_EQ(lines_.size(), 1u);
  auto j = nlohmann::json::parse(lines_[0]);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["msg"], "token \"<redacted>\" rejected\nsecond line");
  EXPECT_TRUE(j.contains("ts"));
  EXPECT_EQ(lines_[0].find('\n'), std::string::npos);
}

TEST_F(LogTest, LevelFilters) {
  log::Setup(log::Format::kText, spdlog::level::warn, Capture());
  spdlog::info("hidden");
  spdlog::warn("shown");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("shown"), std::string::npos);
}

}  // namespace
}  // namespace tocsin

namespace tocsin {
namespace {

std::vector<std::string> JournalLines(log::Format format) {
  std::vector<std::string> lines;
  log::Setup(format, spdlog::level::debug, true,
             [&lines](std::string_view l) { lines.emplace_back(l); });
  log::AddSecret("journal-secret-0123456789");
  spdlog::error("cannot page: key journal-secret-0123456789 refused");
  spdlog::warn("slow");
  spdlog::info("started");
  spdlog::debug("detail");
  log::ClearSecrets();
  log::Setup(log::Format::kText, spdlog::level::info);
  return lines;
}

// Under systemd, journald takes "<N>" at the start of a line as the entry's priority and stamps
// the time itself (issue 13).
TEST(JournalLogTest, TextLinesStartWithTheSyslogPriorityAndCarryNoTimestamp) {
  auto lines = JournalLines(log::Format::kText);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "<3>error cannot page: key <redacted> refused");
  EXPECT_EQ(lines[1], "<4>warning slow");
  EXPECT_EQ(lines[2], "<6>info started");
  EXPECT_EQ(lines[3], "<7>debug detail");
}

TEST(JournalLogTest, JsonLinesKeepTheirTimestampAfterThePriority) {
  auto lines = JournalLines(log::Format::kJson);
  ASSERT_EQ(lines.size(), 4u);
  ASSERT_EQ(lines[0].rfind("<3>{", 0), 0u) << lines[0];
  auto j = nlohmann::json::parse(lines[0].substr(3));
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "cannot page: key <redacted> refused");
  EXPECT_TRUE(j.contains("ts"));
}

TEST(JournalLogTest, NoPrefixWhenStderrIsNotTheJournalStream) {
  ::setenv("JOURNAL_STREAM", "1:1", 1);  // some other stream's device:inode
  EXPECT_FALSE(log::StderrIsJournal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(log::StderrIsJournal());
}

TEST(RepeatLimiterTest, ARepeatPassesOncePerIntervalAndTellsHowManyWereHeldBack) {
  log::RepeatLimiter limiter(10'000'000);
  const std::string first = " (a repeat within 10 s is not logged)";
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 5'000'000), first);
  // Three repeats within the interval: held back. Another key is not.
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 5'000'001), std::nullopt);
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 9'000'000), std::nullopt);
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 14'999'999), std::nullopt);
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nanother bug", 6'000'000), first);
  // A time another thread read before this one's line: still within the interval.
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 4'999'999), std::nullopt);
  // The interval is counted from the last line, not the first occurrence held back.
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 15'000'000),
            " (4 more like it in the 10 s since the last such line were not logged; a repeat "
            "within 10 s is not logged)");
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 24'999'999), std::nullopt);
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 85'000'000),
            " (1 more like it in the 70 s since the last such line was not logged; a repeat "
            "within 10 s is not logged)");
  // Nothing held back since the last line.
  EXPECT_EQ(limiter.Pass("/api/v2/alerts\nboom", 95'000'000), first);
}

TEST(RepeatLimiterTest, PastItsKeysTheOneLoggedLongestAgoIsForgotten) {
  log::RepeatLimiter limiter(10'000'000);
  for (std::uint64_t i = 0; i < log::RepeatLimiter::kMaxKeys; ++i) {
    ASSERT_TRUE(limiter.Pass("bug " + std::to_string(i), 1 + i));
  }
  EXPECT_FALSE(limiter.Pass("bug 0", 300));
  // One more distinct line: "bug 0", logged longest ago, is forgotten; the others still hold.
  EXPECT_TRUE(limiter.Pass("bug new", 301));
  EXPECT_TRUE(limiter.Pass("bug 0", 302));
  EXPECT_FALSE(limiter.Pass("bug 2", 303));
  EXPECT_FALSE(limiter.Pass("bug 255", 304));
}

}  // namespace
}  // namespace tocsin
