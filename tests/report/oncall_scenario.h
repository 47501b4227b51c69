// The records of an on-call week for the report tests: a roster in two time zones and a builder
// of incidents and their timelines, in the shape the store holds them. Pages are bare
// `page_decided` events unless a test adds their deliveries (page_outcome_test.cpp does).
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tocsin/common/duration.h"
#include "tocsin/incident/timeline.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report::scenario {

using json = nlohmann::json;

// Kyiv is UTC+2 and New York UTC-5 in that week (both after their DST ends).
inline constexpr const char* kRoster = R"(people:
  kyiv: {name: Kyiv L1, time_zone: Europe/Kyiv}
  ny: {name: NY L2, time_zone: America/New_York}
  gina: {name: Games L1, time_zone: America/New_York}
  dm: {name: Duty Manager, time_zone: Europe/Kyiv}
  olga: {name: Kyiv L1 too, time_zone: Europe/Kyiv}
  gus: {name: Games L1 too, time_zone: America/New_York}
teams:
  payments: {members: [kyiv, olga, ny]}
  games: {members: [gina, gus]}
  management: {members: [dm]}
rotations:
  payments-l1: {role: l1, team: payments, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [kyiv, olga]}
  payments-l2: {role: l2-payments, team: payments, time_zone: America/New_York, start_date: 2026-11-02, handovers: ["09:00"], members: [ny]}
  games-l1: {role: l1, team: games, time_zone: America/New_York, start_date: 2026-11-02, handovers: ["09:00"], members: [gina, gus]}
  duty: {role: duty-manager, team: management, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00"], members: [dm]}
)";

inline TimePoint At(const char* rfc3339) { return *ParseTime(rfc3339); }

struct Scenario {
  std::vector<IncidentRecord> records;

  IncidentRecord& Open(int n, const char* domain, incident::Sev sev, const char* opened,
                       const char* alertname, const char* provider = nullptr) {
    IncidentRecord r;
    r.incident.id = "INC-" + std::to_string(n);
    r.incident.number = n;
    r.incident.key = "group/" + std::to_string(n);
    r.incident.title = alertname;
    r.incident.domain = domain;
    r.incident.sev = sev;
    r.incident.opened_at = At(opened);
    Alert a;
    a.labels = Labels{{"alertname", alertname}, {"domain", domain}};
    if (provider) a.labels = Labels{{"alertname", alertname}, {"provider", provider}};
    r.incident.alerts.push_back(a);
    records.push_back(std::move(r));
    Event(records.back(), opened, "opened", "tocsin", "{}");
    return records.back();
  }
  static void Event(IncidentRecord& r, const char* at, const char* kind, const char* actor,
                    std::string data) {
    incident::TimelineEvent e;
    e.incident_id = r.incident.id;
    e.at = At(at);
    e.kind = kind;
    e.actor = actor;
    e.text = kind;
    e.data = std::move(data);
    incident::ChainEvent(r.incident, e);
    r.timeline.push_back(std::move(e));
  }
  static void Page(IncidentRecord& r, const char* at, const char* person, const char* role) {
    Event(
        r, at, "page_decided", "tocsin",
        json{{"step", 0}, {"targets", json::array({{{"person", person}, {"role", role}}})}}.dump());
  }
  static void Ack(IncidentRecord& r, const char* at, const char* who) {
    r.incident.state = incident::IncidentState::kAcknowledged;
    r.incident.acknowledged_at = At(at);
    r.incident.acknowledged_by = who;
    Event(r, at, "acknowledged", who, "{}");
  }
  static void Resolve(IncidentRecord& r, const char* at, const char* who) {
    r.incident.state = incident::IncidentState::kResolved;
    r.incident.resolved_at = At(at);
    r.incident.resolved_by = who;
    Event(r, at, std::string(who) == "tocsin" ? "auto_resolved" : "resolved", who, "{}");
  }
};

inline OncallOptions TheWeek(std::string team = {}) {
  OncallOptions o;
  o.from = At("2026-11-02T00:00:00Z");
  o.to = At("2026-11-09T00:00:00Z");
  o.team = std::move(team);
  return o;
}

inline oncall::Schedule LoadSchedule() {
  config::Diagnostics diags;
  auto roster = oncall::LoadRosterString("roster.yaml", kRoster, diags);
  if (!roster) {
    ADD_FAILURE() << diags.ToString();
    return oncall::Schedule(oncall::Roster{});
  }
  return oncall::Schedule(std::move(*roster));
}

}  // namespace tocsin::report::scenario
