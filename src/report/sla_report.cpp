#include "tocsin/report/sla_report.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>

namespace tocsin::report {
namespace {

using namespace std::chrono_literals;

// Counts that Prometheus returns as floats are whole numbers here; this absorbs the last bit
// of a division without turning 1.9999999 steps into 1.
constexpr double kEpsilon = 1e-9;

bool InAny(const std::vector<MaintenanceWindow>& windows, TimePoint minute, bool emergency) {
  return std::any_of(windows.begin(), windows.end(), [&](const MaintenanceWindow& w) {
    return w.emergency == emergency && minute >= w.start && minute < w.end;
  });
}

std::string CauseText(MinuteState s, double x) {
  switch (s) {
    case MinuteState::kDownErrors:
      return fmt::format("errors >= {:g} %", x);
    case MinuteState::kDownNoAnswer:
      return "no answer";
    case MinuteState::kDownProviderFigures:
      return fmt::format("provider's figures: errors >= {:g} %", x);
    default:
      return "";
  }
}

bool IsDown(MinuteState s) {
  return s == MinuteState::kDownErrors || s == MinuteState::kDownNoAnswer ||
         s == MinuteState::kDownProviderFigures;
}

std::optional<double> At(const MinuteValues& v, std::size_t i) {
  return i < v.size() ? v[i] : std::nullopt;
}

// failed / total summed over the counted minutes; none without any total.
std::optional<double> Ratio(const RatioMinutes& m, const std::vector<bool>& counted,
                            double* failed_out, double* total_out) {
  double failed = 0, total = 0;
  for (std::size_t i = 0; i < counted.size(); ++i) {
    if (!counted[i]) continue;
    auto t = At(m.total, i);
    if (!t || *t <= 0) continue;
    total += *t;
    failed += At(m.errors, i).value_or(0);
  }
  if (total <= 0) return std::nullopt;
  *failed_out = failed;
  *total_out = total;
  return 1.0 - failed / total;
}

struct LatencyFigures {
  std::optional<double> p95;
  long long over_slo = 0;
  long long over_twice_slo = 0;
};

// Per minute the worse (higher) of the two sources; the month's figure is the nearest-rank
// p95 of those minute values.
LatencyFigures Latency(const MinuteValues& synthetic, const MinuteValues& provider, double slo,
                       const std::vector<bool>& counted) {
  LatencyFigures out;
  std::vector<double> values;
  for (std::size_t i = 0; i < counted.size(); ++i) {
    if (!counted[i]) continue;
    auto a = At(synthetic, i);
    auto b = At(provider, i);
    // NaN (a quantile over no traffic) is no figure: the other source's stands alone.
    if (a && std::isnan(*a)) a.reset();
    if (b && std::isnan(*b)) b.reset();
    if (!a && !b) continue;
    double v = !a ? *b : !b ? *a : std::max(*a, *b);
    values.push_back(v);
    if (v > slo) ++out.over_slo;
    if (v > 2 * slo) ++out.over_twice_slo;
  }
  out.p95 = NearestRankPercentile(std::move(values), 95);
  return out;
}

}  // namespace

long long MonthRange::minutes() const {
  return std::chrono::duration_cast<std::chrono::minutes>(end - start).count();
}

Result<MonthRange> CalendarMonth(const std::string& month, const std::string& time_zone) {
  static const std::regex kForm(R"((\d{4})-(\d{2}))");
  std::smatch m;
  if (!std::regex_match(month, m, kForm)) {
    return Fail(
        Error::Invalid("\"" + month + "\" is not a month (expected YYYY-MM, e.g. 2026-10)"));
  }
  int y = std::stoi(m[1]);
  unsigned mo = static_cast<unsigned>(std::stoi(m[2]));
  if (mo < 1 || mo > 12) {
    return Fail(Error::Invalid("\"" + month + "\" is not a month (the month is 01 to 12)"));
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(time_zone);
  } catch (const std::exception&) {
    return Fail(Error::Invalid("not an IANA time zone: \"" + time_zone + "\" (e.g. Europe/Kyiv)"));
  }
  auto first = date::year_month_day{date::year{y}, date::month{mo}, date::day{1}};
  auto next = date::year_month{date::year{y}, date::month{mo}} + date::months{1};
  auto next_first = date::year_month_day{next.year(), next.month(), date::day{1}};
  // Midnight can fall in a DST gap in some zones; the earliest instant of the day is the start.
  auto at = [&](date::year_month_day d) {
    auto sys = zone->to_sys(date::local_days{d}, date::choose::earliest);
    return std::chrono::time_point_cast<Duration>(sys);
  };
  MonthRange out;
  out.month = month;
  out.start = at(first);
  out.end = at(next_first);
  return out;
}

std::string PreviousMonth(const std::string& month) {
  int y = std::stoi(month.substr(0, 4));
  int m = std::stoi(month.substr(5, 2)) - 1;
  if (m == 0) {
    m = 12;
    --y;
  }
  return fmt::format("{:04}-{:02}", y, m);
}

MinuteState ClassifyMinute(std::optional<double> errors, std::optional<double> total,
                           std::optional<double> provider_errors,
                           std::optional<double> provider_total, double downtime_error_percent,
                           bool in_agreed_maintenance) {
  if (in_agreed_maintenance) return MinuteState::kExcluded;
  if (!total || std::isnan(*total) || *total <= 0) return MinuteState::kDownNoAnswer;
  if (errors.value_or(0) * 100 >= downtime_error_percent * *total - kEpsilon) {
    return MinuteState::kDownErrors;
  }
  if (provider_total && *provider_total > 0 &&
      provider_errors.value_or(0) * 100 >= downtime_error_percent * *provider_total - kEpsilon) {
    return MinuteState::kDownProviderFigures;
  }
  return MinuteState::kUp;
}

std::string PercentDown(double percent) {
  // kEpsilon: 99.9 computed as 99.89999... is still 99.900.
  return fmt::format("{:.3f}", std::floor(percent * 1000 + kEpsilon) / 1000);
}

std::optional<CreditClause> AvailabilityCredit(long long downtime_minutes,
                                               long long counted_minutes) {
  if (counted_minutes <= 0) return std::nullopt;
  double availability = 100.0 * (1.0 - static_cast<double>(downtime_minutes) / counted_minutes);
  auto reason = fmt::format("availability {} % ({} downtime minutes of {})",
                            PercentDown(availability), downtime_minutes, counted_minutes);
  // Exact in integers: A < 99.5 % <=> down / counted > 1/200; A < 99.9 % <=> > 1/1000.
  if (downtime_minutes * 200 > counted_minutes) {
    return CreditClause{"availability below 99.5 %", reason, 10};
  }
  if (downtime_minutes * 1000 > counted_minutes) {
    return CreditClause{"availability 99.9-99.5 %", reason, 5};
  }
  return std::nullopt;
}

std::optional<CreditClause> DsrCredit(double failed, double total) {
  if (total <= 0) return std::nullopt;
  // Shortfall below 99.0 % in steps of 0.5 pp: (failed / total - 0.01) / 0.005.
  double steps = std::floor((200.0 * failed - 2.0 * total) / total + kEpsilon);
  if (steps < 1) return std::nullopt;
  int percent = std::min(20, static_cast<int>(steps) * 2);
  return CreditClause{"DSR below 99.0 %: 2 % per full 0.5 pp, at most 20 %",
                      fmt::format("DSR {} % ({:.0f} failed of {:.0f}): {} full 0.5 pp below",
                                  PercentDown(100.0 * (1.0 - failed / total)), failed, total,
                                  static_cast<int>(steps)),
                      percent};
}

std::optional<CreditClause> WebhookCredit(long long minutes_over_twice_slo, double slo_s) {
  if (minutes_over_twice_slo <= 60) return std::nullopt;
  return CreditClause{
      "webhook delay p95 above 2x SLO for more than 60 min",
      fmt::format("{} minutes above {:g} s (SLO {:g} s)", minutes_over_twice_slo, 2 * slo_s, slo_s),
      5};
}

std::optional<CreditClause> TtfsCredit(long long minutes_over_slo, double slo_ms) {
  if (minutes_over_slo <= 120) return std::nullopt;
  return CreditClause{fmt::format("TTFS p95 above {:g} ms for more than 120 min", slo_ms),
                      fmt::format("{} minutes above {:g} ms", minutes_over_slo, slo_ms), 5};
}

int TotalCredit(const std::vector<CreditClause>& clauses) {
  int sum = 0;
  for (const auto& c : clauses) sum += c.percent;
  return std::min(sum, 100);
}

bool ChronicFailure(const std::vector<std::optional<int>>& last_three_months) {
  if (last_three_months.size() < 3) return false;
  return std::all_of(last_three_months.end() - 3, last_three_months.end(),
                     [](const std::optional<int>& c) { return c && *c >= 10; });
}

std::optional<double> NearestRankPercentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * values.size() - kEpsilon));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

