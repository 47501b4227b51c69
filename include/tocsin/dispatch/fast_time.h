#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tocsin/common/clock.h"

namespace tocsin::dispatch {

// RFC 3339 parsing and formatting without streams, for the Alertmanager API's hot paths (each
// posted alert carries two timestamps; each listed alert three). ParseRfc3339Fast handles
// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" and returns nullopt for anything else, so the
// caller can fall back to the general ParseTime.
std::optional<TimePoint> ParseRfc3339Fast(std::string_view s);
void AppendRfc3339(std::string& out, TimePoint t);

}  // namespace tocsin::dispatch
