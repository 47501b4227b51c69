#pragma once

#include <string>

#include "tocsin/common/result.h"
#include "tocsin/report/sla_config.h"
#include "tocsin/report/sla_report.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::report {

// One query's value for every minute of `month`, read as range queries at step 60 s, one day
// per request so that no answer exceeds Prometheus' 11,000 points. A query must return at most
// one series (aggregate it with sum() or max()).
Result<MinuteValues> FetchMinutes(source::SliSource& source, const std::string& expr,
                                  const MonthRange& month);

// Every SLI the provider declares, for `month`.
Result<ProviderTelemetry> FetchProviderTelemetry(source::SliSource& source, const ProviderSla& sla,
                                                 const MonthRange& month);

// The report for `month` ("2026-10") in the config's zone, for every provider or only
// `provider` (kNotFound when no provider has that name). The two months before are computed
// too, for the chronic-failure flag. A month that ends after `now` is refused (kInvalid): its
// minutes to come have no telemetry, and would count as downtime.
Result<SlaReport> BuildSlaReport(source::SliSource& source, const SlaConfig& config,
                                 const std::string& month, const std::string& provider,
                                 TimePoint now);

}  // namespace tocsin::report
