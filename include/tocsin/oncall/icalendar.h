#pragma once

#include <string>

#include "tocsin/oncall/schedule.h"

namespace tocsin::oncall {

// RFC 5545 calendar of `person`'s shifts in [from, to), one VEVENT per shift with a stable UID
// so re-imports update instead of duplicating. Times are UTC ("Z"), which every calendar
// shows in the reader's own zone.
std::string ExportICalendar(const Schedule& schedule, const std::string& person, TimePoint from,
                            TimePoint to, TimePoint generated_at);

}  // namespace tocsin::oncall
