#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::oncall {

// One broken roster rule: who, when, which rule, in words a scheduler can act on.
struct Finding {
  // "max-consecutive-nights", "max-days-in-14", "two-roles", "l1-gap", "max-shift-length"
  std::string rule;
  std::string person;  // empty for coverage gaps
  std::string from;    // local dates / times in the person's (or the rotation's) zone
  std::string to;
  std::string message;
  SourceLine source;  // the person's entry in the roster, or the L1 rotation for gaps
  friend bool operator==(const Finding&, const Finding&) = default;
};

struct FairnessRules {
  int max_consecutive_nights = 2;
  int max_days_in_window = 7;
  int window_days = 14;
  // A night counts when the person is on call at this local hour (their own time zone).
  int night_probe_hour = 3;
  // Shifts of 8, 10 or 12 hours are the operating model; a roster or rotation may set its own
  // `max_shift`. Back-to-back shifts of one person in one rotation count as one shift.
  Duration max_shift = std::chrono::hours(12);
};

// Checks the on-call fairness and coverage rules over [from, to): at most 2 consecutive nights
// per person, at most 7 on-call days in any 14-day window, nobody holding two roles at once,
// no minute without an L1, and no shift longer than max_shift. A shift counts as on-call days from
// its start date, one day per started 24 hours.
std::vector<Finding> CheckRoster(const Schedule& schedule, TimePoint from, TimePoint to,
                                 const FairnessRules& rules = {});

}  // namespace tocsin::oncall
