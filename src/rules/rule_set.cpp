#include "tocsin/rules/rule_set.h"

#include <fmt/format.h>

#include "tocsin/common/duration.h"

namespace tocsin::rules {

namespace {

// "{{window}}" with any spacing inside the braces. Hand-written rather than std::regex: it
// runs for every SLO and window on every tick.
std::string SubstituteWindow(const std::string& query, Duration window) {
  const std::string w = FormatDuration(window);
  std::string out;
  out.reserve(query.size() + 8);
  std::size_t pos = 0;
  while (pos < query.size()) {
    auto open = query.find("{{", pos);
    if (open == std::string::npos) break;
    auto i = open + 2;
    while (i < query.size() && (query[i] == ' ' || query[i] == '\t')) ++i;
    bool match = query.compare(i, 6, "window") == 0;
    auto j = i + 6;
    while (match && j < query.size() && (query[j] == ' ' || query[j] == '\t')) ++j;
    match = match && query.compare(j, 2, "}}") == 0;
    if (!match) {
      out.append(query, pos, open + 2 - pos);
      pos = open + 2;
      continue;
    }
    out.append(query, pos, open - pos);
    out += w;
    pos = j + 2;
  }
  if (pos < query.size()) out.append(query, pos, std::string::npos);
  return out;
}

void HashField(std::uint64_t& h, std::string_view s) {
  h = Fnv1a64(s, h);
  h = Fnv1a64("\xff", h);
}

void HashCommon(std::uint64_t& h, const AlertTemplateFields& a) {
  HashField(h, a.service);
  HashField(h, a.domain);
  HashField(h, AlertKindName(a.kind));
  HashField(h, a.labels.ToString());
}

}  // namespace

std::vector<BurnRateTier> DefaultBurnRateTiers() {
  using std::chrono::hours;
  using std::chrono::minutes;
  return {
      {"page_fast", true, 14.4, hours(1), minutes(5), Severity::kCritical},
      {"page_slow", true, 6, hours(6), minutes(30), Severity::kCritical},
      {"ticket", true, 1, hours(72), hours(6), Severity::kWarning},
  };
}

std::string SloRule::ErrorRatioQuery(Duration w) const {
  std::string total = SubstituteWindow(total_query, w);
  if (!error_query.empty()) {
    return fmt::format("({}) / ({})", SubstituteWindow(error_query, w), total);
  }
  return fmt::format("1 - (({}) / ({}))", SubstituteWindow(good_query, w), total);
}

std::optional<Duration> SloRule::NoDataWindow() const {
  std::optional<Duration> paging, any;
  for (const auto& t : tiers) {
    if (!t.enabled) continue;
    if (!any || t.short_window < *any) any = t.short_window;
    if (t.severity == Severity::kCritical && (!paging || t.short_window < *paging)) {
      paging = t.short_window;
    }
  }
  return paging ? paging : any;
}

std::string_view ComparisonText(Comparison c) {
  switch (c) {
    case Comparison::kGreater:
      return ">";
    case Comparison::kGreaterEqual:
      return ">=";
    case Comparison::kLess:
      return "<";
    case Comparison::kLessEqual:
      return "<=";
    case Comparison::kEqual:
      return "==";
    case Comparison::kNotEqual:
      return "!=";
  }
  return ">";
}

bool Compare(double v, Comparison c, double t) {
  // NaN compares false everywhere, so "no traffic" never violates a threshold by itself.
  switch (c) {
    case Comparison::kGreater:
      return v > t;
    case Comparison::kGreaterEqual:
      return v >= t;
    case Comparison::kLess:
      return v < t;
    case Comparison::kLessEqual:
      return v <= t;
    case Comparison::kEqual:
      return v == t;
    case Comparison::kNotEqual:
      return v != t && v == v;
  }
  return false;
}

const SloRule* RuleSet::FindSlo(std::string_view name) const {
  for (const auto& g : groups) {
    for (const auto& s : g.slos) {
      if (s.name == name) return &s;
    }
  }
  return nullptr;
}

const ThresholdRule* RuleSet::FindRule(std::string_view name) const {
  for (const auto& g : groups) {
    for (const auto& r : g.rules) {
      if (r.name == name) return &r;
    }
  }
  return nullptr;
}

std::size_t RuleSet::slo_count() const {
  std::size_t n = 0;
  for (const auto& g : groups) n += g.slos.size();
  return n;
}

std::size_t RuleSet::rule_count() const {
  std::size_t n = 0;
  for (const auto& g : groups) n += g.rules.size();
  return n;
}

std::uint64_t DefinitionHash(const SloRule& slo, const BurnRateTier& tier) {
  std::uint64_t h = Fnv1a64("slo");
  HashField(h, slo.name);
  HashCommon(h, slo.alert);
  HashField(h, fmt::format("{}", slo.objective));
  HashField(h, FormatDuration(slo.window));
  HashField(h, slo.error_query);
  HashField(h, slo.good_query);
  HashField(h, slo.total_query);
  for (const auto& b : slo.by) HashField(h, b);
  HashField(h, tier.name);
  HashField(h, fmt::format("{}", tier.factor));
  HashField(h, FormatDuration(tier.long_window));
  HashField(h, FormatDuration(tier.short_window));
  HashField(h, SeverityName(tier.severity));
  return h;
}

std::uint64_t DefinitionHash(const ThresholdRule& r) {
  std::uint64_t h = Fnv1a64("threshold");
  HashField(h, r.name);
  HashCommon(h, r.alert);
  HashField(h, r.expr);
  HashField(h, ComparisonText(r.op));
  HashField(h, fmt::format("{}", r.threshold));
  HashField(h, SeverityName(r.severity));
  HashField(h, std::to_string(r.consecutive));
  HashField(h, std::to_string(r.resolve_after));
  return h;
}

}  // namespace tocsin::rules
