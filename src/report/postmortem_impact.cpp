// The impact section of the post-mortem: each SLO the incident's alerts name, its error ratio
// over the incident's interval from Prometheus, and the error budget that burned.
#include <fmt/format.h>

#include <cmath>

#include "tocsin/report/postmortem.h"

namespace tocsin::report {
namespace {

const rules::SloRule* FindSlo(const rules::RuleSet& rules, const std::string& name,
                              std::string* source) {
  for (const auto& g : rules.groups) {
    for (const auto& s : g.slos) {
      if (s.name != name) continue;
      *source = g.source.empty() ? rules.evaluation.default_source : g.source;
      return &s;
    }
  }
  return nullptr;
}

// The series of the incident: the one whose `by` labels match an alert of this SLO.
std::optional<double> SeriesFor(const std::vector<source::Sample>& samples,
                                const rules::SloRule& slo, const incident::Incident& incident) {
  if (samples.size() == 1) return samples[0].value;
  for (const auto& a : incident.alerts) {
    if (a.labels.GetOr("slo") != slo.name) continue;
    for (const auto& s : samples) {
      bool match = std::all_of(slo.by.begin(), slo.by.end(), [&](const std::string& l) {
        return s.metric.GetOr(l) == a.labels.GetOr(l);
      });
      if (match) return s.value;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<PostmortemImpact> MeasureImpact(
    const incident::Incident& incident, const rules::RuleSet& rules,
    const std::function<source::SliSource*(const std::string&)>& sources, TimePoint now) {
  std::vector<PostmortemImpact> out;
  const TimePoint end = incident.open() ? now : incident.resolved_at;
  // Prometheus ranges are whole seconds; round up so the incident's last second counts.
  auto seconds =
      std::chrono::ceil<std::chrono::seconds>(std::max(end - incident.opened_at, Duration(0)));
  if (seconds < std::chrono::seconds(1)) seconds = std::chrono::seconds(1);
  for (const auto& name : SlosOf(incident)) {
    PostmortemImpact impact;
    impact.slo = name;
    const auto* slo = FindSlo(rules, name, &impact.source);
    if (slo == nullptr) {
      impact.unavailable = "not available: no SLO of this name in the rule files";
      out.push_back(std::move(impact));
      continue;
    }
    impact.objective = slo->objective;
    impact.window = slo->window;
    impact.query = slo->ErrorRatioQuery(seconds);
    auto* src = sources(impact.source);
    if (src == nullptr) {
      impact.unavailable = fmt::format("not available: no source \"{}\"", impact.source);
      out.push_back(std::move(impact));
      continue;
    }
    auto result = src->Query(impact.query, end);
    if (!result) {
      impact.unavailable =
          fmt::format("not available: {} answered: {}", impact.source, result.error().message());
    } else if (auto ratio = SeriesFor(result->vector, *slo, incident);
               !ratio || std::isnan(*ratio)) {
      impact.unavailable =
          fmt::format("not available: {} has no data for the interval", impact.source);
    } else {
      impact.error_ratio = *ratio;
      const double incident_s = std::chrono::duration<double>(seconds).count();
      const double window_s = std::chrono::duration<double>(slo->window).count();
      impact.budget_burned = *ratio * incident_s / (slo->error_budget() * window_s);
    }
    out.push_back(std::move(impact));
  }
  return out;
}

}  // namespace tocsin::report
