#include "tocsin/oncall/fairness.h"

#include <algorithm>
#include <map>
#include <set>

#include <date/tz.h>
#include <fmt/format.h>

#include "tocsin/common/duration.h"

namespace tocsin::oncall {

namespace {

using std::chrono::days;
using std::chrono::hours;

const date::time_zone* ZoneOr(const std::string& name) {
  try {
    return date::locate_zone(name.empty() ? "UTC" : name);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

date::local_days LocalDay(const date::time_zone* z, TimePoint t) {
  return date::floor<days>(
      z->to_local(date::sys_time<std::chrono::milliseconds>(t.time_since_epoch())));
}

TimePoint AtLocal(const date::time_zone* z, date::local_days d, int hour) {
  auto local = date::local_time<std::chrono::minutes>(d) + hours(hour);
  auto zt = date::zoned_time<std::chrono::minutes>(z, local, date::choose::earliest);
  return TimePoint(
      std::chrono::duration_cast<std::chrono::milliseconds>(zt.get_sys_time().time_since_epoch()));
}

std::string Day(date::local_days d) { return date::format("%F", d); }

}  // namespace

std::vector<Finding> CheckRoster(const Schedule& schedule, TimePoint from, TimePoint to,
                                 const FairnessRules& rules) {
  std::vector<Finding> out;
  const auto& roster = schedule.roster();
  auto person_source = [&roster](const std::string& id) {
    auto it = roster.person_sources.find(id);
    return it == roster.person_sources.end() ? SourceLine{} : it->second;
  };
  const TimePoint lookback = from - days(rules.window_days);
  auto shifts = schedule.Shifts(lookback, to);

  std::map<std::string, std::vector<Shift>> by_person;
  for (const auto& s : shifts) by_person[s.person].push_back(s);

  for (const auto& [person_id, list] : by_person) {
    const auto* person = roster.FindPerson(person_id);
    const auto* zone = ZoneOr(person ? person->time_zone : list.front().time_zone);
    const std::string tz_name(zone->name());

    // Nights: on call at the probe hour of the morning after.
    auto first_day = LocalDay(zone, from);
    auto last_day = LocalDay(zone, to);
    int run = 0;
    date::local_days run_start{};
    // A named reference, not the structured binding: clang 14 cannot capture bindings.
    const auto& person_shifts = list;
    auto on_at = [&](TimePoint t) {
      return std::any_of(person_shifts.begin(), person_shifts.end(),
                         [t](const Shift& s) { return s.start <= t && t < s.end; });
    };
    for (auto d = first_day - days(rules.max_consecutive_nights); d <= last_day + days(1);
         d += days(1)) {
      TimePoint probe = AtLocal(zone, d + days(1), rules.night_probe_hour);
      bool night = probe < to && on_at(probe);
      if (night) {
        if (run == 0) run_start = d;
        ++run;
      }
      if (!night || d == last_day + days(1)) {
        if (run > rules.max_consecutive_nights && d > first_day) {
          auto end = night ? d : d - days(1);
          out.push_back({"max-consecutive-nights", person_id, Day(run_start), Day(end),
                         fmt::format("{} is on call {} nights in a row, the nights of {} to {} "
                                     "({}); at most {} consecutive nights are allowed",
                                     person_id, run, Day(run_start), Day(end), tz_name,
                                     rules.max_consecutive_nights),
                         person_source(person_id)});
        }
        if (!night) run = 0;
      }
    }

    // On-call days: each shift counts from its start date, one day per started 24 hours.
    std::set<date::local_days> on_days;
    for (const auto& s : list) {
      auto d = LocalDay(zone, s.start);
      auto length = s.end - s.start;
      long long n = std::max<long long>(1, (length + hours(24) - Duration(1)) / hours(24));
      for (long long i = 0; i < n; ++i) on_days.insert(d + days(i));
    }
    for (auto w = first_day - days(rules.window_days - 1); w <= last_day;) {
      int count = 0;
      for (int i = 0; i < rules.window_days; ++i) count += on_days.count(w + days(i)) ? 1 : 0;
      if (count > rules.max_days_in_window) {
        auto end = w + days(rules.window_days - 1);
        out.push_back({"max-days-in-14", person_id, Day(w), Day(end),
                       fmt::format("{} has {} on-call days between {} and {} ({}); at most {} "
                                   "in any {}-day window are allowed",
                                   person_id, count, Day(w), Day(end), tz_name,
                                   rules.max_days_in_window, rules.window_days),
                       person_source(person_id)});
        w += days(rules.window_days);  // one finding per window, not one per day of it
      } else {
        w += days(1);
      }
    }

    // Shift length: back-to-back shifts of one rotation (a swap can join two) are one shift.
    std::map<std::string, std::vector<const Shift*>> by_rotation;
    for (const auto& s : list) by_rotation[s.rotation].push_back(&s);
    for (auto& [rotation_name, held] : by_rotation) {
      std::sort(held.begin(), held.end(),
                [](const Shift* a, const Shift* b) { return a->start < b->start; });
      const auto* rotation = roster.FindRotation(rotation_name);
      Duration limit = rotation && rotation->max_shift ? *rotation->max_shift
                       : roster.max_shift              ? *roster.max_shift
                                                       : rules.max_shift;
      for (std::size_t i = 0; i < held.size();) {
        TimePoint start = held[i]->start;
        TimePoint end = held[i]->end;
        std::size_t j = i + 1;
        while (j < held.size() && held[j]->start <= end) end = std::max(end, held[j++]->end);
        i = j;
        if (end - start <= limit || end <= from || start >= to) continue;
        auto length = std::chrono::duration_cast<std::chrono::minutes>(end - start);
        out.push_back(
            {"max-shift-length", person_id, FormatLocal(start, tz_name), FormatLocal(end, tz_name),
             fmt::format("{} holds {} for {} without a break, from {} to {}; at most {} is "
                         "allowed (max_shift of the rotation or roster)",
                         person_id, rotation_name, FormatDuration(length),
                         FormatLocal(start, tz_name), FormatLocal(end, tz_name),
                         FormatDuration(limit)),
             person_source(person_id)});
      }
    }

    // Two roles at once.
    std::set<std::pair<std::string, std::string>> reported;
    for (std::size_t i = 0; i < list.size(); ++i) {
      for (std::size_t j = i + 1; j < list.size(); ++j) {
        const auto& a = list[i];
        const auto& b = list[j];
        if (a.role == b.role) continue;
        TimePoint s = std::max(a.start, b.start);
        TimePoint e = std::min(a.end, b.end);
        if (s >= e || e <= from || s >= to) continue;
        auto key = std::minmax(a.role, b.role);
        if (!reported.insert({key.first, key.second}).second) continue;
        out.push_back({"two-roles", person_id, FormatLocal(s, tz_name), FormatLocal(e, tz_name),
                       fmt::format("{} holds two roles at once, {} ({}) and {} ({}), from {} to "
                                   "{}; give one of the shifts to someone else",
                                   person_id, a.role, a.rotation, b.role, b.rotation,
                                   FormatLocal(s, tz_name), FormatLocal(e, tz_name)),
                       person_source(person_id)});
      }
    }
  }

  // Coverage: every minute needs an L1.
  SourceLine l1_source = roster.rotations_source;
  for (const auto& r : roster.rotations) {
    if (r.role == kRoleL1) {
      l1_source = r.source;
      break;
    }
  }
  std::vector<std::pair<TimePoint, TimePoint>> l1;
  for (const auto& s : shifts) {
    if (s.role == kRoleL1) l1.emplace_back(s.start, s.end);
  }
  std::sort(l1.begin(), l1.end());
  TimePoint covered = from;
  auto gap = [&](TimePoint a, TimePoint b) {
    out.push_back({"l1-gap", "", FormatLocal(a, "UTC"), FormatLocal(b, "UTC"),
                   fmt::format("no L1 on call from {} to {}: add a rotation with role l1 that "
                               "covers it, or an override",
                               FormatLocal(a, "UTC"), FormatLocal(b, "UTC")),
                   l1_source});
  };
  for (const auto& [s, e] : l1) {
    if (s > covered && covered < to) gap(covered, std::min(s, to));
    covered = std::max(covered, e);
  }
  if (covered < to) gap(covered, to);
  return out;
}

}  // namespace tocsin::oncall
