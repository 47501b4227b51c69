// GET /api/v1/slos/{name}: what the panel's SLO page shows for one SLO. The budget series
// comes from the SLO's Prometheus (a range query), not from tocsin's memory: tocsin keeps no
// evaluation history, and the ratio over the window at each point is exactly what the
// evaluator would have computed then.
#include "tocsin/api/slo_api.h"

#include <cmath>

#include <fmt/format.h>

#include "api_response.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/rules/slo_report.h"

namespace tocsin::rules {

namespace {

using api::ErrorResponse;
using api::JsonResponse;
using nlohmann::json;

constexpr std::size_t kMaxPoints = 1000;

json Number(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

json StatusJson(const SloStatus& s) {
  json series = json::array();
  for (const auto& x : s.series) {
    json burn = json::object();
    for (const auto& [tier, b] : x.burn_rates) burn[tier] = Number(b);
    std::optional<double> sli;
    if (x.error_ratio) sli = 1.0 - *x.error_ratio;
    series.push_back({{"labels", LabelsToJson(x.labels)},
                      {"sli", Number(sli)},
                      {"error_ratio", Number(x.error_ratio)},
                      {"budget_remaining", Number(x.budget_remaining)},
                      {"burn_rates", burn}});
  }
  return {{"data_absent", s.data_absent},
          {"budget_updated_at",
           s.budget_updated_at ? json(FormatRfc3339(*s.budget_updated_at)) : json(nullptr)},
          {"series", series}};
}

json AlertsOf(const Evaluator& evaluator, const std::string& slo) {
  json out = json::array();
  for (const auto& a : evaluator.ActiveAlerts()) {
    if (a.rule != slo) continue;
    out.push_back({{"labels", LabelsToJson(a.labels)},
                   {"state", std::string(AlertStateName(a.state))},
                   {"severity", std::string(SeverityName(a.severity))},
                   {"since", FormatRfc3339(a.starts_at)},
                   {"burn_rate", Number(a.burn_rate)},
                   {"summary", a.Annotation("summary")}});
  }
  return out;
}

// Budget left at each point: 1 untouched, 0 spent, below 0 overspent.
json BudgetSeries(const source::QueryResult& r, double budget) {
  json out = json::array();
  for (const auto& s : r.matrix) {
    json points = json::array();
    for (const auto& [t, ratio] : s.points) {
      std::optional<double> left;
      if (budget > 0 && std::isfinite(ratio)) left = 1.0 - ratio / budget;
      points.push_back(json::array({ToUnixMillis(t) / 1000, Number(left)}));
    }
    out.push_back({{"labels", LabelsToJson(s.metric)}, {"points", points}});
  }
  return out;
}

}  // namespace

void RegisterSloApi(http::Router& router, SloApiDeps deps) {
  auto d = std::make_shared<SloApiDeps>(std::move(deps));
  router.AddSync("GET", "/api/v1/slos", http::Access::kViewer, [d](const http::Request&) {
    const Evaluator* evaluator = d->evaluator ? d->evaluator() : nullptr;
    if (evaluator == nullptr) return ErrorResponse(Error::Transient("rules engine not started"));
    return http::Response::Json(
        200, SloReportJson(evaluator->SloStatuses(), evaluator->SourceStatuses()));
  });
  router.Add("GET", "/api/v1/slos/{name}", http::Access::kViewer,
             [d](const http::Request& r, http::Respond respond) {
               const Evaluator* evaluator = d->evaluator ? d->evaluator() : nullptr;
               const RuleSet* rules = d->rules ? d->rules() : nullptr;
               if (evaluator == nullptr || rules == nullptr) {
                 return respond(ErrorResponse(Error::Transient("rules engine not started")));
               }
               const std::string name = r.PathParam("name");
               const SloRule* slo = nullptr;
               std::string source_name;
               for (const auto& g : rules->groups) {
                 for (const auto& s : g.slos) {
                   if (s.name != name) continue;
                   slo = &s;
                   source_name = g.source;
                 }
               }
               if (slo == nullptr) {
                 return respond(ErrorResponse(Error::NotFound("no SLO named \"" + name + "\"")));
               }
               auto days = api::IntQuery(r, "days", 30, 1, 90);
               if (!days) return respond(ErrorResponse(days.error()));
               Duration step = std::chrono::hours(6);
               if (auto text = r.Query("step"); text && !text->empty()) {
                 auto parsed = ParseDuration(*text);
                 if (!parsed || *parsed < std::chrono::minutes(1)) {
                   return respond(ErrorResponse(
                       Error::Invalid("step: a duration of at least 1m, such as 1h or 6h")));
                 }
                 step = *parsed;
               }
               Duration range = std::chrono::hours(24 * *days);
               if (range / step + 1 > static_cast<long long>(kMaxPoints)) {
                 return respond(ErrorResponse(Error::Invalid(
                     fmt::format("step: {}d every {} is more than {} points; use a longer step",
                                 *days, FormatDuration(step), kMaxPoints))));
               }
               json out = {{"name", slo->name},
                           {"objective", slo->objective},
                           {"window", FormatDuration(slo->window)},
                           {"source", source_name},
                           {"alerts", AlertsOf(*evaluator, name)},
                           {"status", nullptr}};
               for (const auto& s : evaluator->SloStatuses()) {
                 if (s.name == name) out["status"] = StatusJson(s);
               }
               auto source = d->source ? d->source(source_name) : nullptr;
               Executor* executor = d->query_executor ? d->query_executor() : nullptr;
               // Each says what is missing: only the first is the operator's to fix.
               std::string missing;
               if (!source) {
                 missing = "source " + source_name + " is not configured";
               } else if (executor == nullptr) {
                 missing = "no query executor to ask source " + source_name + " (not started)";
               } else if (!d->post || d->clock == nullptr) {
                 missing = "the budget history cannot be answered here: no event loop or clock";
               }
               if (!missing.empty()) {
                 out["budget"] = {{"error", missing}};
                 return respond(JsonResponse(200, out));
               }
               // The budget as the evaluator computes it, at every step of the range.
               std::string expr = slo->ErrorRatioQuery(slo->window);
               TimePoint end = d->clock->Now();
               double budget = slo->error_budget();
               out["budget"] = {{"from", FormatRfc3339(end - range)},
                                {"to", FormatRfc3339(end)},
                                {"step", FormatDuration(step)},
                                {"query", expr}};
               executor->Submit([source, expr, end, range, step, budget, d, out = std::move(out),
                                 respond]() mutable {
                 auto result = source->QueryRange(expr, end - range, end, step);
                 if (result) {
                   out["budget"]["series"] = BudgetSeries(*result, budget);
                 } else {
                   // The status and alerts are still worth showing; say why the chart is empty.
                   out["budget"]["error"] = result.error().message();
                 }
                 d->post([out = std::move(out), respond] { respond(JsonResponse(200, out)); });
               });
             });
}

}  // namespace tocsin::rules
