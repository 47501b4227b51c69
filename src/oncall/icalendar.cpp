#include "tocsin/oncall/icalendar.h"

#include <date/date.h>
#include <fmt/format.h>

#include "tocsin/common/text.h"

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

// RFC 5545 3.1: a content line longer than 75 octets is folded, CRLF followed by a space,
// which readers remove when unfolding. A cut never falls inside a UTF-8 sequence (the RFC
// asks for that as well, and some readers show a broken character otherwise).
void AppendLine(std::string& out, std::string_view line) {
  constexpr std::size_t kMaxOctets = 75;
  std::size_t limit = kMaxOctets;  // the first line; later ones lose one octet to the space
  while (line.size() > limit) {
    std::size_t cut = Utf8Boundary(line, limit);
    if (cut == 0) cut = limit;  // not UTF-8: any octet boundary will do
    out.append(line.substr(0, cut));
    out += "\r\n ";
    line.remove_prefix(cut);
    limit = kMaxOctets - 1;
  }
  out.append(line);
  out += "\r\n";
}

}  // namespace

std::string ExportICalendar(const Schedule& schedule, const std::string& person, TimePoint from,
                            TimePoint to, TimePoint generated_at) {
  std::string out;
  auto line = [&out](std::string_view text) { AppendLine(out, text); };
  line("BEGIN:VCALENDAR");
  line("VERSION:2.0");
  line("PRODID:-//tocsin//on-call roster//EN");
  line("CALSCALE:GREGORIAN");
  line("METHOD:PUBLISH");
  line("X-WR-CALNAME:" + Escape("On call: " + person));
  for (const auto& s : schedule.Shifts(from, to)) {
    if (s.person != person) continue;
    line("BEGIN:VEVENT");
    line(fmt::format("UID:{}-{}-{}@tocsin", s.rotation, person, ToUnixMillis(s.start)));
    line("DTSTAMP:" + IcalTime(generated_at));
    // The calendar block includes the warm handover: that is when the person must be there.
    line("DTSTART:" + IcalTime(s.start - s.warm_handover));
    line("DTEND:" + IcalTime(s.end));
    line("SUMMARY:" + Escape("On call: " + s.role + " (" + s.rotation + ")"));
    std::string desc = "Rotation " + s.rotation + ", role " + s.role;
    if (!s.region.empty()) desc += ", region " + s.region;
    if (!s.override_reason.empty()) desc += ", override: " + s.override_reason;
    if (s.warm_handover.count() > 0) {
      desc +=
          fmt::format(", warm handover from {} min before the shift",
                      std::chrono::duration_cast<std::chrono::minutes>(s.warm_handover).count());
    }
    line("DESCRIPTION:" + Escape(desc));
    line("END:VEVENT");
  }
  line("END:VCALENDAR");
  return out;
}

}  // namespace tocsin::oncall
