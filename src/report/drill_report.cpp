#include "tocsin/report/drill_report.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"
#include "tocsin/incident/incident.h"
#include "tocsin/report/records.h"

namespace tocsin::report {

namespace {

using nlohmann::json;

// tocsin's own entries and provider echoes are not a person finding the runbook.
bool ByPerson(const incident::TimelineEvent& e) {
  return !e.actor.empty() && e.actor != incident::kSystemActor;
}

std::string Seconds(const std::optional<Duration>& d) {
  return d ? FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(*d)) : "--";
}

json OptSeconds(const std::optional<Duration>& d) {
  if (!d) return nullptr;
  return std::chrono::duration_cast<std::chrono::seconds>(*d).count();
}

}  // namespace

std::vector<DrillResult> BuildDrillReport(const std::vector<IncidentRecord>& records,
                                          const std::string& team) {
  std::vector<DrillResult> out;
  for (const auto& rec : records) {
    const auto& inc = rec.incident;
    if (!inc.drill) continue;
    DrillResult d;
    d.incident_id = inc.id;
    d.sev = incident::SevName(inc.sev);
    d.started_at = inc.opened_at;
    d.state = inc.open() ? "running" : "stopped";
    if (!inc.open()) d.stopped_at = inc.resolved_at;
    const auto ack = FirstAcknowledgement(rec.timeline);
    if (ack) {
      d.acknowledged_by = ack->by;
      d.time_to_ack = ack->at - inc.opened_at;
    }
    const auto pages = PersonPagesOf(rec.timeline);
    for (std::size_t i = 0; i < rec.timeline.size(); ++i) {
      const auto& e = rec.timeline[i];
      auto data = json::parse(e.data, nullptr, false);
      if (e.kind == "opened" && data.is_object() && data.contains("drill")) {
        const auto& drill = data["drill"];
        d.scenario = drill.value("scenario", "");
        d.team = drill.value("team", "");
        d.runbook = drill.value("runbook", "");
      } else if (e.kind == incident::kEventPageDecided && data.is_object()) {
        DrillStepResult s;
        s.step = data.value("step", 0) + 1;
        s.paged_at = e.at;
        for (const auto& t : data.value("targets", json::array())) {
          if (t.is_object()) s.people.push_back(t.value("person", ""));
        }
        bool recorded = false;
        bool reached = false;
        for (const auto& p : pages) {
          if (p.event != i) continue;  // this event's people, never another's of the same time
          recorded = recorded || !p.deliveries.empty();
          reached = reached || !p.Undelivered();
          for (const auto& how : p.deliveries) s.deliveries.push_back(p.person + ": " + how);
        }
        s.reached_nobody = recorded && !reached;
        if (ack && ack->at >= e.at) s.time_to_ack = ack->at - e.at;
        d.steps.push_back(std::move(s));
      } else if ((e.kind == "note" || e.kind == "status_update") && ByPerson(e) &&
                 !d.runbook.empty() && !d.time_to_runbook &&
                 AsciiLower(e.text).find(AsciiLower(d.runbook)) != std::string::npos) {
        d.time_to_runbook = e.at - inc.opened_at;
        d.runbook_found_by = e.actor;
      }
    }
    if (!team.empty() && d.team != team) continue;
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(),
            [](const DrillResult& a, const DrillResult& b) { return a.started_at < b.started_at; });
  return out;
}

std::string RenderDrillTable(const std::vector<DrillResult>& drills) {
  if (drills.empty()) return "no drills in this range\n";
  std::string out =
      fmt::format("{:<10} {:<24} {:<12} {:<8} {:<20} {:>8} {:>8}  {}\n", "DRILL", "SCENARIO",
                  "TEAM", "STATE", "STARTED", "ACK", "RUNBOOK", "ACK PER STEP");
  for (const auto& d : drills) {
    std::string steps;
    for (const auto& s : d.steps) {
      steps += fmt::format("{}step {}: {}{}", steps.empty() ? "" : ", ", s.step,
                           Seconds(s.time_to_ack), s.reached_nobody ? " (reached nobody)" : "");
    }
    out += fmt::format("{:<10} {:<24} {:<12} {:<8} {:<20} {:>8} {:>8}  {}\n", d.incident_id,
                       d.scenario, d.team.empty() ? "-" : d.team, d.state,
                       FormatRfc3339(d.started_at), Seconds(d.time_to_ack),
                       Seconds(d.time_to_runbook), steps.empty() ? "-" : steps);
  }
  return out;
}

std::string RenderDrillJson(const std::vector<DrillResult>& drills) {
  json out = json::array();
  for (const auto& d : drills) {
    json steps = json::array();
    for (const auto& s : d.steps) {
      steps.push_back({{"step", s.step},
                       {"paged_at", FormatRfc3339(s.paged_at)},
                       {"people", s.people},
                       {"deliveries", s.deliveries},
                       {"reached_nobody", s.reached_nobody},
                       {"time_to_ack_seconds", OptSeconds(s.time_to_ack)}});
    }
    out.push_back({{"incident_id", d.incident_id},
                   {"scenario", d.scenario},
                   {"team", d.team},
                   {"sev", d.sev},
                   {"state", d.state},
                   {"started_at", FormatRfc3339(d.started_at)},
                   {"stopped_at", d.stopped_at == TimePoint{} ? json(nullptr)
                                                              : json(FormatRfc3339(d.stopped_at))},
                   {"acknowledged_by", d.acknowledged_by},
                   {"time_to_ack_seconds", OptSeconds(d.time_to_ack)},
                   {"runbook", d.runbook},
                   {"time_to_runbook_seconds", OptSeconds(d.time_to_runbook)},
                   {"runbook_found_by", d.runbook_found_by},
                   {"steps", steps}});
  }
  return DumpJson(out, 2) + "\n";
}

}  // namespace tocsin::report
