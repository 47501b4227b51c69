// tocsin roster who|show|check|ical: read the roster from the config files (no daemon needed).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/config/config.h"
#include "tocsin/oncall/fairness.h"
#include "tocsin/oncall/icalendar.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::cli {

namespace {

struct RosterOptions {
  std::string config;  // FindConfigPath
  std::string roster;  // overrides the config's roster_file
  std::string output = "table";
};

// Loads the roster named by --roster or by the config's roster_file; prints diagnostics.
std::optional<oncall::Schedule> LoadSchedule(const RosterOptions& o, int& exit_code) {
  std::string path = o.roster;
  if (path.empty()) {
    auto found = FindConfigPath(o.config);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {} (or pass --roster FILE)\n", found.error);
      exit_code = kExitUsage;
      return std::nullopt;
    }
    auto cfg = config::LoadConfig(found.path);
    if (!cfg.config) {
      fmt::print(stderr, "{}", cfg.diagnostics.ToString());
      exit_code = cfg.io_error ? kExitUsage : kExitFailure;
      return std::nullopt;
    }
    path = cfg.config->roster_file;
    if (path.empty()) {
      fmt::print(stderr, "{}: no roster_file is configured (or pass --roster FILE)\n", found.path);
      exit_code = kExitUsage;
      return std::nullopt;
    }
  }
  config::Diagnostics diags;
  auto roster = oncall::LoadRoster(path, diags);
  for (const auto& d : diags.items()) fmt::print(stderr, "{}\n", d.ToString());
  if (!roster) {
    bool io = !diags.items().empty() && diags.items()[0].position.line == 0;
    exit_code = io ? kExitUsage : kExitFailure;
    return std::nullopt;
  }
  return oncall::Schedule(std::move(*roster));
}

std::optional<TimePoint> ParseWhen(const std::string& text, TimePoint now, int& exit_code) {
  if (text.empty() || text == "now") return now;
  auto t = oncall::ParseLocalTime(text, "UTC");
  if (!t) {
    fmt::print(stderr,
               "invalid time \"{}\": use RFC 3339 (2026-11-22T08:00:00Z), "
               "YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)\n",
               text);
    exit_code = kExitUsage;
  }
  return t;
}

// The newcomers shadowing the holder of `sh` (paged with them), clipped to the shift.
std::vector<oncall::Shadow> ShadowsDuring(const oncall::Schedule& s, const oncall::Shift& sh) {
  std::vector<oncall::Shadow> out;
  for (auto shadow : s.roster().shadows) {
    if (shadow.buddy != sh.person || shadow.to <= sh.start || shadow.from >= sh.end) continue;
    shadow.from = std::max(shadow.from, sh.start);
    shadow.to = std::min(shadow.to, sh.end);
    out.push_back(shadow);
  }
  return out;
}

nlohmann::json Shadows(const oncall::Schedule& s, const oncall::Shift& sh) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& shadow : ShadowsDuring(s, sh)) {
    out.push_back({{"person", shadow.newcomer},
                   {"from", FormatRfc3339(shadow.from)},
                   {"to", FormatRfc3339(shadow.to)}});
  }
  return out;
}

nlohmann::json ShiftJson(const oncall::Schedule& s, const oncall::Shift& sh) {
  const auto* p = s.roster().FindPerson(sh.person);
  return {{"role", sh.role},
          {"person", sh.person},
          {"name", p ? p->name : ""},
          {"rotation", sh.rotation},
          {"team", sh.team},
          {"region", sh.region},
          {"start", FormatRfc3339(sh.start)},
          {"end", FormatRfc3339(sh.end)},
          {"override", sh.override_reason},
          {"shadows", Shadows(s, sh)}};
}

void PrintShifts(const oncall::Schedule& s, const std::vector<oncall::Shift>& shifts,
                 const std::string& output) {
  if (output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& sh : shifts) out.push_back(ShiftJson(s, sh));
    fmt::print("{}\n", DumpJson(out, 2));
    return;
  }
  Table table({"ROLE", "PERSON", "ROTATION", "FROM", "TO", "NOTE"});
  for (const auto& sh : shifts) {
    const auto* p = s.roster().FindPerson(sh.person);
    std::string zone = p ? p->time_zone : sh.time_zone;
    std::string note = sh.region;
    auto add_note = [&note](const std::string& text) { note += (note.empty() ? "" : ", ") + text; };
    if (!sh.override_reason.empty()) add_note(sh.override_reason);
    if (sh.warm_handover.count() > 0) {
      add_note(
          fmt::format("handover from -{}m",
                      std::chrono::duration_cast<std::chrono::minutes>(sh.warm_handover).count()));
    }
    table.AddRow({sh.role, sh.person, sh.rotation, oncall::FormatLocal(sh.start, zone),
                  oncall::FormatLocal(sh.end, zone), note});
    // Newcomers shadowing this person are paged with them: they are on call too.
    for (const auto& shadow : ShadowsDuring(s, sh)) {
      table.AddRow({sh.role, shadow.newcomer, sh.rotation, oncall::FormatLocal(shadow.from, zone),
                    oncall::FormatLocal(shadow.to, zone), "shadows " + sh.person});
    }
  }
  table.Print();
}

}  // namespace

void AddRosterCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("roster", "Who is on call, shifts, fairness checks, calendars");
  cmd->require_subcommand(1);
  cmd->fallthrough();  // -c and --url may follow the subcommand too
  auto opts = std::make_shared<RosterOptions>();
  AddConfigOption(*cmd, opts->config, " (for roster_file)");
  cmd->add_option("--roster", opts->roster, "Roster file (instead of the config's roster_file)");

  auto who = cmd->add_subcommand("who", "Who is on call now (or --at TIME)");
  auto at = std::make_shared<std::string>();
  auto team = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  who->add_option("--at", *at, "Time: RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)");
  who->add_option("--team", *team, "Only this team");
  who->add_option("--role", *role, "Only this role (l1, l2-payments, comms, duty-manager, ...)");
  who->add_option("-o,--output", opts->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  who->callback([&exit_code, opts, at, team, role] {
    auto s = LoadSchedule(*opts, exit_code);
    if (!s) return;
    SystemClock clock;
    auto when = ParseWhen(*at, clock.Now(), exit_code);
    if (!when) return;
    std::vector<oncall::Shift> shifts;
    for (const auto& sh : s->OnCall(*when, *role)) {
      if (team->empty() || sh.team == *team) shifts.push_back(sh);
    }
    PrintShifts(*s, shifts, opts->output);
    exit_code = kExitOk;
  });

  auto show = cmd->add_subcommand("show", "Every shift between two dates");
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  show->add_option("--from", *from, "Start (YYYY-MM-DD or RFC 3339)")->required();
  show->add_option("--to", *to, "End (exclusive)")->required();
  show->add_option("--team", *team, "Only this team");
  show->add_option("--role", *role, "Only this role");
  show->add_option("-o,--output", opts->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  show->callback([&exit_code, opts, from, to, team, role] {
    auto s = LoadSchedule(*opts, exit_code);
    if (!s) return;
    SystemClock clock;
    auto f = ParseWhen(*from, clock.Now(), exit_code);
    auto t = ParseWhen(*to, clock.Now(), exit_code);
    if (!f || !t) return;
    std::vector<oncall::Shift> shifts;
    for (const auto& sh : s->Shifts(*f, *t)) {
      if ((team->empty() || sh.team == *team) && (role->empty() || sh.role == *role)) {
        shifts.push_back(sh);
      }
    }
    PrintShifts(*s, shifts, opts->output);
    exit_code = kExitOk;
  });

  auto check = cmd->add_subcommand("check", "Fairness and coverage over the coming weeks");
  auto weeks = std::make_shared<int>(4);
  check->add_option("--weeks", *weeks, "How many weeks ahead")->check(CLI::Range(1, 104));
  check->add_option("--from", *from, "Start instead of now");
  check->add_option("-o,--output", opts->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  check->callback([&exit_code, opts, weeks, from] {
    auto s = LoadSchedule(*opts, exit_code);
    if (!s) return;
    SystemClock clock;
    auto start = ParseWhen(*from, clock.Now(), exit_code);
    if (!start) return;
    auto findings = oncall::CheckRoster(*s, *start, *start + std::chrono::hours(24 * 7 * *weeks));
    if (opts->output == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& f : findings) {
        out.push_back({{"rule", f.rule},
                       {"person", f.person},
                       {"from", f.from},
                       {"to", f.to},
                       {"message", f.message}});
      }
      fmt::print("{}\n", DumpJson(out, 2));
    } else {
      for (const auto& f : findings) {
        fmt::print("{}:{}:{}: [{}] {}\n", s->roster().file, f.source.line, f.source.column, f.rule,
                   f.message);
      }
      fmt::print("{}: {} finding(s) in the next {} week(s)\n", s->roster().file, findings.size(),
                 *weeks);
    }
    exit_code = findings.empty() ? kExitOk : kExitFailure;
  });

  auto ical = cmd->add_subcommand("ical", "iCalendar (.ics) of one person's shifts");
  auto person = std::make_shared<std::string>();
  ical->add_option("--person", *person, "Person id from the roster")->required();
  ical->add_option("--weeks", *weeks, "How many weeks ahead")->check(CLI::Range(1, 104));
  ical->callback([&exit_code, opts, person, weeks] {
    auto s = LoadSchedule(*opts, exit_code);
    if (!s) return;
    if (!s->roster().FindPerson(*person)) {
      fmt::print(stderr, "unknown person \"{}\"\n", *person);
      exit_code = kExitUsage;
      return;
    }
    SystemClock clock;
    TimePoint now = clock.Now();
    fmt::print("{}", oncall::ExportICalendar(*s, *person, now - std::chrono::hours(24 * 7),
                                             now + std::chrono::hours(24 * 7 * *weeks), now));
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
