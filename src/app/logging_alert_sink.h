#pragma once

#include "tocsin/rules/alert.h"

namespace tocsin::app {

// Placeholder AlertSink until the dispatcher (issue 4) is wired: logs every firing and resolved
// alert the rules engine produces, one line each. The lead replaces it with the dispatcher at
// merge. Thread-safety: loop thread only.
class LoggingAlertSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>& alerts, TimePoint now) override;
};

}  // namespace tocsin::app
