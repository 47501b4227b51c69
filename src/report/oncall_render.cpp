// Output of the on-call report: an aligned table for the terminal, Markdown for a review,
// CSV (one row per figure) for a spreadsheet, JSON for scripts.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report {
namespace {

using json = nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

std::string Dur(const std::optional<Duration>& d) {
  return d ? FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(*d)) : "--";
}

std::string Share(int part, int whole) {
  if (whole == 0) return "--";
  return fmt::format("{:.1f}%", 100.0 * part / whole);
}

std::string Ratio(const std::optional<double>& v) { return v ? fmt::format("{:.2f}", *v) : "--"; }

// One section: a title and a table with a header row. Every section of every format comes from
// here, so the four outputs never disagree.
struct Section {
  std::string title;
  Rows rows;  // rows[0] is the header
};

std::vector<Section> Sections(const OncallReport& r) {
  std::vector<Section> out;
  out.push_back({"Summary",
                 {{"figure", "value"},
                  {"incidents", std::to_string(r.incidents)},
                  {"acknowledged", std::to_string(r.acknowledged)},
                  {"resolved", std::to_string(r.resolved)},
                  {"pages", std::to_string(r.pages)},
                  {"pages that reached nobody", std::to_string(r.pages_undelivered)},
                  {"L1 shifts", r.l1_shifts > 0 ? std::to_string(r.l1_shifts) : "--"},
                  {"pages per L1 shift", Ratio(r.pages_per_l1_shift)},
                  {"noisy (resolved, no human action)", Share(r.noisy, r.incidents)},
                  {"reached L2", Share(r.reached_l2, r.incidents)},
                  {"reached Duty Manager", Share(r.reached_duty_manager, r.incidents)},
                  {"SEV-1/2 caused by a provider",
                   r.sev12 > 0 ? fmt::format("{} of {} ({})", r.sev12_external, r.sev12,
                                             Share(r.sev12_external, r.sev12))
                               : "--"},
                  {"load max/mean", Ratio(r.load_max_over_mean)}}});
  Section response{
      "MTTA and MTTR by domain and SEV",
      {{"domain", "sev", "incidents", "mtta_p50", "mtta_p90", "mttr_p50", "mttr_p90"}}};
  for (const auto& row : r.response) {
    response.rows.push_back({row.domain, row.sev, std::to_string(row.incidents), Dur(row.mtta.p50),
                             Dur(row.mtta.p90), Dur(row.mttr.p50), Dur(row.mttr.p90)});
  }
  out.push_back(std::move(response));
  Section weeks{"Per week", {{"week", "incidents", "pages", "l1_shifts", "pages_per_l1_shift"}}};
  for (const auto& w : r.weeks) {
    weeks.rows.push_back({w.week, std::to_string(w.incidents), std::to_string(w.pages),
                          w.l1_shifts > 0 ? std::to_string(w.l1_shifts) : "--",
                          Ratio(w.pages_per_l1_shift)});
  }
  out.push_back(std::move(weeks));
  Section nights{
      fmt::format("Night wake-ups ({:02}:00-{:02}:00 local, goal <= {} a night)",
                  r.options.night_start_hour, r.options.night_end_hour,
                  r.options.max_wakeups_per_night),
      {{"person", "time_zone", "wakeups", "nights", "worst_night", "worst", "nights_over_goal"}}};
  for (const auto& n : r.nights) {
    nights.rows.push_back(
        {n.person, n.time_zone, std::to_string(n.wakeups), std::to_string(n.nights), n.worst_night,
         std::to_string(n.worst),
         n.nights_over_goal > 0 ? fmt::format("{} BROKEN", n.nights_over_goal) : "0"});
  }
  out.push_back(std::move(nights));
  Section noisy{"Noisiest rules", {{"rule", "incidents", "noisy"}}};
  for (const auto& n : r.noisiest) {
    noisy.rows.push_back({n.rule, std::to_string(n.incidents), std::to_string(n.noisy)});
  }
  out.push_back(std::move(noisy));
  Section providers{"SEV-1/2 by provider", {{"provider", "incidents"}}};
  for (const auto& p : r.sev12_by_provider) {
    providers.rows.push_back({p.provider, std::to_string(p.incidents)});
  }
  out.push_back(std::move(providers));
  Section load{"Load across the rotation", {{"person", "pages", "undelivered", "shifts"}}};
  for (const auto& l : r.load) {
    load.rows.push_back({l.person, std::to_string(l.pages), std::to_string(l.undelivered),
                         l.shifts > 0 ? std::to_string(l.shifts) : "--"});
  }
  out.push_back(std::move(load));
  return out;
}

std::string Period(const OncallReport& r) {
  return fmt::format("On-call report {} .. {}{} ({})", FormatRfc3339(r.options.from),
                     FormatRfc3339(r.options.to),
                     r.options.team.empty() ? "" : ", team " + r.options.team, r.options.time_zone);
}

}  // namespace

