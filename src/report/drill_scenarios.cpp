#include "tocsin/report/drill_scenarios.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tocsin/config/yaml_reader.h"

namespace tocsin::report {

std::vector<DrillScenario> LoadDrillScenarios(const std::string& path, config::Diagnostics& diags,
                                              const std::vector<std::string>* policies) {
  std::vector<DrillScenario> out;
  auto doc = config::LoadYamlFile(path, diags);
  if (!doc) return out;
  config::MapReader top(path, doc->root, diags, "drill scenarios file");
  if (!top.ok()) {
    diags.Error(config::PositionOf(path, doc->root), "expected a mapping with `scenarios:`");
    return out;
  }
  YAML::Node scenarios = top.Node("scenarios");
  if (!scenarios || !scenarios.IsMap() || scenarios.size() == 0) {
    diags.Error(top.Here(), "`scenarios` must map each scenario name to its definition");
    return out;
  }
  for (auto it = scenarios.begin(); it != scenarios.end(); ++it) {
    DrillScenario s;
    s.name = it->first.as<std::string>("");
    config::MapReader r(path, it->second, diags, fmt::format("scenario \"{}\"", s.name));
    if (!r.ok()) {
      diags.Error(config::PositionOf(path, it->second),
                  fmt::format("scenario \"{}\" must be a mapping", s.name));
      continue;
    }
    r.String("title", s.title, true);
    r.String("description", s.description);
    r.String("policy", s.policy);
    if (policies && !s.policy.empty() &&
        std::find(policies->begin(), policies->end(), s.policy) == policies->end()) {
      r.Error("policy", fmt::format("\"{}\" is not an escalation policy of the config; known: {}",
                                    s.policy, fmt::join(*policies, ", ")));
    }
    r.String("runbook", s.runbook, true);
    const std::size_t errors_before = diags.error_count();
    config::ForEachMap(r, "alerts", fmt::format("scenario \"{}\" alerts", s.name),
                       [&](config::MapReader& a, std::size_t) {
                         DrillAlert alert;
                         a.LabelsValue("labels", alert.labels);
                         std::vector<std::pair<std::string, std::string>> annotations;
                         a.StringMap("annotations", annotations);
                         alert.annotations.insert(annotations.begin(), annotations.end());
                         if (!alert.labels.Has("alertname")) {
                           a.Error("labels", "every alert needs the label `alertname`");
                           return;
                         }
                         s.alerts.push_back(std::move(alert));
                       });
    // An alert refused above already says what is wrong with it.
    if (s.alerts.empty() && diags.error_count() == errors_before) {
      r.Error("alerts", fmt::format("scenario \"{}\" raises no alert: list at least one under "
                                    "`alerts`",
                                    s.name));
    }
    out.push_back(std::move(s));
  }
  top.Finish();
  if (diags.has_errors()) out.clear();
  return out;
}

}  // namespace tocsin::report
