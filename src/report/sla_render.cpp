// The SLA report as CSV (the operating model's monthly summary) and as text with the details
// behind each figure.
#include <date/tz.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/report/sla_report.h"

namespace tocsin::report {
namespace {

std::string Percent(const std::optional<double>& fraction) {
  return fraction ? PercentDown(100.0 * *fraction) : "--";
}

std::string Notice(Duration d) {
  auto hours = std::chrono::duration_cast<std::chrono::hours>(d).count();
  if (hours >= 48) return fmt::format("{}d {}h", hours / 24, hours % 24);
  return fmt::format("{}h", hours);
}

void RenderProvider(std::string& out, const ProviderMonth& p, const date::time_zone* zone) {
  out += fmt::format(
      "\n{} {}: {} minutes in the month, {} excluded (agreed maintenance), {} "
      "downtime\n",
      p.provider, p.month, p.minutes_in_month, p.excluded_minutes, p.downtime_minutes);
  if (!p.has_telemetry) {
    out += "  no telemetry: the synthetic availability source returned nothing for this month\n";
    return;
  }
  out += "  Downtime intervals\n";
  if (p.downtime.empty()) out += "    none\n";
  for (const auto& d : p.downtime) {
    out += fmt::format("    {} .. {}  {:>5} min  {}{}\n", LocalMinute(zone, d.start),
                       LocalMinute(zone, d.end), d.minutes, d.cause,
                       d.in_emergency_maintenance ? "  [in an emergency maintenance window]" : "");
  }
  if (!p.maintenance.empty()) {
    out += "  Maintenance windows\n";
    for (const auto& w : p.maintenance) {
      out += fmt::format(
          "    {} .. {}  announced {} ahead  {}\n", LocalMinute(zone, w.start),
          LocalMinute(zone, w.end), Notice(w.start - w.announced),
          w.emergency ? "EMERGENCY: not agreed, counted, flagged for review" : "agreed: excluded");
    }
  }
  if (p.ttfs_p95_ms || p.webhook_p95_s || p.dsr) out += "  Other SLIs\n";
  if (p.dsr) {
    out += fmt::format("    DSR {} % (synthetic {} %, provider's figures {} %; the worse counts)\n",
                       Percent(p.dsr), Percent(p.dsr_synthetic), Percent(p.dsr_provider));
  }
  if (p.ttfs_p95_ms) {
    out += fmt::format("    TTFS p95 {:.0f} ms; minutes over the {:g} ms SLO: {}\n", *p.ttfs_p95_ms,
                       p.ttfs_slo_ms, p.ttfs_minutes_over_slo);
  }
  if (p.webhook_p95_s) {
    out += fmt::format(
        "    webhook delay p95 {:.1f} s; minutes over the {:g} s SLO: {}, over 2x SLO: {}\n",
        *p.webhook_p95_s, p.webhook_slo_s, p.webhook_minutes_over_slo,
        p.webhook_minutes_over_twice_slo);
  }
  out += "  Credits\n";
  if (p.credits.empty()) out += "    none\n";
  for (const auto& c : p.credits) {
    out += fmt::format("    {:>3} %  {}: {}\n", c.percent, c.clause, c.reason);
  }
  int sum = 0;
  for (const auto& c : p.credits) sum += c.percent;
  out += fmt::format("    {:>3} %  total{}\n", p.credit_percent,
                     sum > 100 ? fmt::format(" (capped at 100 % from {} %)", sum) : "");
  std::string history;
  for (const auto& [month, credit] : p.history) {
    history += fmt::format("{} {}, ", month,
                           credit ? fmt::format("{} %", *credit) : std::string("no telemetry"));
  }
  out += fmt::format("  Chronic failure (3 months in a row at >= 10 %): {} ({}{} {} %)\n",
                     p.chronic ? "YES" : "no", history, p.month, p.credit_percent);
}

using nlohmann::json;

json Optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json ProviderJson(const ProviderMonth& p) {
  json downtime = json::array();
  for (const auto& d : p.downtime) {
    downtime.push_back({{"start", FormatRfc3339(d.start)},
                        {"end", FormatRfc3339(d.end)},
                        {"minutes", d.minutes},
                        {"cause", d.cause},
                        {"in_emergency_maintenance", d.in_emergency_maintenance}});
  }
  json maintenance = json::array();
  for (const auto& w : p.maintenance) {
    maintenance.push_back({{"start", FormatRfc3339(w.start)},
                           {"end", FormatRfc3339(w.end)},
                           {"announced", FormatRfc3339(w.announced)},
                           {"agreed", !w.emergency}});
  }
  json credits = json::array();
  for (const auto& c : p.credits) {
    credits.push_back({{"clause", c.clause}, {"reason", c.reason}, {"percent", c.percent}});
  }
  json history = json::array();
  for (const auto& [month, credit] : p.history) {
    history.push_back({{"month", month}, {"credit_percent", credit ? json(*credit) : json()}});
  }
  // Fractions stay fractions (0.9995), as the API's other ratios; the CSV prints percent.
  return {{"provider", p.provider},
          {"month", p.month},
          {"has_telemetry", p.has_telemetry},
          {"minutes_in_month", p.minutes_in_month},
          {"excluded_minutes", p.excluded_minutes},
          {"downtime_minutes", p.downtime_minutes},
          {"availability", Optional(p.availability)},
          {"dsr", Optional(p.dsr)},
          {"dsr_synthetic", Optional(p.dsr_synthetic)},
          {"dsr_provider", Optional(p.dsr_provider)},
          {"ttfs_p95_ms", Optional(p.ttfs_p95_ms)},
          {"ttfs_minutes_over_slo", p.ttfs_minutes_over_slo},
          {"webhook_p95_s", Optional(p.webhook_p95_s)},
          {"webhook_minutes_over_slo", p.webhook_minutes_over_slo},
          {"webhook_minutes_over_twice_slo", p.webhook_minutes_over_twice_slo},
          {"downtime", downtime},
          {"maintenance", maintenance},
          {"credits", credits},
          {"credit_percent", p.has_telemetry ? json(p.credit_percent) : json()},
          {"history", history},
          {"chronic", p.chronic}};
}

}  // namespace

std::string LocalMinute(const date::time_zone* zone, TimePoint t) {
  auto zt = date::make_zoned(zone, std::chrono::time_point_cast<std::chrono::minutes>(t));
  return date::format("%F %H:%M %Ez", zt);
}

std::string RenderSlaJson(const SlaReport& report) {
  json providers = json::array();
  for (const auto& p : report.providers) providers.push_back(ProviderJson(p));
  return DumpJson(json{{"month", report.month},
                       {"time_zone", report.time_zone},
                       {"providers", providers}},
                  2) +
         "\n";
}

std::string RenderSlaCsv(const SlaReport& report) {
  std::string out = "Provider,Month,Availability,DSR,TTFS_p95_ms,Webhook_p95_s,Credits%\n";
  for (const auto& p : report.providers) {
    out += fmt::format("{},{},{},{},{},{},{}\n", p.provider, p.month, Percent(p.availability),
                       Percent(p.dsr), p.ttfs_p95_ms ? fmt::format("{:.0f}", *p.ttfs_p95_ms) : "--",
                       p.webhook_p95_s ? fmt::format("{:.1f}", *p.webhook_p95_s) : "--",
                       p.has_telemetry ? std::to_string(p.credit_percent) : "--");
  }
  return out;
}

std::string RenderSlaText(const SlaReport& report) {
  const date::time_zone* zone = date::locate_zone(report.time_zone);
  std::string out = RenderSlaCsv(report);
  out += fmt::format("\nCalendar month {} in {}; times below are local.\n", report.month,
                     report.time_zone);
  for (const auto& p : report.providers) RenderProvider(out, p, zone);
  return out;
}

}  // namespace tocsin::report