std::string RenderOncallTable(const OncallReport& report) {
  std::string out = Period(report) + "\n";
  for (const auto& s : Sections(report)) {
    out += "\n" + s.title + "\n";
    if (s.rows.size() == 1) {
      out += "  (none)\n";
      continue;
    }
    std::vector<std::size_t> width(s.rows[0].size(), 0);
    for (const auto& row : s.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : s.rows) {
      std::string line = " ";
      for (std::size_t i = 0; i < row.size(); ++i) {
        // Text left, numbers right: the first column is always a name.
        line += i == 0 ? fmt::format(" {:<{}}", row[i], width[i])
                       : fmt::format("  {:>{}}", row[i], width[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
  }
  return out;
}

std::string RenderOncallMarkdown(const OncallReport& report) {
  std::string out = "# " + Period(report) + "\n";
  for (const auto& s : Sections(report)) {
    out += "\n## " + s.title + "\n\n";
    if (s.rows.size() == 1) {
      out += "None.\n";
      continue;
    }
    for (std::size_t r = 0; r < s.rows.size(); ++r) {
      out += "|";
      for (const auto& cell : s.rows[r]) out += " " + cell + " |";
      out += "\n";
      if (r == 0) {
        out += "|";
        for (std::size_t i = 0; i < s.rows[r].size(); ++i) out += i == 0 ? "---|" : "---:|";
        out += "\n";
      }
    }
  }
  return out;
}

// section,key,column,value: one line per cell, so a spreadsheet pivot reads any figure.
std::string RenderOncallCsv(const OncallReport& report) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out = "section,key,column,value\n";
  for (const auto& s : Sections(report)) {
    const auto& header = s.rows[0];
    for (std::size_t r = 1; r < s.rows.size(); ++r) {
      std::string key = s.rows[r][0];
      if (header.size() > 1 && header[1] == "sev") key += " " + s.rows[r][1];
      for (std::size_t c = 1; c < header.size(); ++c) {
        if (header[1] == "sev" && c == 1) continue;
        out += fmt::format("{},{},{},{}\n", quote(s.title), quote(key), quote(header[c]),
                           quote(s.rows[r][c]));
      }
    }
  }
  return out;
}

std::string RenderOncallJson(const OncallReport& r) {
  auto seconds = [](const std::optional<Duration>& d) -> json {
    return d ? json(std::chrono::duration_cast<std::chrono::seconds>(*d).count()) : json();
  };
  auto opt = [](const std::optional<double>& v) -> json { return v ? json(*v) : json(); };
  json j{{"from", FormatRfc3339(r.options.from)},
         {"to", FormatRfc3339(r.options.to)},
         {"team", r.options.team},
         {"time_zone", r.options.time_zone},
         {"incidents", r.incidents},
         {"acknowledged", r.acknowledged},
         {"resolved", r.resolved},
         {"pages", r.pages},
         {"pages_undelivered", r.pages_undelivered},
         {"l1_shifts", r.l1_shifts},
         {"pages_per_l1_shift", opt(r.pages_per_l1_shift)},
         {"noisy", r.noisy},
         {"reached_l2", r.reached_l2},
         {"reached_duty_manager", r.reached_duty_manager},
         {"sev12", r.sev12},
         {"sev12_external", r.sev12_external},
         {"load_max_over_mean", opt(r.load_max_over_mean)}};
  j["response"] = json::array();
  for (const auto& row : r.response) {
    j["response"].push_back({{"domain", row.domain},
                             {"sev", row.sev},
                             {"incidents", row.incidents},
                             {"mtta_count", row.mtta.count},
                             {"mtta_p50_seconds", seconds(row.mtta.p50)},
                             {"mtta_p90_seconds", seconds(row.mtta.p90)},
                             {"mttr_count", row.mttr.count},
                             {"mttr_p50_seconds", seconds(row.mttr.p50)},
                             {"mttr_p90_seconds", seconds(row.mttr.p90)}});
  }
  j["weeks"] = json::array();
  for (const auto& w : r.weeks) {
    j["weeks"].push_back({{"week", w.week},
                          {"incidents", w.incidents},
                          {"pages", w.pages},
                          {"l1_shifts", w.l1_shifts},
                          {"pages_per_l1_shift", opt(w.pages_per_l1_shift)}});
  }
  j["nights"] = json::array();
  for (const auto& n : r.nights) {
    j["nights"].push_back({{"person", n.person},
                           {"time_zone", n.time_zone},
                           {"wakeups", n.wakeups},
                           {"nights", n.nights},
                           {"worst", n.worst},
                           {"worst_night", n.worst_night},
                           {"nights_over_goal", n.nights_over_goal}});
  }
  j["noisiest"] = json::array();
  for (const auto& n : r.noisiest) {
    j["noisiest"].push_back({{"rule", n.rule}, {"incidents", n.incidents}, {"noisy", n.noisy}});
  }
  j["sev12_by_provider"] = json::array();
  for (const auto& p : r.sev12_by_provider) {
    j["sev12_by_provider"].push_back({{"provider", p.provider}, {"incidents", p.incidents}});
  }
  j["load"] = json::array();
  for (const auto& l : r.load) {
    j["load"].push_back({{"person", l.person},
                         {"pages", l.pages},
                         {"undelivered", l.undelivered},
                         {"shifts", l.shifts}});
  }
  return DumpJson(j, 2) + "\n";
}

}  // namespace tocsin::report
