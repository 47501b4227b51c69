#include "tocsin/report/sla_telemetry.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>

#include "tocsin/common/duration.h"

namespace tocsin::report {
namespace {

using namespace std::chrono_literals;

Result<RatioMinutes> FetchRatio(source::SliSource& source, const RatioQueries& q,
                                const MonthRange& month) {
  RatioMinutes out;
  auto errors = FetchMinutes(source, q.errors, month);
  if (!errors) return Fail(errors.error());
  auto total = FetchMinutes(source, q.total, month);
  if (!total) return Fail(total.error());
  out.errors = std::move(*errors);
  out.total = std::move(*total);
  return out;
}

}  // namespace

Result<MinuteValues> FetchMinutes(source::SliSource& source, const std::string& expr,
                                  const MonthRange& month) {
  auto n = static_cast<std::size_t>(month.minutes());
  MinuteValues out(n);
  for (TimePoint day = month.start; day < month.end; day += 24h) {
    TimePoint last = std::min(day + 24h, month.end);
    // The value at t describes the minute ending at t: evaluate at the end of each minute.
    auto r = source.QueryRange(expr, day + 1min, last, 1min);
    if (!r) {
      return Fail(Error(r.error().kind(),
                        fmt::format("query `{}` for {} .. {}: {}", expr, FormatRfc3339(day),
                                    FormatRfc3339(last), r.error().message())));
    }
    if (r->matrix.size() > 1) {
      return Fail(Error::Invalid(
          fmt::format("query `{}` returned {} series; an SLI is one number a minute (wrap it in "
                      "sum() or max())",
                      expr, r->matrix.size())));
    }
    for (const auto& series : r->matrix) {
      for (const auto& [t, v] : series.points) {
        auto since = std::chrono::duration_cast<std::chrono::minutes>(t - month.start).count();
        if (since < 1 || since > static_cast<long long>(n)) continue;
        out[static_cast<std::size_t>(since - 1)] = v;
      }
    }
  }
  return out;
}

Result<ProviderTelemetry> FetchProviderTelemetry(source::SliSource& source, const ProviderSla& sla,
                                                 const MonthRange& month) {
  ProviderTelemetry t;
  auto n = static_cast<std::size_t>(month.minutes());
  auto ratio = [&](const std::optional<RatioSli>& sli, RatioMinutes& synthetic,
                   std::optional<RatioMinutes>& provider) -> Result<bool> {
    if (!sli) return true;
    auto s = FetchRatio(source, sli->synthetic, month);
    if (!s) return Fail(s.error());
    synthetic = std::move(*s);
    if (sli->provider) {
      auto p = FetchRatio(source, *sli->provider, month);
      if (!p) return Fail(p.error());
      provider = std::move(*p);
    }
    return true;
  };
  auto latency = [&](const std::optional<LatencySli>& sli, MinuteValues& synthetic,
                     MinuteValues& provider) -> Result<bool> {
    synthetic.assign(n, std::nullopt);
    provider.assign(n, std::nullopt);
    if (!sli) return true;
    auto s = FetchMinutes(source, sli->synthetic, month);
    if (!s) return Fail(s.error());
    synthetic = std::move(*s);
    if (!sli->provider.empty()) {
      auto p = FetchMinutes(source, sli->provider, month);
      if (!p) return Fail(p.error());
      provider = std::move(*p);
    }
    return true;
  };
  if (auto r = ratio(sla.availability, t.availability, t.availability_provider); !r) {
    return Fail(r.error());
  }
  if (auto r = ratio(sla.dsr, t.dsr, t.dsr_provider); !r) return Fail(r.error());
  if (auto r = latency(sla.ttfs_p95_ms, t.ttfs_ms, t.ttfs_ms_provider); !r) return Fail(r.error());
  if (auto r = latency(sla.webhook_p95_s, t.webhook_s, t.webhook_s_provider); !r) {
    return Fail(r.error());
  }
  return t;
}

Result<SlaReport> BuildSlaReport(source::SliSource& source, const SlaConfig& config,
                                 const std::string& month, const std::string& provider,
                                 TimePoint now) {
  auto range = CalendarMonth(month, config.time_zone);
  if (!range) return Fail(range.error());
  // Checked before any query: a wrong name, then a month not over yet.
  if (!provider.empty() && std::none_of(config.providers.begin(), config.providers.end(),
                                        [&](const ProviderSla& p) { return p.name == provider; })) {
    std::string known;
    for (const auto& p : config.providers) known += (known.empty() ? "" : ", ") + p.name;
    return Fail(Error::NotFound("no provider \"" + provider + "\" in providers_sla (declared: " +
                                (known.empty() ? "none" : known) + ")"));
  }
  if (range->end > now) {
    return Fail(Error::Invalid(fmt::format(
        "{} is not over: it ends at {} ({}); a credit is owed for a whole month, so run the "
        "report after that (the minutes to come have no telemetry and would count as downtime)",
        month, LocalMinute(date::locate_zone(config.time_zone), range->end), config.time_zone)));
  }
  SlaReport report;
  report.month = month;
  report.time_zone = config.time_zone;
  for (const auto& sla : config.providers) {
    if (!provider.empty() && sla.name != provider) continue;
    auto telemetry = FetchProviderTelemetry(source, sla, *range);
    if (!telemetry) return Fail(telemetry.error());
    auto row = ComputeProviderMonth(sla, *range, *telemetry);
    // The two months before, oldest first, for "three months in a row at >= 10 %".
    std::vector<std::optional<int>> run;
    std::string before = PreviousMonth(month);
    for (const auto& earlier : {PreviousMonth(before), before}) {
      auto past_range = CalendarMonth(earlier, config.time_zone);
      if (!past_range) return Fail(past_range.error());
      auto past = FetchProviderTelemetry(source, sla, *past_range);
      if (!past) return Fail(past.error());
      auto past_row = ComputeProviderMonth(sla, *past_range, *past);
      std::optional<int> credit;
      if (past_row.has_telemetry) credit = past_row.credit_percent;
      row.history.emplace_back(earlier, credit);
      run.push_back(credit);
    }
    run.push_back(row.has_telemetry ? std::optional<int>(row.credit_percent) : std::nullopt);
    row.chronic = ChronicFailure(run);
    report.providers.push_back(std::move(row));
  }
  return report;
}

}  // namespace tocsin::report
