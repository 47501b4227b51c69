#include "tocsin/incident/incident.h"

#include <fmt/format.h>

namespace tocsin::incident {

std::string_view IncidentStateName(IncidentState s) {
  switch (s) {
    case IncidentState::kTriggered:
      return "triggered";
    case IncidentState::kAcknowledged:
      return "acknowledged";
    case IncidentState::kResolved:
      return "resolved";
  }
  return "triggered";
}

std::optional<IncidentState> ParseIncidentState(std::string_view s) {
  if (s == "triggered") return IncidentState::kTriggered;
  if (s == "acknowledged") return IncidentState::kAcknowledged;
  if (s == "resolved") return IncidentState::kResolved;
  return std::nullopt;
}

std::string SevName(Sev s) { return fmt::format("SEV-{}", static_cast<int>(s)); }

Sev SevOf(const std::vector<Alert>& alerts) {
  int best = 4;
  bool any_label = false;
  for (const auto& a : alerts) {
    if (!a.firing()) continue;
    auto label = a.labels.Get("sev");
    if (!label) continue;
    std::string_view v = *label;
    if (v.size() > 4 && (v.substr(0, 4) == "sev-" || v.substr(0, 4) == "SEV-")) v.remove_prefix(4);
    if (v.size() == 1 && v[0] >= '1' && v[0] <= '4') {
      best = std::min(best, v[0] - '0');
      any_label = true;
    }
  }
  if (any_label) return static_cast<Sev>(best);
  for (const auto& a : alerts) {
    if (!a.firing()) continue;
    int s = a.severity == Severity::kCritical ? 2 : a.severity == Severity::kError ? 3 : 4;
    best = std::min(best, s);
  }
  return static_cast<Sev>(best);
}

}  // namespace tocsin::incident
