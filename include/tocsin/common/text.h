#pragma once

// Text helpers: UTF-8 lengths and cuts as providers count them, trimming, ASCII case.

#include <cstddef>
#include <string>
#include <string_view>

namespace tocsin {

// Number of code points in valid UTF-8 (a stray continuation byte counts one; a lead byte
// counts one for the whole sequence it announces, which invalid text may not have).
std::size_t CodePoints(std::string_view s);

// At most `max_code_points` code points of `s`, never cutting a multi-byte character; when it
// has to cut, the last code point kept is "…" so a reader sees the text goes on. Providers
// count their limits in characters (PagerDuty summary 1024, Opsgenie message 130, Slack
// header 150): a cut mid-character would make them reject the whole payload.
std::string TruncateUtf8(std::string_view s, std::size_t max_code_points);

// The same limit counted in bytes (SMTP header lines, some Slack fields).
std::string TruncateUtf8Bytes(std::string_view s, std::size_t max_bytes);

// Whether `s` is UTF-8 as RFC 3629 defines it: no stray or missing continuation bytes, no
// overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);
// The offset of the first byte where `s` stops being UTF-8 (the lead byte of a bad sequence),
// or std::string_view::npos when all of it is.
std::size_t FirstInvalidUtf8(std::string_view s);
// `s` with each byte where it stops being UTF-8 replaced by U+FFFD, as Go's JSON decoder (and
// so Alertmanager) reads such a byte in a string.
std::string ReplaceInvalidUtf8(std::string_view s);
// JSON text with each \u escape of half a UTF-16 surrogate pair that has no other half
// ("\ud83d" alone, a low "\udc00" first) written as \ufffd, as Go's JSON decoder (and so
// Alertmanager) reads it; pairs, other escapes and everything outside strings stay as they are.
std::string ReplaceLoneSurrogateEscapes(std::string_view json);

// Where to cut `s` at or before byte `at` without splitting a UTF-8 character: the largest
// offset <= min(at, size) that does not fall on a continuation byte; 0 when every byte before
// `at` continues a character (not UTF-8: the caller cuts where it likes).
std::size_t Utf8Boundary(std::string_view s, std::size_t at);

// ASCII white space (space, \t, \n, \r, \f, \v) off both ends.
std::string_view TrimSpace(std::string_view s);
// ASCII letters in upper or lower case; every other byte (UTF-8 included) as it is.
std::string AsciiUpper(std::string s);
std::string AsciiLower(std::string s);

}  // namespace tocsin
