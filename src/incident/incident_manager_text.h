#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/clock.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/page.h"

// Small helpers shared by the files of IncidentManager (incident_manager.cpp and
// incident_lanes.cpp: store and lanes; incident_lifecycle.cpp: open, acknowledge, resolve, notes;
// incident_escalation.cpp: ladder, reminders, handovers). Internal to the incident module.
namespace tocsin::incident::manager_detail {

using incident::kSystemActor;
// How long a transition the store refused waits before it is tried again.
inline constexpr Duration kStoreRetry = std::chrono::seconds(10);
// Incidents Start() arms, and pages decided before this start it hands over, per loop turn.
inline constexpr std::size_t kResumeChunk = 256;

inline std::vector<std::string> ChannelNames(const std::vector<Channel>& channels) {
  std::vector<std::string> out;
  for (auto c : channels) out.emplace_back(ChannelName(c));
  return out;
}

// " via slack" for the timeline text; nothing for tocsin's own actions.
inline std::string Via(std::string_view origin) {
  return origin.empty() ? std::string() : fmt::format(" via {}", origin);
}

inline std::string OriginData(std::string_view origin) {
  return origin.empty() ? std::string("{}")
                        : DumpJson(nlohmann::json{{"origin", std::string(origin)}});
}

}  // namespace tocsin::incident::manager_detail
