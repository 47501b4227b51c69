#pragma once
// Alerts as Prometheus sends them to an Alertmanager, for the tests that play Prometheus.
#include <chrono>

#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"

namespace tocsin::testing {

// Makes `alert` its resolve as Prometheus re-sends one once the rule stopped firing: started a
// minute ago, ended a second ago.
inline void AsResolvedNow(nlohmann::json& alert) {
  using namespace std::chrono_literals;
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  alert["startsAt"] = FormatRfc3339(now - 1min);
  alert["endsAt"] = FormatRfc3339(now - 1s);
}

}  // namespace tocsin::testing
