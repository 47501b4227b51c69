#include "tocsin/dispatch/alert_group.h"

namespace tocsin::dispatch {

bool AlertGroup::AllResolved() const {
  for (const auto& a : alerts) {
    if (!a.ResolvedAt(flushed_at)) return false;
  }
  return true;
}

Severity AlertGroup::HighestSeverity() const {
  Severity best = Severity::kInfo;
  for (const auto& a : alerts) {
    if (a.ResolvedAt(flushed_at)) continue;
    if (static_cast<int>(a.severity) < static_cast<int>(best)) best = a.severity;
  }
  return best;
}

}  // namespace tocsin::dispatch
