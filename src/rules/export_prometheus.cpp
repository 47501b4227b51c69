// `tocsin rules export prometheus`: the Prometheus recording and alerting rules that fire where
// tocsin's rules do, for teams that keep both during a migration.
#include <fmt/format.h>

#include <optional>
#include <set>

#include "rules/import_common.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/url.h"

namespace tocsin::rules {

using import_detail::Quote;

namespace {

// A decimal as (mantissa, scale): 99.85 -> (9985, 2). Shortest round-trip text of the double,
// the decimal the rule file said (burn_rate.h reads it the same way).
std::optional<std::pair<long long, int>> ParseDecimal(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of("eE") != std::string::npos) return std::nullopt;
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.erase(0, 1);
  long long m = 0;
  int scale = 0;
  bool after_dot = false;
  for (char c : s) {
    if (c == '.') {
      after_dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, c - '0', &m)) {
      return std::nullopt;
    }
    if (after_dot) ++scale;
  }
  return std::make_pair(negative ? -m : m, scale);
}

std::string FormatDecimal(long long m, int scale) {
  bool negative = m < 0;
  if (negative) m = -m;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m > 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  std::string out = digits.substr(0, digits.size() - scale);
  std::string frac = digits.substr(digits.size() - scale);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) out += "." + frac;
  return (negative ? "-" : "") + out;
}

// factor * (100 - objective), the right side of tocsin's comparison
// `error_ratio * 100 > factor * (100 - objective)`, computed exactly as decimals.
std::string BurnThreshold(double factor, double objective) {
  auto f = ParseDecimal(factor);
  auto o = ParseDecimal(objective);
  long long hundred = 100, product = 0;
  bool exact = f && o;
  for (int i = 0; exact && i < o->second; ++i)
    exact = !__builtin_mul_overflow(hundred, 10, &hundred);
  if (exact && !__builtin_mul_overflow(f->first, hundred - o->first, &product)) {
    return FormatDecimal(product, f->second + o->second);
  }
  return fmt::format("{}", factor * (100 - objective));
}

// 99.85 -> "0.9985": the objective as a ratio, digits kept (99.85 / 100 in doubles is
// 0.9984999999999999).
std::string RatioFromPercent(double percent) {
  auto p = ParseDecimal(percent);
  return p ? FormatDecimal(p->first, p->second + 2) : fmt::format("{}", percent / 100);
}

std::string RecordName(Duration window) {
  return "tocsin:slo_error_ratio:" + FormatDuration(window);
}

// Converts a tocsin annotation template to Prometheus' template language. Variables whose value
// the Prometheus alert has ($value, $labels) are kept; constants of the rule are written in;
// nullopt when the text uses one Prometheus cannot compute ($burn_rate, $budget_consumed).
struct TemplateValues {
  std::map<std::string, std::string> numbers;  // constants of the rule, as PromQL numbers
  std::map<std::string, std::string> strings;  // constants written in as text
  // Values the alert does not carry but Prometheus can query when it renders the annotation:
  // a Go template pipeline ending in `query` ($burn_rate, $budget_consumed of an SLO tier).
  std::map<std::string, std::string> queries;
};

std::optional<std::string> PrometheusTemplate(const std::string& text, const TemplateValues& v,
                                              std::string& missing) {
  const auto& numbers = v.numbers;
  const auto& strings = v.strings;
  std::string out;
  std::size_t pos = 0;
  while (true) {
    auto open = text.find("{{", pos);
    if (open == std::string::npos) {
      out += text.substr(pos);
      return out;
    }
    auto close = text.find("}}", open);
    if (close == std::string::npos) return std::nullopt;
    out += text.substr(pos, open - pos);
    std::string inner = text.substr(open + 2, close - open - 2);
    std::string var = inner, format;
    if (auto bar = inner.find('|'); bar != std::string::npos) {
      var = inner.substr(0, bar);
      format = inner.substr(bar + 1);
    }
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    var = trim(var);
    format = trim(format);
    std::string pipe = format == "percent" ? "humanizePercentage"
                       : format == "ms"    ? "humanizeDuration"
                                           : "humanize";
    if (var.rfind("$labels.", 0) == 0) {
      out += "{{ " + var + " }}";
    } else if (var == "$value") {
      out += "{{ $value | " + pipe + " }}";
    } else if (auto n = numbers.find(var.substr(1)); !var.empty() && n != numbers.end()) {
      out += "{{ " + n->second + " | " + pipe + " }}";
    } else if (auto s = strings.find(var.substr(1)); !var.empty() && s != strings.end()) {
      out += s->second;
    } else if (auto q = v.queries.find(var.substr(1)); !var.empty() && q != v.queries.end()) {
      out += "{{ with " + q->second + " }}{{ . | first | value | " + pipe + " }}{{ end }}";
    } else {
      missing = var;
      return std::nullopt;
    }
    pos = close + 2;
  }
}

