#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin {

// Parses Prometheus durations: one or more <number><unit> with units ms, s, m, h, d, w, y in
// decreasing order, e.g. "30s", "5m", "1h30m", "30d". "0" is zero. Returns kInvalid with a
// message that says what was expected.
Result<Duration> ParseDuration(std::string_view text);

// A time of day "HH:MM" -> minutes after midnight, 00:00-23:59; "24:00" (1440) as well when
// `allow_end_of_day`, for the end of a window that runs to midnight. Nothing else: no "8:00".
std::optional<int> ParseClock(std::string_view s, bool allow_end_of_day = false);

// Shortest Prometheus notation: 90000ms -> "1m30s", 0 -> "0s".
std::string FormatDuration(Duration d);

// RFC 3339 in UTC with milliseconds when non-zero: "2026-11-22T01:53:11.250Z".
std::string FormatRfc3339(TimePoint t);
// The same appended to `out`, without streams: every stored incident, timeline event, log line
// and listed alert carries such times. `always_millis` writes ".000" too (log lines, whose
// stamps line up). Years outside 0000-9999 (no parsed time has one) are written by
// FormatRfc3339's calendar library.
void AppendRfc3339(std::string& out, TimePoint t, bool always_millis = false);
// Accepts RFC 3339 with 'Z' or a numeric offset, with optional fractional seconds, and plain
// unix seconds (possibly fractional), as Prometheus does.
Result<TimePoint> ParseTime(std::string_view text);
// RFC 3339 only, as Alertmanager's API reads its times: "YYYY-MM-DDTHH:MM:SS[.fraction]" and
// "Z" or an offset below 24 h, every field in range (no leap second, no 30 February).
// Milliseconds are kept, finer digits (Prometheus sends nanoseconds) dropped. Nothing for
// anything else. No stream: the alert intake parses two per alert.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

}  // namespace tocsin
