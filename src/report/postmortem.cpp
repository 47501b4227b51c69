// The post-mortem draft: the incident's facts from its timeline (docs/reports.md "Post-mortem
// draft"), with the blameless template's sections for what only people can write.
#include "tocsin/report/postmortem.h"

#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tocsin/common/duration.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/incident_json.h"
#include "tocsin/report/records.h"

namespace tocsin::report {
namespace {

using json = nlohmann::json;

using incident::kSystemActor;

// The labels that say where an incident hit (markets, brands, PSPs, providers).
const std::vector<std::string> kScopeLabels = {"domain", "service",  "market", "brand",
                                               "psp",    "provider", "region", "country"};

std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out.empty() ? " " : out;
}

std::string Time(TimePoint t) {
  return date::format("%F %T", date::floor<std::chrono::seconds>(t)) + " UTC";
}

std::string Dur(Duration d) {
  return FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

std::string Percent(double v) { return fmt::format("{:.3f} %", 100.0 * v); }

std::string Phase(const incident::TimelineEvent& ev) {
  const std::string& k = ev.kind;
  if (k == "opened" || k == "alert_fired") return "detection";
  if (k == incident::kEventPageDecided || k == "notified" || k == "ack_timeout" ||
      k == "unacknowledged") {
    return "escalation";
  }
  if (k == "escalated") return ev.actor == kSystemActor ? "escalation" : "action";
  if (k == "alert_resolved" || k == "resolved" || k == "auto_resolved") return "stabilisation";
  if (k == kEventPostmortem || k == kEventPostmortemReminder) return "follow-up";
  return "action";
}

// Delivery bookkeeping is summed up under "Who was paged"; the timeline keeps what happened.
bool IsDeliveryEvent(const std::string& kind) {
  return kind == incident::kEventQueued || kind == incident::kEventSent ||
         kind == incident::kEventFailed || kind == incident::kEventSkipped ||
         kind == incident::kEventNotPaged || kind == "delivery";
}

void Table(std::string& out, const std::vector<std::string>& header,
           const std::vector<std::vector<std::string>>& rows) {
  out += "|";
  for (const auto& h : header) out += " " + h + " |";
  out += "\n|";
  for (std::size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : rows) {
    out += "|";
    for (const auto& c : row) out += " " + Cell(c) + " |";
    out += "\n";
  }
}

}  // namespace

std::vector<std::string> SlosOf(const incident::Incident& incident) {
  std::set<std::string> names;
  for (const auto* list : {&incident.alerts, &incident.causes}) {
    for (const auto& a : *list) {
      if (auto s = a.labels.Get("slo"); s && !s->empty()) names.insert(std::string(*s));
    }
  }
  return {names.begin(), names.end()};
}

TimePoint PostmortemDue(TimePoint resolved_at, int business_days) {
  TimePoint t = resolved_at;
  int counted = 0;
  while (counted < business_days) {
    t += date::days{1};
    date::weekday wd{date::floor<date::days>(t)};
    if (wd != date::Saturday && wd != date::Sunday) ++counted;
  }
  return t;
}

std::string RenderPostmortem(const PostmortemInput& in) {
  const auto& inc = in.record.incident;
  const auto& timeline = in.record.timeline;
  const auto ack = FirstAcknowledgement(timeline);  // MTTA counts to the first one
  const bool resolved = !inc.open() && inc.resolved_at != TimePoint{};
  std::string out = fmt::format("# Post-mortem: {} {}\n\n", inc.id, inc.title);
  out += fmt::format(
      "Draft written by tocsin at {} from the incident's timeline. Blameless: it asks what in "
      "the system and the process let this happen, never who is to blame.\n\n",
      Time(in.now));

  out += "## Summary\n\n";
  std::string recorded = "not yet (tocsin incidents postmortem " + inc.id + " --done URL)";
  for (const auto& ev : timeline) {
    if (ev.kind != kEventPostmortem) continue;
    json d = json::parse(ev.data, nullptr, false);
    recorded = fmt::format("{} (by {} at {})", d.is_object() ? d.value("url", "") : "", ev.actor,
                           Time(ev.at));
  }
  // Detection: the earliest alert of the incident began firing.
  TimePoint detected{};
  for (const auto& a : inc.alerts) {
    if (a.starts_at != TimePoint{} && (detected == TimePoint{} || a.starts_at < detected)) {
      detected = a.starts_at;
    }
  }
  Table(out, {"", ""},
        {{"Incident", inc.id},
         {"SEV", incident::SevName(inc.sev)},
         {"Title", inc.title},
         {"Domain", inc.domain.empty() ? "--" : inc.domain},
         {"State", std::string(incident::IncidentStateName(inc.state))},
         {"First alert firing", detected == TimePoint{} || detected > inc.opened_at
                                    ? "--"
                                    : fmt::format("{} ({} before the incident opened)",
                                                  Time(detected), Dur(inc.opened_at - detected))},
         {"Opened", Time(inc.opened_at)},
         {"Acknowledged", ack          ? fmt::format("{} by {} (MTTA {})", Time(ack->at), ack->by,
                                                     Dur(ack->at - inc.opened_at))
                          : inc.open() ? "not yet"
                                       : "never"},
         {"Resolved", resolved ? fmt::format("{} by {} (MTTR {})", Time(inc.resolved_at),
                                             inc.resolved_by, Dur(inc.resolved_at - inc.opened_at))
                               : "not yet"},
         {"Commander", inc.commander.empty() ? "--" : inc.commander},
         {"Post-mortem recorded", recorded}});

  out += "\n## Impact\n\n";
  if (in.impact.empty()) {
    out += "Not available: " + in.impact_unavailable + "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : in.impact) {
      rows.push_back({i.slo, fmt::format("{} % over {}", i.objective, FormatDuration(i.window)),
                      i.error_ratio ? Percent(*i.error_ratio) : "not available",
                      i.budget_burned ? Percent(*i.budget_burned) : "not available",
                      i.unavailable.empty() ? i.source : i.unavailable});
    }
    Table(out,
          {"SLO", "objective", "error ratio during the incident", "error budget burned", "source"},
          rows);
    const bool queried = std::any_of(in.impact.begin(), in.impact.end(),
                                     [](const PostmortemImpact& i) { return !i.query.empty(); });
    if (queried) {
      out +=
          "\nError budget burned = error ratio x incident duration / ((1 - objective) x SLO "
          "window); the error ratio is asked at the end of the incident:\n\n";
    }
    for (const auto& i : in.impact) {
      if (!i.query.empty()) out += fmt::format("- {}: `{}`\n", i.slo, i.query);
    }
  }

