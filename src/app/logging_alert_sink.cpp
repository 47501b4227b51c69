#include "logging_alert_sink.h"

#include <spdlog/spdlog.h>

#include "tocsin/common/duration.h"

namespace tocsin::app {

void LoggingAlertSink::OnAlerts(const std::vector<Alert>& alerts, TimePoint now) {
  for (const auto& a : alerts) {
    spdlog::info("alert {} {} at {}: {}", AlertStateName(a.state), a.labels.ToString(),
                 FormatRfc3339(now), a.Annotation("summary"));
  }
}

}  // namespace tocsin::app
