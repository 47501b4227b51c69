#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/report/oncall_report.h"
#include "tocsin/rules/rule_set.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::report {

// Timeline event kinds of post-mortems (written by the incident manager).
inline constexpr const char* kEventPostmortem = incident::IncidentManager::kEventPostmortem;
inline constexpr const char* kEventPostmortemReminder =
    incident::IncidentManager::kEventPostmortemReminder;

// What the incident cost one SLO: its error ratio over the incident's interval and the share
// of the SLO window's error budget that this burned. Without figures, `unavailable` says why.
struct PostmortemImpact {
  std::string slo;
  double objective = 0;  // percent
  Duration window{};     // the SLO's window (30d)
  std::string source;
  std::string query;  // the PromQL evaluated at the end of the incident
  std::optional<double> error_ratio;
  std::optional<double> budget_burned;  // fraction of the window's budget
  std::string unavailable;
};

// The SLOs an incident's alerts (and causes) name with their `slo` label.
std::vector<std::string> SlosOf(const incident::Incident& incident);

// Impact of the incident on every SLO it names, from `sources` (by name; the rule group's
// source, else the evaluation's default). The interval is opened_at .. resolved_at (or `now`
// while open), in whole seconds. Blocking (network): never on the event loop.
std::vector<PostmortemImpact> MeasureImpact(
    const incident::Incident& incident, const rules::RuleSet& rules,
    const std::function<source::SliSource*(const std::string&)>& sources, TimePoint now);

struct PostmortemInput {
  IncidentRecord record;
  std::vector<PostmortemImpact> impact;
  // Why there is no impact at all (no SLO named, no configuration read); shown as is.
  std::string impact_unavailable;
  TimePoint now{};  // when the draft was written
};

// The blameless post-mortem draft in Markdown (docs/reports.md "Post-mortem draft").
std::string RenderPostmortem(const PostmortemInput& input);

// When a resolved incident is due a post-mortem reminder: `business_days` Monday-to-Friday
// days after it was resolved, at the same time of day, counted in UTC.
TimePoint PostmortemDue(TimePoint resolved_at, int business_days);

}  // namespace tocsin::report
