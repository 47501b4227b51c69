#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace tocsin::log {

enum class Format { kText, kJson };

// Receives each finished line (without the trailing newline).
using Writer = std::function<void(std::string_view line)>;

// Configures the process-wide logger (the one process-wide global tocsin has): text or JSON lines
// on stderr by default (journald picks both up), at the given level. Every secret registered with
// AddSecret is replaced by "<redacted>" in every line, whatever the call site formatted into
// it. Thread-safe. Use spdlog::info(...) etc. to log.
// Under systemd (stderr is the stream named by $JOURNAL_STREAM) each line starts with its
// syslog priority, "<3>" for errors ... "<7>" for debug, which journald turns into the entry's
// priority, and text lines carry no timestamp of their own. A text line's control characters
// are written as escapes (\n, \r, \xNN), so one record is always one line.
void Setup(Format format, spdlog::level::level_enum level, Writer writer = {});
// The same with the journald prefixes chosen by the caller (tests).
void Setup(Format format, spdlog::level::level_enum level, bool journald, Writer writer);

// Whether stderr is the journal stream systemd connected ($JOURNAL_STREAM).
bool StderrIsJournal();

// Registers a secret value (token, key, password) to redact from all log output. Values
// shorter than 4 characters are ignored (they would redact ordinary words).
void AddSecret(std::string_view secret);
void ClearSecrets();

// Replaces every registered secret in `text`.
std::string Redact(std::string_view text);

bool ParseLevel(std::string_view level, spdlog::level::level_enum* out);

// Holds back repeats of one error line. A bug that makes every request or task throw would log
// a line per occurrence, thousands a second, and journald drops a service's lines past its own
// rate limit (10,000 per 30 s by default), the lines that matter with them. Per key (where, and
// what it said), the first occurrence passes, then at most one per interval, which tells how
// many were held back since the line before it. Metrics still count every occurrence.
// Thread-safe; times read before the lock may arrive out of order.
class RepeatLimiter {
 public:
  static constexpr std::uint64_t kDefaultIntervalMicros = 10'000'000;
  // Distinct keys remembered; past that, the one logged longest ago is forgotten (its held-back
  // count with it).
  static constexpr std::size_t kMaxKeys = 256;
  explicit RepeatLimiter(std::uint64_t interval_micros = kDefaultIntervalMicros)
      : interval_us_(interval_micros) {}

  // For an occurrence of `key` seen at `now_us` (monotonic microseconds): the words to end its
  // line with when it is to be logged, how many were held back since the last line and that
  // repeats may be held back after it; nullopt when it is held back.
  std::optional<std::string> Pass(std::string_view key, std::uint64_t now_us);

 private:
  struct Seen {
    std::uint64_t last_us = 0;
    std::uint64_t held = 0;
  };
  const std::uint64_t interval_us_;
  std::mutex mu_;
  std::map<std::string, Seen, std::less<>> seen_;
};

}  // namespace tocsin::log
