#pragma once

#include <string>
#include <vector>

#include "tocsin/rules/evaluator.h"

namespace tocsin::rules {

// SLO status and error budgets as JSON, for GET /api/v1/slos:
// {"slos":[{"name","service","domain","objective","window","data_absent","no_data_since",
//   "budget_updated_at",
//   "series":[{"labels":{..},"error_ratio","budget_remaining","burn_rates":{tier: x}}]}],
//  "sources":[{"name","up","consecutive_failures","last_error"}]}
// Non-finite numbers are null.
std::string SloReportJson(const std::vector<SloStatus>& slos,
                          const std::vector<SourceHealth>& sources);

}  // namespace tocsin::rules