void WriteLabels(std::string& y, const Labels& labels) {
  y += "        labels:\n";
  for (const auto& l : labels) y += fmt::format("          {}: {}\n", l.name, Quote(l.value));
}

struct AnnotationContext {
  const RuleSet& rules;
  config::Diagnostics& diags;
  config::Position where;
  std::string rule;
  std::set<std::string>* warned;  // one warning per rule and annotation, not per tier
};

void WriteAnnotations(std::string& y, const AnnotationContext& c, const AlertTemplateFields& a,
                      const TemplateValues& values, const std::string& fallback_summary) {
  y += "        annotations:\n";
  auto one = [&](const char* name, const Template& t, const std::string& fallback) {
    if (t.empty()) return;
    std::string missing;
    auto converted = PrometheusTemplate(t.source(), values, missing);
    if (!converted && c.warned->insert(name).second) {
      c.diags.Warning(c.where, fmt::format("not exported: {} annotation {} uses {}, which the "
                                           "Prometheus alert has no value for{}",
                                           c.rule, name, missing,
                                           fallback.empty() ? "" : "; a fixed sentence is used"));
    }
    if (!converted) {
      if (fallback.empty()) return;
      converted = fallback;
    }
    y += fmt::format("          {}: {}\n", name, Quote(*converted));
  };
  one("summary", a.summary, fallback_summary);
  one("description", a.description, "");
  one("action", a.action, "");
  if (!a.runbook.empty()) {
    y += fmt::format("          runbook: {}\n",
                     Quote(UrlUnder(c.rules.runbook_base_url, a.runbook)));
  }
  if (!a.dashboards.empty()) {
    y += fmt::format("          dashboard: {}\n", Quote(a.dashboards.front().url));
  }
}

void ExportSlo(std::string& y, const RuleSet& rules, const SloRule& slo, PrometheusExport& out,
               config::Diagnostics& diags) {
  std::set<Duration> windows;
  for (const auto& t : slo.tiers) {
    if (!t.enabled) continue;
    windows.insert(t.long_window);
    windows.insert(t.short_window);
  }
  for (auto w : windows) {
    y += fmt::format("      - record: {}\n        expr: {}\n        labels:\n          slo: {}\n",
                     RecordName(w), Quote(slo.ErrorRatioQuery(w)), Quote(slo.name));
    ++out.recording_rules;
  }
  std::string sel = fmt::format("{{slo={}}}", Quote(slo.name));
  const std::string budget = BurnThreshold(0.01, slo.objective);  // (100 - objective) / 100
  std::set<std::string> warned;
  AnnotationContext ctx{rules, diags, {slo.file, slo.line, 0}, "SLO " + slo.name, &warned};
  for (const auto& t : slo.tiers) {
    if (!t.enabled) continue;
    std::string k = BurnThreshold(t.factor, slo.objective);
    // The value is the success ratio over the long window, tocsin's $value; the two
    // comparisons are tocsin's exact comparison written in PromQL (which compares doubles).
    std::string expr = fmt::format("(1 - {0}{1}) and ({0}{1} * 100 > {3}) and ({2}{1} * 100 > {3})",
                                   RecordName(t.long_window), sel, RecordName(t.short_window), k);
    y += fmt::format("      - alert: {}\n        expr: {}\n", slo.name, Quote(expr));
    Labels labels = slo.alert.labels.With("severity", SeverityName(t.severity))
                        .With("service", slo.alert.service)
                        .With("domain", slo.alert.domain)
                        .With("kind", AlertKindName(slo.alert.kind))
                        .With("slo", slo.name)
                        .With("tier", t.name);
    WriteLabels(y, labels);
    TemplateValues values;
    values.numbers = {{"threshold", RatioFromPercent(slo.objective)},
                      {"objective", fmt::format("{}", slo.objective)},
                      {"factor", fmt::format("{}", t.factor)}};
    values.strings = {{"window", FormatDuration(t.long_window)}, {"rule", slo.name}};
    // The long window's ratio of this alert's series, queried when the annotation is rendered:
    // burn rate = ratio / budget; budget consumed = burn rate x long window / SLO window.
    std::string series = RecordName(t.long_window) + "{slo=\\\"" + slo.name + "\\\"";
    std::string args;
    for (const auto& l : slo.by) {
      series += "," + l + "=\\\"%s\\\"";
      args += " $labels." + l;
    }
    series += "}";
    std::string burn = series + " / " + budget;
    values.queries = {
        {"burn_rate", fmt::format("printf \"{}\"{} | query", burn, args)},
        {"budget_consumed",
         fmt::format("printf \"{} * {} / {}\"{} | query", burn,
                     std::chrono::duration_cast<std::chrono::seconds>(t.long_window).count(),
                     std::chrono::duration_cast<std::chrono::seconds>(slo.window).count(), args)}};
    std::string fallback = fmt::format(
        "{}: error budget burning faster than {}x over {} and {} (SLO {}%); success {{{{ $value "
        "| humanizePercentage }}}} over {}",
        slo.name, t.factor, FormatDuration(t.long_window), FormatDuration(t.short_window),
        slo.objective, FormatDuration(t.long_window));
    WriteAnnotations(y, ctx, slo.alert, values, fallback);
    ++out.alerting_rules;
  }
}

