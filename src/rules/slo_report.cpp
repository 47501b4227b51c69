#include "tocsin/rules/slo_report.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::rules {

namespace {
nlohmann::json Number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}
}  // namespace

std::string SloReportJson(const std::vector<SloStatus>& slos,
                          const std::vector<SourceHealth>& sources) {
  nlohmann::json out;
  out["slos"] = nlohmann::json::array();
  for (const auto& s : slos) {
    nlohmann::json j;
    j["name"] = s.name;
    j["service"] = s.service;
    j["domain"] = s.domain;
    j["objective"] = s.objective;
    j["window"] = FormatDuration(s.window);
    j["data_absent"] = s.data_absent;
    j["no_data_since"] =
        s.no_data_since ? nlohmann::json(FormatRfc3339(*s.no_data_since)) : nullptr;
    j["budget_updated_at"] =
        s.budget_updated_at ? nlohmann::json(FormatRfc3339(*s.budget_updated_at)) : nullptr;
    j["series"] = nlohmann::json::array();
    for (const auto& series : s.series) {
      nlohmann::json sj;
      sj["labels"] = LabelsToJson(series.labels);
      sj["error_ratio"] = Number(series.error_ratio);
      sj["budget_remaining"] = Number(series.budget_remaining);
      sj["burn_rates"] = nlohmann::json::object();
      for (const auto& [tier, burn] : series.burn_rates) sj["burn_rates"][tier] = Number(burn);
      j["series"].push_back(std::move(sj));
    }
    out["slos"].push_back(std::move(j));
  }
  out["sources"] = nlohmann::json::array();
  for (const auto& h : sources) {
    out["sources"].push_back({{"name", h.name},
                              {"up", h.consecutive_failures == 0},
                              {"down", h.down},
                              {"consecutive_failures", h.consecutive_failures},
                              {"last_error", h.last_error}});
  }
  return DumpJson(out);
}

}  // namespace tocsin::rules
