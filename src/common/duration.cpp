#include "tocsin/common/duration.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>

#include <date/date.h>
#include <fmt/format.h>

namespace tocsin {

namespace {
struct Unit {
  std::string_view name;
  std::int64_t millis;
};
// Largest first: a duration must list its units in this order, each at most once.
constexpr std::array<Unit, 7> kUnits{{{"y", 365LL * 24 * 3600 * 1000},
                                      {"w", 7LL * 24 * 3600 * 1000},
                                      {"d", 24LL * 3600 * 1000},
                                      {"h", 3600LL * 1000},
                                      {"m", 60LL * 1000},
                                      {"s", 1000},
                                      {"ms", 1}}};

Error BadDuration(std::string_view text, std::string_view why) {
  return Error::Invalid(fmt::format(
      "invalid duration \"{}\": {} (write e.g. \"30s\", \"5m\", \"1h30m\" or \"30d\"; units "
      "y, w, d, h, m, s, ms)",
      text, why));
}
}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text == "0") return Duration(0);
  if (text.empty()) return Fail(BadDuration(text, "empty"));
  std::int64_t total = 0;
  std::size_t last_unit = 0;  // index into kUnits + 1 of the last unit seen
  std::string_view rest = text;
  while (!rest.empty()) {
    std::int64_t n = 0;
    if (rest.front() < '0' || rest.front() > '9') {
      return Fail(BadDuration(text, "expected a whole number before each unit"));
    }
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || ptr == rest.data()) {
      return Fail(BadDuration(text, "expected a whole number before each unit"));
    }
    rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
    std::size_t unit_len = 0;
    while (unit_len < rest.size() && rest[unit_len] >= 'a' && rest[unit_len] <= 'z') ++unit_len;
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    std::size_t idx = kUnits.size();
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].name == unit) idx = i;
    }
    if (idx == kUnits.size()) {
      return Fail(BadDuration(text, unit.empty() ? "missing unit" : "unknown unit"));
    }
    if (idx + 1 <= last_unit) return Fail(BadDuration(text, "units out of order or repeated"));
    last_unit = idx + 1;
    if (n > INT64_MAX / kUnits[idx].millis) return Fail(BadDuration(text, "too large"));
    total += n * kUnits[idx].millis;
  }
  return Duration(total);
}

