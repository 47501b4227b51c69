#include "tocsin/oncall/schedule.h"

#include <algorithm>
#include <sstream>

#include <date/tz.h>

#include "tocsin/common/duration.h"

namespace tocsin::oncall {

namespace {

using date::local_days;
using std::chrono::days;
using std::chrono::minutes;

const date::time_zone* Zone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// "YYYY-MM-DD" at the start of `text`, a real day of the calendar. Without a stream: who holds a
// rotation is asked for every incident opened and every step of its ladder.
std::optional<local_days> ParseDate(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = number(0, 4);
  auto m = number(5, 2);
  auto d = number(8, 2);
  if (!y || !m || !d) return std::nullopt;
  date::year_month_day ymd{date::year{*y}, date::month{static_cast<unsigned>(*m)},
                           date::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return local_days{ymd};
}

TimePoint ToTimePoint(date::sys_time<std::chrono::milliseconds> t) {
  return TimePoint(t.time_since_epoch());
}

// Local instant -> UTC. A handover inside a DST gap happens at the transition (earliest), and
// one in the repeated hour happens the first time the clock shows it.
TimePoint LocalToUtc(const date::time_zone* zone, date::local_time<minutes> local) {
  auto z = date::zoned_time<minutes>(zone, local, date::choose::earliest);
  return ToTimePoint(std::chrono::time_point_cast<std::chrono::milliseconds>(z.get_sys_time()));
}

local_days LocalDayOf(const date::time_zone* zone, TimePoint t) {
  auto sys = date::sys_time<std::chrono::milliseconds>(t.time_since_epoch());
  auto local = zone->to_local(sys);
  return date::floor<days>(local);
}

// Splits `shift` around [from, to): the part inside gets `person`.
void Reassign(const Shift& shift, TimePoint from, TimePoint to, const std::string& person,
              const std::string& reason, std::vector<Shift>& out) {
  if (shift.start < from) {
    Shift before = shift;
    before.end = std::min(shift.end, from);
    out.push_back(before);
  }
  Shift inside = shift;
  inside.start = std::max(shift.start, from);
  inside.end = std::min(shift.end, to);
  inside.person = person;
  inside.override_reason = reason.empty() ? "override" : reason;
  out.push_back(inside);
  if (shift.end > to) {
    Shift after = shift;
    after.start = std::max(shift.start, to);
    out.push_back(after);
  }
}

}  // namespace

bool IsValidTimeZone(const std::string& name) { return Zone(name) != nullptr; }

std::string FormatLocal(TimePoint t, const std::string& time_zone) {
  const auto* zone = Zone(time_zone);
  auto sys = date::sys_time<std::chrono::milliseconds>(t.time_since_epoch());
  auto sys_min = date::floor<minutes>(sys);
  if (zone == nullptr) return date::format("%F %R UTC", sys_min);
  return date::format("%F %R %Z", date::zoned_time<minutes>(zone, sys_min));
}

std::optional<TimePoint> ParseLocalTime(const std::string& text, const std::string& time_zone) {
  if (auto d = ParseDate(text); d && text.size() == 10) {
    const auto* zone = Zone(time_zone);
    if (zone == nullptr) return std::nullopt;
    return LocalToUtc(zone, date::local_time<minutes>(*d));
  }
  // Local date and time without an offset, to the minute or the second.
  for (const char* fmt : {"%FT%R", "%F %R", "%FT%T", "%F %T"}) {
    if (text.size() != (std::string_view(fmt).ends_with('R') ? 16u : 19u)) continue;
    std::istringstream in(text);
    date::local_time<std::chrono::seconds> lt;
    in >> date::parse(fmt, lt);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      const auto* zone = Zone(time_zone);
      if (zone == nullptr) return std::nullopt;
      const auto minute = date::floor<minutes>(lt);
      return LocalToUtc(zone, minute) + (lt - minute);
    }
  }
  auto parsed = ParseTime(text);
  if (!parsed) return std::nullopt;
  return *parsed;
}

Schedule::Schedule(Roster roster) : roster_(std::move(roster)) {}

std::vector<Shift> Schedule::RotationShifts(const Rotation& r, TimePoint from, TimePoint to) const {
  std::vector<Shift> out;
  auto start = ParseDate(r.start_date);
  if (!start || r.handovers.empty()) return out;
  struct Boundary {
    TimePoint at;
    std::size_t point;
    long long day;
  };
  std::vector<Boundary> bounds;
  for (std::size_t i = 0; i < r.handovers.size(); ++i) {
    const auto& p = r.handovers[i];
    const auto* zone = Zone(p.time_zone);
    if (zone == nullptr) continue;
    // Two days of margin on each side: the shift holding at `from` started before it.
    long long first = (LocalDayOf(zone, from) - *start).count() - 2;
    long long last = (LocalDayOf(zone, to) - *start).count() + 2;
    for (long long d = std::max(0LL, first); d <= last; ++d) {
      auto local = date::local_time<minutes>(*start + days(d)) + minutes(p.minutes_of_day);
      bounds.push_back({LocalToUtc(zone, local), i, d});
    }
  }
  std::sort(bounds.begin(), bounds.end(), [](const Boundary& a, const Boundary& b) {
    return a.at != b.at ? a.at < b.at : a.point < b.point;
  });
  for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
    const auto& b = bounds[i];
    TimePoint end = bounds[i + 1].at;
    if (end <= from || b.at >= to || end <= b.at) continue;
    const auto& p = r.handovers[b.point];
    const auto& group = r.member_groups[p.group];
    if (group.empty()) continue;
    long long per_day = 0;
    long long index_in_day = 0;
    for (std::size_t j = 0; j < r.handovers.size(); ++j) {
      if (r.handovers[j].group != p.group) continue;
      if (j < b.point) ++index_in_day;
      ++per_day;
    }
    long long slot = b.day * per_day + index_in_day;
    long long turn = r.turn == Turn::kShift ? 1 : r.turn == Turn::kDay ? per_day : 7 * per_day;
    auto member = static_cast<std::size_t>((slot / turn) % static_cast<long long>(group.size()));
    Shift s;
    s.person = group[member];
    s.role = r.role;
    s.rotation = r.name;
    s.team = r.team;
    s.region = p.region;
    s.time_zone = p.time_zone;
    s.start = b.at;
    s.end = end;
    s.warm_handover = r.warm_handover;
    out.push_back(std::move(s));
  }
  // Consecutive shifts of the same holder (turn: day/week) are one shift for people reading it.
  std::vector<Shift> merged;
  for (auto& s : out) {
    if (!merged.empty() && merged.back().person == s.person && merged.back().end == s.start &&
        merged.back().region == s.region) {
      merged.back().end = s.end;
    } else {
      merged.push_back(std::move(s));
    }
  }
  for (const auto& o : roster_.overrides) {
    if (o.rotation != r.name) continue;
    std::vector<Shift> next;
    for (const auto& s : merged) {
      bool overlaps = s.start < o.to && s.end > o.from;
      if (!overlaps) {
        next.push_back(s);
        continue;
      }
      if (o.kind == Override::Kind::kCover) {
        if (o.replaces.empty() || o.replaces == s.person) {
          Reassign(s, o.from, o.to, o.person, o.reason, next);
        } else {
          next.push_back(s);
        }
      } else if (s.person == o.person) {
        Reassign(s, o.from, o.to, o.with, o.reason, next);
      } else if (s.person == o.with) {
        Reassign(s, o.from, o.to, o.person, o.reason, next);
      } else {
        next.push_back(s);
      }
    }
    merged = std::move(next);
  }
  std::vector<Shift> result;
  for (auto& s : merged) {
    if (s.end > from && s.start < to && s.end > s.start) result.push_back(std::move(s));
  }
  return result;
}

