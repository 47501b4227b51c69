#pragma once

#include <string>

#include "tocsin/common/result.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// The outbox stores each PageRequest as JSON so that a restart re-renders exactly what the
// incident side asked for. Round-trips every field (ToPageJson then FromPageJson gives an
// equal value, times at millisecond precision).
std::string ToPageJson(const incident::PageRequest& request);
Result<incident::PageRequest> FromPageJson(const std::string& json);

}  // namespace tocsin::notify