  out += "\n## Scope\n\n";
  std::map<std::string, std::set<std::string>> scope;
  for (const auto* list : {&inc.alerts, &inc.causes}) {
    for (const auto& a : *list) {
      for (const auto& key : kScopeLabels) {
        if (auto v = a.labels.Get(key); v && !v->empty()) scope[key].insert(std::string(*v));
      }
    }
  }
  if (scope.empty()) {
    out += "No market, brand, PSP, provider or region label on the alerts.\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& key : kScopeLabels) {
      if (auto it = scope.find(key); it != scope.end()) {
        rows.push_back({key, fmt::format("{}", fmt::join(it->second, ", "))});
      }
    }
    Table(out, {"label", "values"}, rows);
  }
  std::set<std::string> alertnames;
  for (const auto& a : inc.alerts) alertnames.insert(std::string(a.Name()));
  out += fmt::format("\nAlerts: {}.\n", fmt::join(alertnames, ", "));

  out += "\n## Timeline\n\n";
  out += fmt::format("MTTA {} (opened to acknowledged), MTTR {} (opened to resolved).\n\n",
                     ack ? Dur(ack->at - inc.opened_at) : "--",
                     resolved ? Dur(inc.resolved_at - inc.opened_at) : "--");
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, std::vector<std::string>> acted;
  for (const auto& ev : timeline) {
    if (IsDeliveryEvent(ev.kind)) continue;
    if (!ev.actor.empty() && ev.actor != kSystemActor && ev.kind != kEventPostmortem) {
      acted[ev.actor].push_back(fmt::format("{} at +{}", ev.kind, Dur(ev.at - inc.opened_at)));
    }
    rows.push_back({Time(ev.at), "+" + Dur(ev.at - inc.opened_at), Phase(ev),
                    ev.text.empty() ? ev.kind : ev.text, ev.actor});
  }
  Table(out, {"time", "since opened", "phase", "what happened", "who"}, rows);

  out += "\n## Who was paged\n\n";
  rows.clear();
  // Each page with the deliveries of that page only: a person paged twice (a repeat of the
  // ladder) has each page's own outcome.
  for (const auto& p : PersonPagesOf(timeline)) {
    rows.push_back({p.person, p.role, "+" + Dur(p.at - inc.opened_at),
                    p.deliveries.empty() ? "no delivery recorded"
                                         : fmt::format("{}", fmt::join(p.deliveries, ", "))});
  }
  if (rows.empty()) {
    out += "Nobody: the ladder paged no one for this incident.\n";
  } else {
    Table(out, {"person", "role", "paged", "deliveries"}, rows);
  }

  out += "\n## Who acted\n\n";
  if (acted.empty()) {
    out += inc.open() ? "Nobody yet: no person has acted on the incident.\n"
                      : "Nobody: the incident ended without a person acting on it.\n";
  } else {
    rows.clear();
    for (const auto& [who, what] : acted)
      rows.push_back({who, fmt::format("{}", fmt::join(what, ", "))});
    Table(out, {"person", "actions"}, rows);
  }

  // What the alerts link to: whether anyone opened it leaves no trace tocsin could see.
  out += "\n## Runbook linked from the alerts\n\n";
  std::set<std::string> runbooks;
  for (const auto* list : {&inc.alerts, &inc.causes}) {
    for (const auto& a : *list) {
      if (auto r = a.Annotation("runbook"); !r.empty()) runbooks.insert(r);
    }
  }
  if (runbooks.empty()) {
    out += "None: the alerts name no runbook (add a `runbook` annotation to the rule).\n";
  } else {
    for (const auto& r : runbooks) out += "- " + r + "\n";
  }

  out +=
      "\n## Five whys\n\n"
      "1. Why did the incident happen?\n"
      "2. Why?\n"
      "3. Why?\n"
      "4. Why?\n"
      "5. Why?\n"
      "\n## What worked\n\n- \n"
      "\n## What did not\n\n- \n"
      "\n## Action items\n\n";
  Table(out, {"action", "owner", "due", "ticket"}, {{"", "", "", ""}});
  return out;
}

}  // namespace tocsin::report
