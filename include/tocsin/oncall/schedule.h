#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/oncall/roster.h"

namespace tocsin::oncall {

// Answers "who is on call" from a Roster: expands rotations into shifts with exact time zones
// and DST (date/tz with the system tz database), then applies overrides. Immutable after
// construction; safe to share between threads.
class Schedule {
 public:
  explicit Schedule(Roster roster);

  // Every shift overlapping [from, to), overrides applied, ordered by start then rotation.
  std::vector<Shift> Shifts(TimePoint from, TimePoint to) const;
  // Shifts of `role` (or all roles when empty) that hold at `at`.
  std::vector<Shift> OnCall(TimePoint at, std::string_view role = {}) const;
  // Person ids of `role` at `at`, in rotation order.
  std::vector<std::string> WhoHolds(std::string_view role, TimePoint at) const;
  // Person ids currently on call in any rotation of `team`.
  std::vector<std::string> WhoHoldsForTeam(std::string_view team, TimePoint at) const;
  std::vector<std::string> WhoHoldsRotation(std::string_view rotation, TimePoint at) const;
  // Newcomers shadowing `buddy` at `at`.
  std::vector<std::string> ShadowsOf(std::string_view buddy, TimePoint at) const;
  // The first instant after `after` at which the holder of `role` may change.
  std::optional<TimePoint> NextHandover(std::string_view role, TimePoint after) const;

  const Roster& roster() const { return roster_; }

 private:
  std::vector<Shift> RotationShifts(const Rotation& r, TimePoint from, TimePoint to) const;

  Roster roster_;
};

// Local wall time of `t` in `time_zone`, "2026-03-29 03:00 EEST"; falls back to UTC.
std::string FormatLocal(TimePoint t, const std::string& time_zone);
// Parses "2026-11-22", "2026-11-22T08:00" or "2026-11-22T08:00:30" (local, in `time_zone`;
// a space for the T too) or RFC 3339.
std::optional<TimePoint> ParseLocalTime(const std::string& text, const std::string& time_zone);
bool IsValidTimeZone(const std::string& name);

}  // namespace tocsin::oncall