ProviderMonth ComputeProviderMonth(const ProviderSla& sla, const MonthRange& month,
                                   const ProviderTelemetry& t) {
  ProviderMonth out;
  out.provider = sla.name;
  out.month = month.month;
  out.minutes_in_month = month.minutes();
  for (const auto& w : sla.maintenance) {
    if (w.end > month.start && w.start < month.end) out.maintenance.push_back(w);
  }
  auto n = static_cast<std::size_t>(out.minutes_in_month);
  std::vector<bool> counted(n, true);
  const auto* prov = t.availability_provider ? &*t.availability_provider : nullptr;
  DowntimeInterval open;
  auto close = [&] {
    if (open.minutes > 0) out.downtime.push_back(open);
    open = {};
  };
  for (std::size_t i = 0; i < n; ++i) {
    TimePoint minute = month.start + std::chrono::minutes(i);
    bool excluded = InAny(out.maintenance, minute, false);
    if (At(t.availability.total, i)) out.has_telemetry = true;
    auto state = ClassifyMinute(At(t.availability.errors, i), At(t.availability.total, i),
                                prov ? At(prov->errors, i) : std::nullopt,
                                prov ? At(prov->total, i) : std::nullopt,
                                sla.downtime_error_percent, excluded);
    if (state == MinuteState::kExcluded) {
      counted[i] = false;
      ++out.excluded_minutes;
    }
    if (!IsDown(state)) {
      close();
      continue;
    }
    ++out.downtime_minutes;
    auto cause = CauseText(state, sla.downtime_error_percent);
    bool emergency = InAny(out.maintenance, minute, true);
    if (open.minutes > 0 && (open.cause != cause || open.in_emergency_maintenance != emergency)) {
      close();
    }
    if (open.minutes == 0) {
      open.start = minute;
      open.cause = cause;
      open.in_emergency_maintenance = emergency;
    }
    open.end = minute + 1min;
    ++open.minutes;
  }
  close();
  if (!out.has_telemetry) {
    // Nothing at all from the synthetic source: the probe or Prometheus was not there, which
    // says nothing about the provider. No figures and no credits rather than a made-up 0 %.
    out.downtime.clear();
    out.downtime_minutes = 0;
    return out;
  }
  long long counted_minutes = out.minutes_in_month - out.excluded_minutes;
  if (counted_minutes > 0) {
    out.availability = 1.0 - static_cast<double>(out.downtime_minutes) / counted_minutes;
  }
  if (auto c = AvailabilityCredit(out.downtime_minutes, counted_minutes)) {
    out.credits.push_back(*c);
  }
  if (sla.dsr) {
    double f1 = 0, t1 = 0, f2 = 0, t2 = 0;
    out.dsr_synthetic = Ratio(t.dsr, counted, &f1, &t1);
    if (t.dsr_provider) out.dsr_provider = Ratio(*t.dsr_provider, counted, &f2, &t2);
    bool provider_worse =
        out.dsr_provider && (!out.dsr_synthetic || *out.dsr_provider < *out.dsr_synthetic);
    out.dsr = provider_worse ? out.dsr_provider : out.dsr_synthetic;
    if (out.dsr) {
      if (auto c = provider_worse ? DsrCredit(f2, t2) : DsrCredit(f1, t1)) {
        if (provider_worse) c->reason += " (provider's figures, worse than the synthetic source)";
        out.credits.push_back(*c);
      }
    }
  }
  if (sla.ttfs_p95_ms) {
    out.ttfs_slo_ms = sla.ttfs_p95_ms->slo;
    auto f = Latency(t.ttfs_ms, t.ttfs_ms_provider, out.ttfs_slo_ms, counted);
    out.ttfs_p95_ms = f.p95;
    out.ttfs_minutes_over_slo = f.over_slo;
    if (auto c = TtfsCredit(f.over_slo, out.ttfs_slo_ms)) out.credits.push_back(*c);
  }
  if (sla.webhook_p95_s) {
    out.webhook_slo_s = sla.webhook_p95_s->slo;
    auto f = Latency(t.webhook_s, t.webhook_s_provider, out.webhook_slo_s, counted);
    out.webhook_p95_s = f.p95;
    out.webhook_minutes_over_slo = f.over_slo;
    out.webhook_minutes_over_twice_slo = f.over_twice_slo;
    if (auto c = WebhookCredit(f.over_twice_slo, out.webhook_slo_s)) out.credits.push_back(*c);
  }
  out.credit_percent = TotalCredit(out.credits);
  return out;
}

}  // namespace tocsin::report
