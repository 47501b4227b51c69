#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/incident/incident.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::report {

// One incident with its timeline, as the store holds them.
struct IncidentRecord {
  incident::Incident incident;
  std::vector<incident::TimelineEvent> timeline;
};

struct OncallOptions {
  TimePoint from{};  // incidents opened in [from, to)
  TimePoint to{};
  std::string team;  // empty: every team
  // A page between night_start_hour and night_end_hour in the paged person's own time zone
  // wakes them up; more than max_wakeups_per_night in one night breaks the goal.
  int night_start_hour = 22;
  int night_end_hour = 7;
  int max_wakeups_per_night = 2;
  std::string time_zone = "UTC";  // for weeks, and for people without a time zone
};

// Nearest-rank percentiles of a set of durations (none when the set is empty).
struct Percentiles {
  int count = 0;
  std::optional<Duration> p50;
  std::optional<Duration> p90;
};

struct ResponseRow {  // per domain and SEV
  std::string domain;
  std::string sev;  // "SEV-1"
  int incidents = 0;
  Percentiles mtta;  // opened -> acknowledged, over acknowledged incidents
  Percentiles mttr;  // opened -> resolved, over resolved incidents
};

struct WeekRow {
  std::string week;  // ISO week, "2026-W48"
  int incidents = 0;
  int pages = 0;
  int l1_shifts = 0;  // L1 shifts starting in the week (with a roster)
  std::optional<double> pages_per_l1_shift;
};

struct NightRow {  // per paged person with at least one night page
  std::string person;
  std::string time_zone;
  int wakeups = 0;
  int nights = 0;           // distinct nights with a wake-up
  int worst = 0;            // most wake-ups in one night
  std::string worst_night;  // local date of that night's evening, "2026-11-21"
  int nights_over_goal = 0;
};

struct RuleNoise {
  std::string rule;  // alertname
  int incidents = 0;
  int noisy = 0;
};

struct ProviderShare {
  std::string provider;  // the alerts' `provider` label
  int incidents = 0;
};

struct PersonLoad {
  std::string person;
  int pages = 0;
  int undelivered = 0;  // of those, pages that reached them by no channel
  int shifts = 0;       // shifts held in the range (with a roster)
};

struct OncallReport {
  OncallOptions options;
  int incidents = 0;
  int acknowledged = 0;
  int resolved = 0;
  std::vector<ResponseRow> response;
  int pages = 0;  // people the ladder decided to page (page_decided targets)
  // Of those, pages whose every delivery to the person failed or could not be made (no channel
  // reaches them): nobody was woken, so they count in no night.
  int pages_undelivered = 0;
  std::vector<WeekRow> weeks;
  int l1_shifts = 0;  // with a roster
  std::optional<double> pages_per_l1_shift;
  std::vector<NightRow> nights;
  int noisy = 0;  // resolved without any human action
  std::vector<RuleNoise> noisiest;
  int reached_l2 = 0;
  int reached_duty_manager = 0;
  int sev12 = 0;
  int sev12_external = 0;  // SEV-1/2 with a `provider` label on an alert or cause
  std::vector<ProviderShare> sev12_by_provider;
  std::vector<PersonLoad> load;
  std::optional<double> load_max_over_mean;  // 1.0 is perfectly even
};

// Computes the report from incidents opened in [from, to). `schedule` (may be null) gives
// people's time zones and teams, and the shifts for pages per shift and load. With a team,
// an incident counts when its domain is the team or it paged someone of the team's rotations.
OncallReport BuildOncallReport(const std::vector<IncidentRecord>& records,
                               const oncall::Schedule* schedule, const OncallOptions& options);

std::string RenderOncallTable(const OncallReport& report);
std::string RenderOncallMarkdown(const OncallReport& report);
std::string RenderOncallCsv(const OncallReport& report);
std::string RenderOncallJson(const OncallReport& report);

}  // namespace tocsin::report
