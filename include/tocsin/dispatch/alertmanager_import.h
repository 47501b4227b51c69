#pragma once

#include <optional>
#include <string>

#include "tocsin/config/diagnostics.h"

namespace tocsin::dispatch {

struct AlertmanagerImportOptions {
  // The escalation policy that PagerDuty and Opsgenie receivers page through (tocsin pages
  // people through a policy; the providers' keys are set once under `providers:`).
  std::string escalation_policy = "default";
};

struct AlertmanagerImport {
  // `route`, `receivers` and `inhibit_rules` sections for tocsin.yaml; every field not mapped
  // is a comment where it was.
  std::string yaml;
  std::size_t routes = 0;
  std::size_t receivers = 0;
  std::size_t inhibit_rules = 0;
};

// Converts an Alertmanager configuration file (alertmanager.yml). Each field that cannot be
// mapped is a warning in `diags` with the file:line and why; a file that cannot be read or has
// no route is an error (nullopt). A plain function, safe from any thread.
std::optional<AlertmanagerImport> ImportAlertmanagerConfig(const std::string& file,
                                                           const AlertmanagerImportOptions& options,
                                                           config::Diagnostics& diags);

}  // namespace tocsin::dispatch