std::optional<int> ParseClock(std::string_view s, bool allow_end_of_day) {
  auto digit = [&s](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (s.size() != 5 || s[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_end_of_day) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::string FormatDuration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  // Prometheus's units, so users can paste the text; but years and weeks only when they divide
  // the whole value: a 30-day SLO window reads "30d", not Prometheus's "4w2d".
  for (const auto& u : kUnits) {
    bool calendar = u.name == "y" || u.name == "w";
    if (calendar && ms % u.millis != 0) continue;
    if (ms >= u.millis) {
      out += std::to_string(ms / u.millis);
      out += u.name;
      ms %= u.millis;
    }
  }
  return out;
}

namespace {

void Append2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

std::string FormatRfc3339Slow(TimePoint t, bool always_millis) {
  if (!always_millis && t.time_since_epoch().count() % 1000 == 0) {
    return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::seconds>(t));
  }
  return date::format("%FT%TZ", t);
}

}  // namespace

void AppendRfc3339(std::string& out, TimePoint t, bool always_millis) {
  std::int64_t ms = ToUnixMillis(t);
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto frac = static_cast<unsigned>(ms - secs * 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  auto rem = static_cast<unsigned>(secs - days * 86400);
  date::year_month_day ymd{date::sys_days{date::days{days}}};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    out += FormatRfc3339Slow(t, always_millis);
    return;
  }
  const auto y = static_cast<unsigned>(year);
  Append2(out, y / 100);
  Append2(out, y % 100);
  out.push_back('-');
  Append2(out, static_cast<unsigned>(ymd.month()));
  out.push_back('-');
  Append2(out, static_cast<unsigned>(ymd.day()));
  out.push_back('T');
  Append2(out, rem / 3600);
  out.push_back(':');
  Append2(out, rem / 60 % 60);
  out.push_back(':');
  Append2(out, rem % 60);
  if (frac != 0 || always_millis) {
    out.push_back('.');
    out.push_back(static_cast<char>('0' + frac / 100));
    Append2(out, frac % 100);
  }
  out.push_back('Z');
}

std::string FormatRfc3339(TimePoint t) {
  std::string out;
  out.reserve(24);
  AppendRfc3339(out, t);
  return out;
}

namespace {

bool Digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return false;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// YYYY-MM-DD(T|t)HH:MM:SS[.digits](Z|z|+HH:MM|-HH:MM), nothing else.
bool LooksLikeRfc3339(std::string_view text) {
  if (!Digits(text, 0, 4) || text.size() < 20 || text[4] != '-' || !Digits(text, 5, 2) ||
      text[7] != '-' || !Digits(text, 8, 2) || (text[10] != 'T' && text[10] != 't') ||
      !Digits(text, 11, 2) || text[13] != ':' || !Digits(text, 14, 2) || text[16] != ':' ||
      !Digits(text, 17, 2)) {
    return false;
  }
  std::size_t pos = 19;
  if (text[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") return true;
  // An offset is at most 23:59 (RFC 3339's time-numoffset).
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2) &&
         zone[3] == ':' && Digits(zone, 4, 2) && zone.substr(1, 2) <= "23" &&
         zone.substr(4, 2) <= "59";
}

// A text LooksLikeRfc3339 accepted, without a stream: every field in range (a real calendar
// date, hours 0-23, minutes and seconds 0-59, an offset below 24 h), else nothing. A restart
// parses about ten times per open incident and per pending delivery; through istringstream
// that was most of the time to load 10,000 incidents.
std::optional<TimePoint> ParseCommonRfc3339(std::string_view t) {
  auto num = [&t](std::size_t pos, std::size_t count) {
    int v = 0;
    for (std::size_t i = pos; i < pos + count; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  const int hour = num(11, 2);
  const int minute = num(14, 2);
  const int second = num(17, 2);
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const date::year_month_day ymd{date::year{num(0, 4)},
                                 date::month{static_cast<unsigned>(num(5, 2))},
                                 date::day{static_cast<unsigned>(num(8, 2))}};
  if (!ymd.ok()) return std::nullopt;
  std::size_t pos = 19;
  int millis = 0;
  if (t[pos] == '.') {
    // Milliseconds are kept, finer digits dropped (as the stream parser below reads three).
    int digits = 0;
    for (++pos; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) millis = millis * 10 + (t[pos] - '0');
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::chrono::minutes offset{0};
  if (t[pos] == '+' || t[pos] == '-') {
    const int oh = num(pos + 1, 2);
    const int om = num(pos + 4, 2);
    if (oh > 23 || om > 59) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om);
    if (t[pos] == '-') offset = -offset;
  }
  auto tp = date::sys_days{ymd} + std::chrono::hours(hour) + std::chrono::minutes(minute) +
            std::chrono::seconds(second) + std::chrono::milliseconds(millis) - offset;
  return TimePoint(std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()));
}

}  // namespace

std::optional<TimePoint> ParseRfc3339(std::string_view text) {
  if (!LooksLikeRfc3339(text)) return std::nullopt;
  return ParseCommonRfc3339(text);
}

Result<TimePoint> ParseTime(std::string_view text) {
  if (text.empty()) return Fail(Error::Invalid("empty time"));
  // Unix seconds, possibly fractional.
  bool numeric = true;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-')) numeric = false;
  }
  if (numeric) {
    double secs = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(secs)) {
      return Fail(Error::Invalid(fmt::format("invalid unix time \"{}\"", text)));
    }
    // 1970-01-01 to 9999-12-31T23:59:59Z: what RFC 3339 can write back. Beyond, times were
    // printed as garbage ("17525-05-06T309237645313:46:40Z") and stored as such.
    if (secs < 0 || secs > 253402300799.0) {
      return Fail(Error::Invalid(fmt::format(
          "unix time \"{}\" is outside 1970 to 9999: write seconds since 1970, e.g. 1795312391",
          text)));
    }
    return FromUnixMillis(static_cast<std::int64_t>(std::llround(secs * 1000.0)));
  }
  if (auto t = ParseRfc3339(text)) return *t;
  return Fail(Error::Invalid(fmt::format(
      "invalid time \"{}\" (write RFC 3339, e.g. \"2026-11-22T01:53:00Z\", or unix seconds)",
      text)));
}

}  // namespace tocsin