std::vector<Shift> Schedule::Shifts(TimePoint from, TimePoint to) const {
  std::vector<Shift> out;
  for (const auto& r : roster_.rotations) {
    auto shifts = RotationShifts(r, from, to);
    out.insert(out.end(), shifts.begin(), shifts.end());
  }
  std::stable_sort(out.begin(), out.end(), [](const Shift& a, const Shift& b) {
    return a.start != b.start ? a.start < b.start : a.rotation < b.rotation;
  });
  return out;
}

std::vector<Shift> Schedule::OnCall(TimePoint at, std::string_view role) const {
  std::vector<Shift> out;
  for (const auto& r : roster_.rotations) {
    if (!role.empty() && r.role != role) continue;
    auto shifts = RotationShifts(r, at, at + Duration(1));
    out.insert(out.end(), shifts.begin(), shifts.end());
  }
  return out;
}

std::vector<std::string> Schedule::WhoHolds(std::string_view role, TimePoint at) const {
  std::vector<std::string> out;
  for (const auto& s : OnCall(at, role)) {
    if (std::find(out.begin(), out.end(), s.person) == out.end()) out.push_back(s.person);
  }
  return out;
}

std::vector<std::string> Schedule::WhoHoldsForTeam(std::string_view team, TimePoint at) const {
  std::vector<std::string> out;
  for (const auto& s : OnCall(at)) {
    if (s.team != team) continue;
    if (std::find(out.begin(), out.end(), s.person) == out.end()) out.push_back(s.person);
  }
  return out;
}

std::vector<std::string> Schedule::WhoHoldsRotation(std::string_view rotation, TimePoint at) const {
  std::vector<std::string> out;
  const auto* r = roster_.FindRotation(rotation);
  if (r == nullptr) return out;
  for (const auto& s : RotationShifts(*r, at, at + Duration(1))) out.push_back(s.person);
  return out;
}

std::vector<std::string> Schedule::ShadowsOf(std::string_view buddy, TimePoint at) const {
  std::vector<std::string> out;
  for (const auto& s : roster_.shadows) {
    if (s.buddy == buddy && s.from <= at && at < s.to) out.push_back(s.newcomer);
  }
  return out;
}

std::optional<TimePoint> Schedule::NextHandover(std::string_view role, TimePoint after) const {
  std::optional<TimePoint> best;
  std::vector<Shift> shifts;
  for (const auto& r : roster_.rotations) {
    if (r.role != role) continue;
    auto part = RotationShifts(r, after, after + std::chrono::hours(24 * 8));
    shifts.insert(shifts.end(), part.begin(), part.end());
  }
  for (const auto& s : shifts) {
    for (TimePoint t : {s.start, s.end}) {
      if (t > after && (!best || t < *best)) best = t;
    }
  }
  return best;
}

}  // namespace tocsin::oncall
