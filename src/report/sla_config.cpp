#include "tocsin/report/sla_config.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <map>
#include <set>

#include "tocsin/common/duration.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::report {
namespace {

using namespace std::chrono_literals;

constexpr auto kMaxWindow = 60min;
constexpr auto kAgreedNotice = std::chrono::hours(24 * 7);
constexpr auto kEmergencyNotice = 24h;

std::optional<RatioQueries> ReadRatio(config::MapReader& r) {
  RatioQueries q;
  bool ok = r.String("errors", q.errors, true);
  ok = r.String("total", q.total, true) && ok;
  r.Finish();
  if (!ok) return std::nullopt;
  return q;
}

// `key: {synthetic: {errors, total}, provider: {errors, total}}`
std::optional<RatioSli> ReadRatioSli(config::MapReader& parent, std::string_view key) {
  if (!parent.Has(key)) return std::nullopt;
  config::MapReader r(parent.file(), parent.Node(key), parent.diags(),
                      parent.what() + "." + std::string(key));
  if (!r.ok()) return std::nullopt;  // the reader said it is not a mapping
  RatioSli sli;
  bool ok = true;
  if (!r.Has("synthetic")) {
    r.diags().Error(r.Here(), r.what() + ": missing required key \"synthetic\"");
    ok = false;
  } else {
    config::MapReader s(r.file(), r.Node("synthetic"), r.diags(), r.what() + ".synthetic");
    auto q = s.ok() ? ReadRatio(s) : std::nullopt;
    if (q) sli.synthetic = *q;
    ok = ok && q.has_value();
  }
  if (r.Has("provider")) {
    config::MapReader p(r.file(), r.Node("provider"), r.diags(), r.what() + ".provider");
    auto q = p.ok() ? ReadRatio(p) : std::nullopt;
    sli.provider = q;
    ok = ok && q.has_value();
  }
  r.Finish();
  if (!ok) return std::nullopt;
  return sli;
}

std::optional<LatencySli> ReadLatencySli(config::MapReader& parent, std::string_view key,
                                         double default_slo) {
  if (!parent.Has(key)) return std::nullopt;
  config::MapReader r(parent.file(), parent.Node(key), parent.diags(),
                      parent.what() + "." + std::string(key));
  if (!r.ok()) return std::nullopt;
  LatencySli sli;
  sli.slo = default_slo;
  bool ok = r.String("synthetic", sli.synthetic, true);
  r.String("provider", sli.provider);
  if (r.Double("slo", sli.slo) && sli.slo <= 0) {
    r.Error("slo", "must be above 0");
    ok = false;
  }
  r.Finish();
  if (!ok) return std::nullopt;
  return sli;
}

std::string LocalMonth(const date::time_zone* zone, TimePoint t) {
  auto local = date::floor<date::days>(zone->to_local(t));
  return date::format("%Y-%m", local);
}

MaintenanceWindow ReadWindow(config::MapReader& r, bool& ok) {
  MaintenanceWindow w;
  w.where = r.Here();
  std::string start, announced;
  Duration duration{};
  ok = r.String("start", start, true);
  ok = r.DurationValue("duration", duration, true) && ok;
  ok = r.String("announced", announced, true) && ok;
  r.Bool("emergency", w.emergency);
  auto parse = [&](std::string_view key, const std::string& text, TimePoint& out) {
    if (text.empty()) return;
    auto t = ParseTime(text);
    if (!t) {
      r.Error(key, "expected an RFC 3339 time such as 2026-10-14T01:00:00Z, got \"" + text + "\"");
      ok = false;
      return;
    }
    out = *t;
  };
  parse("start", start, w.start);
  parse("announced", announced, w.announced);
  if (!ok) return w;
  w.end = w.start + duration;
  if (duration <= Duration::zero() || duration > kMaxWindow) {
    r.Error("duration", "a maintenance window lasts more than 0 and at most 60 minutes, got " +
                            FormatDuration(duration));
    ok = false;
  }
  auto notice = w.start - w.announced;
  if (w.emergency && notice < kEmergencyNotice) {
    r.Error("announced", "an emergency window needs at least 24 h notice, this one had " +
                             FormatDuration(std::max(notice, Duration::zero())));
    ok = false;
  } else if (!w.emergency && notice < kAgreedNotice) {
    r.Error("announced", "an agreed window is announced at least 7 days ahead, this one " +
                             FormatDuration(std::max(notice, Duration::zero())) +
                             " ahead (mark it `emergency: true` if it had at least 24 h notice)");
    ok = false;
  }
  return w;
}

ProviderSla ReadProvider(config::MapReader& r, const date::time_zone* zone, bool& ok) {
  ProviderSla p;
  ok = r.String("name", p.name, true);
  if (r.Double("downtime_error_percent", p.downtime_error_percent, true)) {
    if (p.downtime_error_percent <= 0 || p.downtime_error_percent > 100) {
      r.Error("downtime_error_percent", "must be above 0 and at most 100");
      ok = false;
    }
  } else {
    ok = false;
  }
  p.availability = ReadRatioSli(r, "availability");
  p.dsr = ReadRatioSli(r, "dsr");
  p.ttfs_p95_ms = ReadLatencySli(r, "ttfs_p95_ms", 800);
  p.webhook_p95_s = ReadLatencySli(r, "webhook_p95_s", 60);
  if (!p.availability) {
    // Availability is what every contract measures, and the synthetic source's total is how
    // tocsin tells a month with telemetry from one without.
    if (!r.Has("availability")) {
      r.diags().Error(r.Here(), r.what() + ": missing required key \"availability\"");
    }
    ok = false;
  }
  std::map<std::string, config::Position> agreed_in_month;
  config::ForEachMap(
      r, "maintenance", r.what() + ".maintenance", [&](config::MapReader& w, std::size_t) {
        bool window_ok = true;
        auto window = ReadWindow(w, window_ok);
        w.Finish();
        if (!window_ok) {
          ok = false;
          return;
        }
        if (!window.emergency && zone != nullptr) {
          auto month = LocalMonth(zone, window.start);
          auto [it, fresh] = agreed_in_month.emplace(month, window.where);
          if (!fresh) {
            r.diags().Error(
                window.where,
                fmt::format("{}: a second agreed maintenance window in {} (the first is at "
                            "{}); at most one a month",
                            w.what(), month, it->second.ToString()));
            ok = false;
            return;
          }
        }
        p.maintenance.push_back(window);
      });
  r.Finish();
  return p;
}

}  // namespace

