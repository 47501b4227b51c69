// The on-call health report: figures computed from incidents and their timelines (see
// docs/reports.md for each formula).
#include "tocsin/report/oncall_report.h"

#include "tocsin/report/records.h"

#include <date/date.h>
#include <date/iso_week.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace tocsin::report {
namespace {

using json = nlohmann::json;

using incident::kSystemActor;

// Nearest rank: the smallest value with at least p % of the values at or below it.
Percentiles Rank(std::vector<Duration> values) {
  Percentiles out;
  out.count = static_cast<int>(values.size());
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto at = [&](int p) {
    std::size_t rank = (static_cast<std::size_t>(p) * values.size() + 99) / 100;
    return values[std::max<std::size_t>(rank, 1) - 1];
  };
  out.p50 = at(50);
  out.p90 = at(90);
  return out;
}

const date::time_zone* Zone(const std::string& name) {
  try {
    return date::locate_zone(name.empty() ? "UTC" : name);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

date::local_time<std::chrono::milliseconds> Local(TimePoint t, const date::time_zone* zone) {
  return zone->to_local(t);
}

// A person acted on the incident: acknowledged, resolved, escalated, reopened or wrote a note.
bool HumanActed(const std::vector<incident::TimelineEvent>& timeline) {
  static const std::set<std::string> kActions = {"acknowledged", "resolved", "note", "escalated",
                                                 "reopened"};
  return std::any_of(timeline.begin(), timeline.end(), [](const incident::TimelineEvent& ev) {
    return kActions.count(ev.kind) > 0 && !ev.actor.empty() && ev.actor != kSystemActor;
  });
}

std::set<std::string> TeamPeople(const oncall::Schedule* schedule, const std::string& team) {
  std::set<std::string> people;
  if (schedule == nullptr) return people;
  for (const auto& r : schedule->roster().rotations) {
    if (r.team != team) continue;
    for (const auto& group : r.member_groups) people.insert(group.begin(), group.end());
  }
  return people;
}

std::string PersonZone(const oncall::Schedule* schedule, const std::string& person,
                       const std::string& fallback) {
  if (schedule != nullptr) {
    if (const auto* p = schedule->roster().FindPerson(person); p && !p->time_zone.empty()) {
      return p->time_zone;
    }
  }
  return fallback;
}

std::string IsoWeek(TimePoint t, const date::time_zone* zone) {
  auto day = date::floor<date::days>(Local(t, zone));
  iso_week::year_weeknum_weekday w{day};
  return fmt::format("{}-W{:02}", static_cast<int>(w.year()), static_cast<unsigned>(w.weeknum()));
}

}  // namespace

OncallReport BuildOncallReport(const std::vector<IncidentRecord>& records,
                               const oncall::Schedule* schedule, const OncallOptions& options) {
  OncallReport report;
  report.options = options;
  const auto* report_zone = Zone(options.time_zone);
  const auto team_people = TeamPeople(schedule, options.team);

  std::map<std::pair<std::string, std::string>,
           std::pair<std::vector<Duration>, std::vector<Duration>>>
      response;
  std::map<std::pair<std::string, std::string>, int> response_count;
  std::map<std::string, WeekRow> weeks;
  std::map<std::string, std::map<std::string, int>> night_counts;  // person -> night -> n
  std::map<std::string, RuleNoise> rules;
  std::map<std::string, int> providers;
  std::map<std::string, int> pages_per_person;
  std::map<std::string, int> undelivered_per_person;

  for (const auto& rec : records) {
    const auto& inc = rec.incident;
    if (inc.opened_at < options.from || inc.opened_at >= options.to) continue;
    if (inc.drill) continue;  // drills measure the team, never its KPIs (tocsin report drills)
    auto pages = PersonPagesOf(rec.timeline);
    if (!options.team.empty()) {
      bool ours = inc.domain == options.team ||
                  std::any_of(pages.begin(), pages.end(),
                              [&](const PersonPage& p) { return team_people.count(p.person) > 0; });
      if (!ours) continue;
    }
    ++report.incidents;
    const std::string domain = inc.domain.empty() ? "(none)" : inc.domain;
    const std::string sev = incident::SevName(inc.sev);
    auto& [mtta, mttr] = response[{domain, sev}];
    ++response_count[{domain, sev}];
    if (auto ack = FirstAcknowledgement(rec.timeline)) {
      ++report.acknowledged;
      mtta.push_back(ack->at - inc.opened_at);
    }
    if (inc.state == incident::IncidentState::kResolved && inc.resolved_at != TimePoint{}) {
      ++report.resolved;
      mttr.push_back(inc.resolved_at - inc.opened_at);
    }

    auto& week = weeks[IsoWeek(inc.opened_at, report_zone)];
    ++week.incidents;
    bool l2 = false;
    bool dm = false;
    for (const auto& p : pages) {
      ++report.pages;
      ++weeks[IsoWeek(p.at, report_zone)].pages;
      ++pages_per_person[p.person];
      l2 = l2 || p.role == "l2" || p.role.rfind("l2-", 0) == 0;
      dm = dm || p.role == "duty-manager";
      if (p.Undelivered()) {
        // Nobody was woken: every delivery failed or none could be made. Shown on its own,
        // as a broken path to a person is what the report must not hide behind a wake-up.
        ++report.pages_undelivered;
        ++undelivered_per_person[p.person];
        continue;
      }
      if (p.Withdrawn()) continue;  // acknowledged or resolved before it went out: nobody woke
      const auto* zone = Zone(PersonZone(schedule, p.person, options.time_zone));
      auto local = Local(p.at, zone);
      auto day = date::floor<date::days>(local);
      int hour =
          static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(local - day).count());
      bool evening = hour >= options.night_start_hour;
      bool morning = hour < options.night_end_hour;
      if (!evening && !morning) continue;
      auto night = morning ? day - date::days{1} : day;
      ++night_counts[p.person][date::format("%F", night)];
    }
    report.reached_l2 += l2 ? 1 : 0;
    report.reached_duty_manager += dm ? 1 : 0;

    const bool noisy = inc.state == incident::IncidentState::kResolved && !HumanActed(rec.timeline);
    report.noisy += noisy ? 1 : 0;
    std::set<std::string> names;
    for (const auto& a : inc.alerts) names.insert(std::string(a.labels.GetOr("alertname", "")));
    names.erase("");
    for (const auto& n : names) {
      auto& r = rules[n];
      r.rule = n;
      ++r.incidents;
      r.noisy += noisy ? 1 : 0;
    }

    if (inc.sev == incident::Sev::kSev1 || inc.sev == incident::Sev::kSev2) {
      ++report.sev12;
      std::set<std::string> named;
      for (const auto* list : {&inc.alerts, &inc.causes}) {
        for (const auto& a : *list) {
          if (auto p = a.labels.Get("provider"); p && !p->empty()) named.insert(std::string(*p));
        }
      }
      if (!named.empty()) ++report.sev12_external;
      for (const auto& p : named) ++providers[p];
    }
  }

  for (auto& [key, lists] : response) {
    report.response.push_back(
        {key.first, key.second, response_count[key], Rank(lists.first), Rank(lists.second)});
  }
  for (const auto& [person, nights] : night_counts) {
    NightRow row;
    row.person = person;
    row.time_zone = PersonZone(schedule, person, options.time_zone);
    for (const auto& [night, n] : nights) {
      row.wakeups += n;
      ++row.nights;
      if (n > row.worst) {
        row.worst = n;
        row.worst_night = night;
      }
      row.nights_over_goal += n > options.max_wakeups_per_night ? 1 : 0;
    }
    report.nights.push_back(row);
  }
  std::sort(report.nights.begin(), report.nights.end(), [](const NightRow& a, const NightRow& b) {
    return std::tie(b.wakeups, a.person) < std::tie(a.wakeups, b.person);
  });
  for (const auto& [name, r] : rules) {
    if (r.noisy > 0) report.noisiest.push_back(r);
  }
  std::sort(
      report.noisiest.begin(), report.noisiest.end(), [](const RuleNoise& a, const RuleNoise& b) {
        return std::tie(b.noisy, b.incidents, a.rule) < std::tie(a.noisy, a.incidents, b.rule);
      });
  if (report.noisiest.size() > 5) report.noisiest.resize(5);
  for (const auto& [p, n] : providers) report.sev12_by_provider.push_back({p, n});
  std::sort(report.sev12_by_provider.begin(), report.sev12_by_provider.end(),
            [](const ProviderShare& a, const ProviderShare& b) {
              return std::tie(b.incidents, a.provider) < std::tie(a.incidents, b.provider);
            });

  // Shifts in the range: L1 shifts for pages per shift, every shift for the load table.
  std::map<std::string, int> shifts;
  if (schedule != nullptr) {
    for (const auto& s : schedule->Shifts(options.from, options.to)) {
      if (!options.team.empty() && s.team != options.team) continue;
      ++shifts[s.person];
      if (s.role == "l1") {
        ++report.l1_shifts;
        // A shift belongs to the week it starts in; one already running at `from`, to the first.
        ++weeks[IsoWeek(std::max(s.start, options.from), report_zone)].l1_shifts;
      }
    }
    if (report.l1_shifts > 0) {
      report.pages_per_l1_shift = static_cast<double>(report.pages) / report.l1_shifts;
    }
  }
  for (auto& [name, row] : weeks) {
    row.week = name;
    if (row.l1_shifts > 0) row.pages_per_l1_shift = static_cast<double>(row.pages) / row.l1_shifts;
    report.weeks.push_back(row);
  }
  std::set<std::string> people;
  for (const auto& [p, n] : pages_per_person) people.insert(p);
  for (const auto& [p, n] : shifts) people.insert(p);
  for (const auto& p : people) {
    report.load.push_back({p, pages_per_person[p], undelivered_per_person[p], shifts[p]});
  }
  std::sort(report.load.begin(), report.load.end(), [](const PersonLoad& a, const PersonLoad& b) {
    return std::tie(b.pages, a.person) < std::tie(a.pages, b.person);
  });
  if (!report.load.empty() && report.pages > 0) {
    double mean = static_cast<double>(report.pages) / static_cast<double>(report.load.size());
    report.load_max_over_mean = report.load.front().pages / mean;
  }
  return report;
}

}  // namespace tocsin::report
