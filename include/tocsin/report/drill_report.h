#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report {

// One ladder step of a drill: when it paged whom, and how long the ack took from that page.
struct DrillStepResult {
  int step = 0;  // 1-based, as people say it
  TimePoint paged_at{};
  std::vector<std::string> people;
  // What became of the step's page to each person: "olena: pagerduty failed".
  std::vector<std::string> deliveries;
  // Deliveries are recorded and none reached anyone (all failed or none could be made): the
  // ack that followed, if any, came from someone else's page.
  bool reached_nobody = false;
  std::optional<Duration> time_to_ack;  // unset: not acknowledged (yet)
};

// What a drill measured, from its timeline (docs/reports.md, "Drills").
struct DrillResult {
  std::string incident_id;
  std::string scenario;
  std::string team;
  std::string runbook;  // the right runbook
  std::string sev;
  std::string state;  // "running" or "stopped"
  TimePoint started_at{};
  TimePoint stopped_at{};               // zero while running
  std::string acknowledged_by;          // the first acknowledgement's
  std::optional<Duration> time_to_ack;  // from the start to the first acknowledgement
  std::vector<DrillStepResult> steps;
  // The first note or status update by a person (not tocsin) that names the right runbook:
  // the moment the team showed it had found it. Unset: not yet.
  std::optional<Duration> time_to_runbook;
  std::string runbook_found_by;
};

// The drills among `records` (incidents flagged drill), oldest first; `team` filters when set.
std::vector<DrillResult> BuildDrillReport(const std::vector<IncidentRecord>& records,
                                          const std::string& team = {});
std::string RenderDrillTable(const std::vector<DrillResult>& drills);
std::string RenderDrillJson(const std::vector<DrillResult>& drills);

}  // namespace tocsin::report
