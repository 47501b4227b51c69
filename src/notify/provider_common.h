#pragma once

#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// Small helpers every provider folder shares.

// "2026-11-22T02:10:16Z"
std::string Iso8601(TimePoint t);
// A key no longer than `max` bytes: itself when it fits, else a prefix plus a hash of the whole,
// so two long keys never collapse into one and the same key always maps the same way.
std::string BoundedKey(const std::string& key, std::size_t max);
// "SEV-1"
std::string SevName(incident::Sev sev);

}  // namespace tocsin::notify
