#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/report/sla_config.h"

namespace date {
class time_zone;
}  // namespace date

namespace tocsin::report {

// A calendar month in a time zone, as the UTC instants [start, end). Minutes are UTC minutes
// (every zone in use is a whole number of minutes off UTC), so a month with a DST change has
// 60 minutes more or less than days * 1440.
struct MonthRange {
  std::string month;  // "2026-10"
  TimePoint start{};
  TimePoint end{};
  long long minutes() const;
};

// "2026-10" in `time_zone`; kInvalid with the expected form otherwise.
Result<MonthRange> CalendarMonth(const std::string& month, const std::string& time_zone);
// The month before, "2026-01" -> "2025-12".
std::string PreviousMonth(const std::string& month);

// One slot per minute of a month: the value of a query for the minute ending at
// start + (i + 1) minutes; empty when the query returned nothing for it.
using MinuteValues = std::vector<std::optional<double>>;

struct RatioMinutes {
  MinuteValues errors;
  MinuteValues total;
};

struct ProviderTelemetry {
  RatioMinutes availability;  // synthetic
  std::optional<RatioMinutes> availability_provider;
  RatioMinutes dsr;
  std::optional<RatioMinutes> dsr_provider;
  MinuteValues ttfs_ms, ttfs_ms_provider;
  MinuteValues webhook_s, webhook_s_provider;
};

enum class MinuteState {
  kUp,
  kDownErrors,           // the synthetic source saw at least X % errors
  kDownNoAnswer,         // the synthetic source got no answer (no total, or a total of 0)
  kDownProviderFigures,  // the provider's own figures show at least X % errors
  kExcluded,             // inside an agreed maintenance window
};

// One minute of availability. Missing provider figures are no opinion (the provider's export
// is not a probe); a missing error count with a total means no errors.
MinuteState ClassifyMinute(std::optional<double> errors, std::optional<double> total,
                           std::optional<double> provider_errors,
                           std::optional<double> provider_total, double downtime_error_percent,
                           bool in_agreed_maintenance);

struct CreditClause {
  std::string clause;  // "availability 99.5-99.0 %"
  std::string reason;  // the figure that triggered it
  int percent = 0;
};

// The operating model's credit table. Each returns nothing when the clause does not apply.
// Availability: 5 % below 99.9 % down to 99.5 % (inclusive), 10 % below 99.5 %.
std::optional<CreditClause> AvailabilityCredit(long long downtime_minutes,
                                               long long counted_minutes);
// DSR: 2 % for each full 0.5 pp below 99.0 %, at most 20 %.
std::optional<CreditClause> DsrCredit(double failed, double total);
// Webhook delay p95 above 2x its SLO for more than 60 minutes in the month: 5 %.
std::optional<CreditClause> WebhookCredit(long long minutes_over_twice_slo, double slo_s);
// TTFS p95 above its SLO (800 ms) for more than 120 minutes in the month: 5 %.
std::optional<CreditClause> TtfsCredit(long long minutes_over_slo, double slo_ms);
// The sum of the clauses, capped at 100 % of the monthly fee.
int TotalCredit(const std::vector<CreditClause>& clauses);
// Three months in a row (oldest first, the report's month last) at >= 10 % credits. A month
// without telemetry is unknown and breaks the run.
bool ChronicFailure(const std::vector<std::optional<int>>& last_three_months);

// Nearest-rank percentile of the values present (none when there are none).
std::optional<double> NearestRankPercentile(std::vector<double> values, double p);

// A minute in `zone`, as the report prints times: "2026-11-01 00:00 +02:00".
std::string LocalMinute(const date::time_zone* zone, TimePoint t);

// A percentage as the report prints it: three decimals, rounded down, so that a figure just
// below a contract's threshold (99.4998 %) never prints as the threshold itself (99.500 %).
std::string PercentDown(double percent);

struct DowntimeInterval {
  TimePoint start{};
  TimePoint end{};
  long long minutes = 0;
  std::string cause;  // "errors >= 5 %", "no answer", "provider's figures: errors >= 5 %"
  bool in_emergency_maintenance = false;
};

struct ProviderMonth {
  std::string provider;
  std::string month;
  bool has_telemetry = false;  // the synthetic availability source answered at least once
  long long minutes_in_month = 0;
  long long excluded_minutes = 0;  // agreed maintenance
  long long downtime_minutes = 0;
  std::optional<double> availability;  // fraction, over minutes_in_month - excluded_minutes
  std::optional<double> dsr;           // the worse of the two sources
  std::optional<double> dsr_synthetic;
  std::optional<double> dsr_provider;
  std::optional<double> ttfs_p95_ms;
  double ttfs_slo_ms = 0;
  long long ttfs_minutes_over_slo = 0;
  std::optional<double> webhook_p95_s;
  double webhook_slo_s = 0;
  long long webhook_minutes_over_slo = 0;
  long long webhook_minutes_over_twice_slo = 0;
  std::vector<DowntimeInterval> downtime;
  std::vector<MaintenanceWindow> maintenance;  // windows that fall in the month
  std::vector<CreditClause> credits;
  int credit_percent = 0;
  // The two months before (oldest first) and their credits; nullopt: no telemetry.
  std::vector<std::pair<std::string, std::optional<int>>> history;
  bool chronic = false;
};

// Every figure of one provider's month from its minutes. Pure: the same telemetry gives the
// same report.
ProviderMonth ComputeProviderMonth(const ProviderSla& sla, const MonthRange& month,
                                   const ProviderTelemetry& telemetry);

struct SlaReport {
  std::string month;
  std::string time_zone;
  std::vector<ProviderMonth> providers;
};

// `Provider,Month,Availability,DSR,TTFS_p95_ms,Webhook_p95_s,Credits%` and one line per
// provider ("--" where a figure does not apply).
std::string RenderSlaCsv(const SlaReport& report);
// The CSV, then per provider every downtime interval (local time), the minutes over each
// SLO, maintenance windows, and the clause behind each credit.
std::string RenderSlaText(const SlaReport& report);
// Every figure of the text view as JSON (times in RFC 3339 UTC, ratios as fractions, null
// where a figure does not apply).
std::string RenderSlaJson(const SlaReport& report);

}  // namespace tocsin::report
