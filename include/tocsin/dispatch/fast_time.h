#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tocsin/common/clock.h"

namespace tocsin::dispatch {

// RFC 3339 formatting without streams, for the Alertmanager API's listings (each listed alert
// carries three timestamps). Parsing: ParseRfc3339 (common/duration.h).
void AppendRfc3339(std::string& out, TimePoint t);

}  // namespace tocsin::dispatch
