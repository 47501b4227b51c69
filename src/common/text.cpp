#include "tocsin/common/text.h"

#include <algorithm>
#include <charconv>

namespace tocsin {

namespace {

// Length of the code point starting with byte `c` (1 for a stray continuation byte).
std::size_t SequenceLength(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// Byte offset after `n` code points (or s.size()).
std::size_t OffsetAfter(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  while (n > 0 && i < s.size()) {
    std::size_t len = SequenceLength(static_cast<unsigned char>(s[i]));
    if (i + len > s.size()) break;  // a truncated sequence at the end: drop it
    i += len;
    --n;
  }
  return i;
}

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026, one code point

}  // namespace

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) i += SequenceLength(static_cast<unsigned char>(s[i]));
  return n;
}

std::string TruncateUtf8(std::string_view s, std::size_t max_code_points) {
  if (CodePoints(s) <= max_code_points) return std::string(s);
  if (max_code_points == 0) return {};
  std::string out(s.substr(0, OffsetAfter(s, max_code_points - 1)));
  out += kEllipsis;
  return out;
}

std::string TruncateUtf8Bytes(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  if (max_bytes < kEllipsis.size()) return {};
  std::size_t budget = max_bytes - kEllipsis.size();
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = SequenceLength(static_cast<unsigned char>(s[i]));
    if (i + len > budget) break;
    i += len;
  }
  std::string out(s.substr(0, i));
  out += kEllipsis;
  return out;
}

std::size_t Utf8Boundary(std::string_view s, std::size_t at) {
  std::size_t cut = std::min(at, s.size());
  while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

std::string AsciiUpper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

std::size_t FirstInvalidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Continuation bytes after the lead byte, and the range of the first one (RFC 3629, 4).
    std::size_t more = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;  // no overlong form
      if (c == 0xED) hi = 0x9F;  // no surrogate
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;  // no overlong form
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (s.size() - i <= more) return i;
    for (std::size_t k = 1; k <= more; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return i;
    }
    i += more + 1;
  }
  return std::string_view::npos;
}

std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (auto bad = FirstInvalidUtf8(s); bad != std::string_view::npos; bad = FirstInvalidUtf8(s)) {
    out.append(s.substr(0, bad));
    out.append("\xEF\xBF\xBD");  // U+FFFD
    s.remove_prefix(bad + 1);
  }
  out.append(s);
  return out;
}

std::string ReplaceLoneSurrogateEscapes(std::string_view json) {
  // The value of the escape \uXXXX at `at`, or -1 when there is none.
  auto escape_at = [json](std::size_t at) -> int {
    if (at + 6 > json.size() || json[at] != '\\' || json[at + 1] != 'u') return -1;
    unsigned v = 0;
    const char* end = json.data() + at + 6;
    auto [ptr, ec] = std::from_chars(json.data() + at + 2, end, v, 16);
    return ec == std::errc() && ptr == end ? static_cast<int>(v) : -1;
  };
  auto is_high = [](int v) { return v >= 0xD800 && v <= 0xDBFF; };
  auto is_low = [](int v) { return v >= 0xDC00 && v <= 0xDFFF; };
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (std::size_t i = 0; i < json.size();) {
    const char c = json[i];
    if (c == '"') in_string = !in_string;
    if (!in_string || c != '\\') {
      out += c;
      ++i;
      continue;
    }
    const int v = escape_at(i);
    if (v < 0) {  // another escape: it and the character it escapes, as they are
      out.append(json.substr(i, 2));
      i += 2;
    } else if (is_high(v) && is_low(escape_at(i + 6))) {  // a pair: one character
      out.append(json.substr(i, 12));
      i += 12;
    } else if (is_high(v) || is_low(v)) {  // half of a pair, alone
      out.append("\\ufffd");
      i += 6;
    } else {
      out.append(json.substr(i, 6));
      i += 6;
    }
  }
  return out;
}

}  // namespace tocsin
