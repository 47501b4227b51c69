#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/incident/incident.h"

namespace tocsin::incident {

// One status update of an incident, as the war room and the status page read it: the current
// situation, the temporary measures in place, and when the next update comes. The affected
// markets and brands are not typed in: they come from the incident's labels (AffectedOf).
struct StatusUpdate {
  std::string situation;
  std::string measures;
  Duration next_update_in{0};  // zero: the configured reminder interval
  friend bool operator==(const StatusUpdate&, const StatusUpdate&) = default;
};

// The markets and brands an incident touches: every distinct value of the `market` and
// `brand` labels of its group and alerts, sorted.
struct AffectedScope {
  std::vector<std::string> markets;
  std::vector<std::string> brands;
};
AffectedScope AffectedOf(const Incident& incident);

// The war-room text of `update` (four lines of the fixed template).
std::string RenderStatusUpdate(const Incident& incident, const StatusUpdate& update);
// The template a status reminder offers, with what tocsin already knows filled in and the
// command that posts it.
std::string StatusUpdateTemplate(const Incident& incident, Duration next_update_in);

// A drill's identity, recorded in its "opened" timeline event (data.drill) for
// `tocsin report drills`.
struct DrillSpec {
  std::string scenario;
  std::string team;
  // The runbook the responders should find (a runbook name such as "deposit-psp"); the first
  // note or status update by a person that names it is the "right runbook" moment.
  std::string runbook;
  friend bool operator==(const DrillSpec&, const DrillSpec&) = default;
};

}  // namespace tocsin::incident
