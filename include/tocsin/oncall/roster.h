#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/oncall/person.h"

namespace tocsin::oncall {

// The standard on-call roles. L2 roles are "l2-<domain>" (l2-payments, l2-game-gateway,
// l2-db-wallet, l2-sre-platform); other roles a roster defines are allowed too.
inline constexpr const char* kRoleL1 = "l1";
inline constexpr const char* kRoleReserve = "reserve";
inline constexpr const char* kRoleCallManager = "call-manager";
inline constexpr const char* kRoleComms = "comms";
inline constexpr const char* kRoleDutyManager = "duty-manager";

// Where something was defined in the roster file (1-based; 0 when built in code), so findings
// about it can say file:line.
struct SourceLine {
  int line = 0;
  int column = 0;
  friend bool operator==(const SourceLine&, const SourceLine&) = default;
};

struct Team {
  std::string name;
  std::vector<std::string> members;  // person ids
  friend bool operator==(const Team&, const Team&) = default;
};

// How long one member holds the rotation before the next takes over.
enum class Turn { kShift, kDay, kWeek };

// One daily handover point: at `local_time` in `time_zone` the next holder of `group` starts.
// A rotation's shifts run from one handover point to the next, in time order, so a
// follow-the-sun rotation (one point per region, each in its own zone) never has a gap, and a
// DST change simply moves the handover instant.
struct HandoverPoint {
  std::string region;      // "" for single-zone rotations
  std::string time_zone;   // IANA
  int minutes_of_day = 0;  // local time of the handover
  std::size_t group = 0;   // index into Rotation::member_groups
  friend bool operator==(const HandoverPoint&, const HandoverPoint&) = default;
};

struct Rotation {
  std::string name;
  std::string role;
  std::string team;
  std::string start_date;  // "2026-11-02", local date of the first shift (first point's zone)
  std::vector<HandoverPoint> handovers;  // sorted by local time within the day
  // Each group is a cycle of person ids; repeats make custom patterns ([a, a, b]).
  std::vector<std::vector<std::string>> member_groups;
  Turn turn = Turn::kShift;
  Duration warm_handover{0};  // overlap announced before each shift (usually 15-30 min)
  // Longest time one person may hold this rotation without a break; unset: the roster's.
  std::optional<Duration> max_shift;
  SourceLine source;
  friend bool operator==(const Rotation&, const Rotation&) = default;
};

// Replaces the holder of a rotation for a time range. kCover: `person` takes the shifts (only
// those of `replaces` when set). kSwap: within the range `person` and `with` trade shifts.
struct Override {
  enum class Kind { kCover, kSwap };
  Kind kind = Kind::kCover;
  std::string rotation;
  TimePoint from{};
  TimePoint to{};
  std::string person;
  std::string replaces;  // cover: optional
  std::string with;      // swap: required
  std::string reason;
  friend bool operator==(const Override&, const Override&) = default;
};

// A newcomer paged alongside their buddy while learning (usually 2-3 weeks).
struct Shadow {
  std::string newcomer;
  std::string buddy;
  TimePoint from{};
  TimePoint to{};
  friend bool operator==(const Shadow&, const Shadow&) = default;
};

// The validated roster file. Plain value.
struct Roster {
  std::string file;
  std::map<std::string, Person> people;
  std::vector<Team> teams;
  std::vector<Rotation> rotations;
  std::vector<Override> overrides;
  std::vector<Shadow> shadows;
  // Longest time one person may hold a rotation without a break; unset: FairnessRules'.
  std::optional<Duration> max_shift;
  std::map<std::string, SourceLine> person_sources;  // person id -> where it is defined
  SourceLine rotations_source;                       // the `rotations` key

  const Person* FindPerson(std::string_view id) const;
  const Rotation* FindRotation(std::string_view name) const;
  const Team* FindTeam(std::string_view name) const;
  std::vector<std::string> Roles() const;  // distinct roles of the rotations, sorted
  friend bool operator==(const Roster&, const Roster&) = default;
};

// One person holding one role for [start, end).
struct Shift {
  std::string person;
  std::string role;
  std::string rotation;
  std::string team;
  std::string region;
  std::string time_zone;  // of the handover point that started it
  TimePoint start{};
  TimePoint end{};
  Duration warm_handover{0};
  std::string override_reason;  // set when an override changed the holder
  friend bool operator==(const Shift&, const Shift&) = default;
};

}  // namespace tocsin::oncall