SlaConfig LoadSlaConfig(const config::Config& cfg, config::Diagnostics& diags) {
  SlaConfig out;
  auto it = cfg.sections.find("providers_sla");
  if (it == cfg.sections.end()) return out;
  config::MapReader r(cfg.file, it->second, diags, "providers_sla");
  if (!r.ok()) return out;
  const date::time_zone* zone = nullptr;
  if (r.String("time_zone", out.time_zone)) {
    try {
      zone = date::locate_zone(out.time_zone);
    } catch (const std::exception&) {
      r.Error("time_zone", "not an IANA time zone: \"" + out.time_zone + "\" (e.g. Europe/Kyiv)");
    }
  } else {
    zone = date::locate_zone(out.time_zone);
  }
  if (r.String("source", out.source)) {
    bool known = false;
    std::vector<std::string> names;
    for (const auto& s : cfg.sources) {
      known = known || s.name == out.source;
      names.push_back(s.name);
    }
    if (!known) {
      auto close = config::Suggest(out.source, names);
      r.Error("source", "no source named \"" + out.source + "\" in sources:" +
                            (close.empty() ? "" : " (did you mean \"" + close + "\"?)"));
    }
  } else if (r.Has("providers") && cfg.sources.empty()) {
    r.Error("providers", "the SLIs are Prometheus queries: declare a source under sources:");
  }
  std::set<std::string> names;
  config::ForEachMap(r, "providers", "providers_sla.providers",
                     [&](config::MapReader& p, std::size_t) {
                       bool ok = true;
                       auto provider = ReadProvider(p, zone, ok);
                       if (!ok) return;
                       if (!names.insert(provider.name).second) {
                         p.Error("name", "provider \"" + provider.name + "\" is declared twice");
                         return;
                       }
                       out.providers.push_back(std::move(provider));
                     });
  r.Finish();
  return out;
}

}  // namespace tocsin::report
