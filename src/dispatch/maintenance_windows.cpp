#include "tocsin/dispatch/maintenance_windows.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>

namespace tocsin::dispatch {

MaintenanceWindows::MaintenanceWindows(std::vector<MaintenanceWindowConfig> windows)
    : windows_(std::move(windows)) {}

std::vector<TimeInterval> MaintenanceWindows::Occurrences(const MaintenanceWindowConfig& w,
                                                          TimePoint from, TimePoint to) const {
  std::vector<TimeInterval> out;
  if (w.start && w.end) {
    if (*w.start<to&& * w.end> from) out.push_back({*w.start, *w.end, w.name});
    return out;
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(w.time_zone);
  } catch (const std::exception&) {
    return out;  // validated at load; unreachable unless tzdata vanished
  }
  using date::days;
  // Local calendar days that can hold an occurrence overlapping [from, to): start a day
  // early for windows that run past midnight.
  auto local_from = date::floor<days>(zone->to_local(from)) - days(1);
  auto local_to = date::floor<days>(zone->to_local(to)) + days(1);
  for (auto day = local_from; day <= local_to; day += days(1)) {
    int weekday = static_cast<int>(date::weekday(day).c_encoding());
    if (std::find(w.days.begin(), w.days.end(), weekday) == w.days.end()) continue;
    auto local_start = day + std::chrono::minutes(w.start_minute);
    auto local_end = day + std::chrono::minutes(w.end_minute);
    if (w.end_minute <= w.start_minute) local_end += days(1);
    // `earliest` settles ambiguous times (autumn); a time in the spring gap maps to the
    // transition itself.
    TimePoint start =
        std::chrono::time_point_cast<Duration>(zone->to_sys(local_start, date::choose::earliest));
    TimePoint end =
        std::chrono::time_point_cast<Duration>(zone->to_sys(local_end, date::choose::earliest));
    if (start < to && end > from && start < end) out.push_back({start, end, w.name});
  }
  return out;
}

std::vector<std::string> MaintenanceWindows::MutedBy(const Labels& labels, TimePoint now) const {
  if (!cache_valid_ || cached_now_ != now) {
    open_.clear();
    for (const auto& w : windows_) {
      if (!Occurrences(w, now, now + Duration(1)).empty()) open_.push_back(&w);
    }
    cached_now_ = now;
    cache_valid_ = true;
  }
  std::vector<std::string> out;
  for (const auto* w : open_) {
    if (MatchesAll(w->matchers, labels)) out.push_back(w->name);
  }
  return out;
}

std::vector<TimeInterval> MaintenanceWindows::ExcludedIntervals(TimePoint from, TimePoint to,
                                                                const Labels& scope,
                                                                bool any_scope) const {
  std::vector<TimeInterval> out;
  for (const auto& w : windows_) {
    if (!w.sla_excluded) continue;
    if (!any_scope && !MatchesAll(w.matchers, scope)) continue;
    for (auto occ : Occurrences(w, from, to)) {
      occ.start = std::max(occ.start, from);
      occ.end = std::min(occ.end, to);
      out.push_back(std::move(occ));
    }
  }
  std::sort(out.begin(), out.end(), [](const TimeInterval& a, const TimeInterval& b) {
    return a.start < b.start || (a.start == b.start && a.end < b.end);
  });
  return out;
}

bool MaintenanceWindows::IsExcluded(TimePoint from, TimePoint to, const Labels& scope) const {
  TimePoint covered = from;
  for (const auto& i : ExcludedIntervals(from, to, scope)) {
    if (i.start > covered) return false;
    covered = std::max(covered, i.end);
  }
  return covered >= to;
}

}  // namespace tocsin::dispatch
