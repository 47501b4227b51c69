#include "tocsin/oncall/icalendar.h"

#include <date/date.h>
#include <fmt/format.h>

namespace tocsin::oncall {

namespace {

std::string IcalTime(TimePoint t) {
  auto sys = date::sys_time<std::chrono::seconds>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()));
  return date::format("%Y%m%dT%H%M%SZ", sys);
}

// RFC 5545 3.3.11: backslash, semicolon and comma are escaped in TEXT values.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ';' || c == ',') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string ExportICalendar(const Schedule& schedule, const std::string& person, TimePoint from,
                            TimePoint to, TimePoint generated_at) {
  std::string out =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tocsin//on-call roster//EN\r\n"
      "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n";
  out += fmt::format("X-WR-CALNAME:{}\r\n", Escape("On call: " + person));
  for (const auto& s : schedule.Shifts(from, to)) {
    if (s.person != person) continue;
    out += "BEGIN:VEVENT\r\n";
    out += fmt::format("UID:{}-{}-{}@tocsin\r\n", s.rotation, person, ToUnixMillis(s.start));
    out += fmt::format("DTSTAMP:{}\r\n", IcalTime(generated_at));
    // The calendar block includes the warm handover: that is when the person must be there.
    out += fmt::format("DTSTART:{}\r\n", IcalTime(s.start - s.warm_handover));
    out += fmt::format("DTEND:{}\r\n", IcalTime(s.end));
    out += fmt::format("SUMMARY:{}\r\n", Escape("On call: " + s.role + " (" + s.rotation + ")"));
    std::string desc = "Rotation " + s.rotation + ", role " + s.role;
    if (!s.region.empty()) desc += ", region " + s.region;
    if (!s.override_reason.empty()) desc += ", override: " + s.override_reason;
    if (s.warm_handover.count() > 0) {
      desc +=
          fmt::format(", warm handover from {} min before the shift",
                      std::chrono::duration_cast<std::chrono::minutes>(s.warm_handover).count());
    }
    out += fmt::format("DESCRIPTION:{}\r\n", Escape(desc));
    out += "END:VEVENT\r\n";
  }
  out += "END:VCALENDAR\r\n";
  return out;
}

}  // namespace tocsin::oncall
