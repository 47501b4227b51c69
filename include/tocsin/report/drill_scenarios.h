#pragma once

#include <map>
#include <string>
#include <vector>

#include "tocsin/common/labels.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::report {

// One alert a drill scenario raises, as Prometheus would have sent it.
struct DrillAlert {
  Labels labels;
  std::map<std::string, std::string> annotations;
};

// One drill scenario of a scenarios file (config/drills.yaml): what it raises and which
// runbook the responders should find. Plain value.
struct DrillScenario {
  std::string name;
  std::string title;
  std::string description;
  std::string policy;   // escalation policy the drill runs; empty: "default"
  std::string runbook;  // the right runbook (a name in runbooks/, e.g. "deposit-psp")
  std::vector<DrillAlert> alerts;
};

// Reads a scenarios file strictly (unknown keys, missing alertname or runbook are errors with
// file:line:col). Returns the scenarios in file order; empty with errors in `diags` on failure.
// With `policies` (the escalation policies of the config), a scenario's `policy` must be one of
// them: the daemon refuses a drill on another, so `tocsin check` says so before the drill day.
std::vector<DrillScenario> LoadDrillScenarios(const std::string& path, config::Diagnostics& diags,
                                              const std::vector<std::string>* policies = nullptr);

}  // namespace tocsin::report
