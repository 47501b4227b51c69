#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tocsin::notify {

// Number of code points in valid UTF-8 (invalid bytes count one each).
std::size_t CodePoints(std::string_view s);

// At most `max_code_points` code points of `s`, never cutting a multi-byte character; when it
// has to cut, the last code point kept is "…" so a reader sees the text goes on. Providers
// count their limits in characters (PagerDuty summary 1024, Opsgenie message 130, Slack
// header 150): a cut mid-character would make them reject the whole payload.
std::string TruncateUtf8(std::string_view s, std::size_t max_code_points);

// The same limit counted in bytes (SMTP header lines, some Slack fields).
std::string TruncateUtf8Bytes(std::string_view s, std::size_t max_bytes);

}  // namespace tocsin::notify