void ExportThreshold(std::string& y, const RuleSet& rules, Duration interval,
                     const ThresholdRule& r, PrometheusExport& out, config::Diagnostics& diags) {
  std::string threshold = fmt::format("{}", r.threshold);
  y += fmt::format("      - alert: {}\n        expr: {}\n", r.name,
                   Quote(fmt::format("({}) {} {}", r.expr, ComparisonText(r.op), threshold)));
  // Prometheus' `for` counts from the first violating evaluation: the n-th one in a row is
  // n-1 intervals later. keep_firing_for likewise for tocsin's resolve_after.
  if (r.consecutive > 1) {
    y += fmt::format("        for: {}\n", FormatDuration(interval * (r.consecutive - 1)));
  }
  if (r.resolve_after > 1) {
    y += fmt::format("        keep_firing_for: {}\n",
                     FormatDuration(interval * (r.resolve_after - 1)));
  }
  Labels labels = r.alert.labels.With("severity", SeverityName(r.severity))
                      .With("service", r.alert.service)
                      .With("domain", r.alert.domain)
                      .With("kind", AlertKindName(r.alert.kind));
  WriteLabels(y, labels);
  std::set<std::string> warned;
  AnnotationContext ctx{rules, diags, {r.file, r.line, 0}, "rule " + r.name, &warned};
  std::string fallback =
      fmt::format("{}: {{{{ $value | humanize }}}} {} {}", r.name, ComparisonText(r.op), threshold);
  TemplateValues values;
  values.numbers = {{"threshold", threshold}};
  values.strings = {{"rule", r.name}};
  WriteAnnotations(y, ctx, r.alert, values, fallback);
  if (r.absent_after.count() > 0) {
    diags.Warning({r.file, r.line, 0},
                  fmt::format("not exported: rule {} absent_after (tocsin_absent_data); add an "
                              "absent() rule in Prometheus if you need it",
                              r.name));
  }
  ++out.alerting_rules;
}

}  // namespace

PrometheusExport ExportPrometheusRules(const RuleSet& rules, config::Diagnostics& diags) {
  PrometheusExport out;
  std::string& y = out.yaml;
  y += "# Written by `tocsin rules export prometheus`: the same SLO tiers and thresholds as\n"
       "# tocsin's rules. Budget notices and tocsin_absent_data are not exported.\n";
  y += rules.groups.empty() ? "groups: []\n" : "groups:\n";
  for (const auto& g : rules.groups) {
    Duration interval = g.interval.count() > 0 ? g.interval : rules.evaluation.interval;
    y += fmt::format("  - name: {}\n    interval: {}\n    rules:\n", Quote(g.name),
                     FormatDuration(interval));
    if (g.slos.empty() && g.rules.empty()) y.replace(y.size() - 1, 1, " []\n");
    for (const auto& slo : g.slos) ExportSlo(y, rules, slo, out, diags);
    for (const auto& r : g.rules) ExportThreshold(y, rules, interval, r, out, diags);
  }
  return out;
}

}  // namespace tocsin::rules
