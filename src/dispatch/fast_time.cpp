#include "tocsin/dispatch/fast_time.h"

#include <cstdint>

#include <date/date.h>

namespace tocsin::dispatch {

namespace {

void Append2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

}  // namespace

void AppendRfc3339(std::string& out, TimePoint t) {
  std::int64_t ms = ToUnixMillis(t);
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto frac = static_cast<unsigned>(ms - secs * 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  auto rem = static_cast<unsigned>(secs - days * 86400);
  date::year_month_day ymd{date::sys_days{date::days{days}}};
  auto year = static_cast<unsigned>(static_cast<int>(ymd.year()));
  auto m = static_cast<unsigned>(ymd.month());
  auto d = static_cast<unsigned>(ymd.day());
  out.push_back(static_cast<char>('0' + year / 1000 % 10));
  out.push_back(static_cast<char>('0' + year / 100 % 10));
  Append2(out, year % 100);
  out.push_back('-');
  Append2(out, m);
  out.push_back('-');
  Append2(out, d);
  out.push_back('T');
  Append2(out, rem / 3600);
  out.push_back(':');
  Append2(out, rem / 60 % 60);
  out.push_back(':');
  Append2(out, rem % 60);
  if (frac != 0) {
    out.push_back('.');
    out.push_back(static_cast<char>('0' + frac / 100));
    Append2(out, frac % 100);
  }
  out.push_back('Z');
}

}  // namespace tocsin::dispatch
