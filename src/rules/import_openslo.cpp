// `tocsin rules import --from openslo`: OpenSLO v1 documents (SLO with an inline or referenced
// ratio-metric SLI, AlertPolicy with burn-rate AlertConditions, DataSource) into tocsin SLOs.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include "rules/import_common.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/text.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::rules {

using import_detail::ScalarText;
using import_detail::SloSpec;
using import_detail::TierSpec;
using import_detail::Unmapped;

namespace {

struct Documents {
  // kind -> metadata.name -> document
  std::map<std::string, std::map<std::string, YAML::Node>> by_kind;
  const YAML::Node* Find(const std::string& kind, const std::string& name) const {
    auto k = by_kind.find(kind);
    if (k == by_kind.end()) return nullptr;
    auto it = k->second.find(name);
    return it == k->second.end() ? nullptr : &it->second;
  }
};

// A PromQL query over {{window}} from an OpenSLO metric query. Queries written for Sloth's
// OpenSLO support already carry the window; a bare selector of a counter becomes a rate over
// it, anything else a subquery (noted: its resolution is Prometheus' default step).
std::string WindowedQuery(Unmapped& u, const YAML::Node& at, const std::string& field,
                          const std::string& query, bool counter, SloSpec& slo) {
  if (import_detail::HasWindowTemplate(query)) return import_detail::TocsinWindowTemplate(query);
  static const std::regex kSelector(R"(\s*([a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{[^}]*\})?)\s*)");
  static const std::regex kAggregated(
      R"(\s*(sum|max|min|avg)\s*((by|without)\s*\([^)]*\))?\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{[^}]*\})?)\s*\)\s*)");
  const std::string fn = counter ? "rate" : "avg_over_time";
  std::smatch m;
  if (std::regex_match(query, m, kSelector)) {
    return fmt::format("sum({}({}[{{{{window}}}}]))", fn, m[1].str());
  }
  if (std::regex_match(query, m, kAggregated)) {
    return fmt::format("{} {}({}({}[{{{{window}}}}]))", m[1].str(), m[2].str(), fn, m[4].str());
  }
  u.Note(at, field,
         "the query is neither a selector nor an aggregation of one, so it is evaluated as a "
         "subquery over each window (" +
             fn + "((query)[window:])); better write it with {{window}}",
         &slo);
  return fmt::format("{}(({})[{{{{window}}}}:])", fn, query);
}

// The PromQL of one ratioMetric part (good, bad, total, raw), or "" when it is not Prometheus.
std::string PartQuery(Unmapped& u, const Documents& docs, const YAML::Node& part,
                      const std::string& field, SloSpec& slo) {
  YAML::Node source = part["metricSource"];
  if (!source || !source.IsMap()) {
    u.Note(part, field, "metricSource is required; SLO skipped", &slo);
    return "";
  }
  std::string type = AsciiLower(ScalarText(source["type"]));
  std::string ref = ScalarText(source["metricSourceRef"]);
  if (type.empty() && !ref.empty()) {
    if (const YAML::Node* ds = docs.Find("DataSource", ref)) {
      type = AsciiLower(ScalarText((*ds)["spec"]["type"]));
    }
  }
  if (type.empty()) {
    u.Note(source, field + ".metricSource",
           "no type (nor a DataSource \"" + ref + "\" in this file): read as PromQL", &slo);
  } else if (type != "prometheus") {
    u.Note(source, field + ".metricSource.type",
           "tocsin queries Prometheus; a " + ScalarText(source["type"]) +
               " query cannot be evaluated. SLO skipped",
           &slo);
    return "";
  }
  std::string query = ScalarText(source["spec"]["query"]);
  if (query.empty()) query = ScalarText(source["spec"]["promql"]);
  if (query.empty()) {
    u.Note(source, field + ".metricSource.spec", "no query; SLO skipped", &slo);
  }
  for (const auto& kv : source["spec"]) {
    std::string k = kv.first.Scalar();
    if (k != "query" && k != "promql") {
      u.Note(kv.second, field + ".metricSource.spec." + k, "not used by a Prometheus query", &slo);
    }
  }
  return query;
}

bool ReadIndicator(Unmapped& u, const Documents& docs, const YAML::Node& sli,
                   const std::string& field, SloSpec& slo) {
  YAML::Node spec = sli["spec"];
  if (spec["thresholdMetric"]) {
    u.Note(spec["thresholdMetric"], field + ".spec.thresholdMetric",
           "tocsin SLOs are ratios of events; a threshold metric fits a threshold rule "
           "(`rules:` in docs/rules.md), written by hand. SLO skipped",
           &slo);
    return false;
  }
  YAML::Node ratio = spec["ratioMetric"];
  if (!ratio || !ratio.IsMap()) {
    u.Note(sli, field + ".spec", "no ratioMetric; SLO skipped", &slo);
    return false;
  }
  bool counter = ScalarText(ratio["counter"]) != "false";
  const std::string rf = field + ".spec.ratioMetric";
  if (ratio["raw"]) {
    std::string q = PartQuery(u, docs, ratio["raw"], rf + ".raw", slo);
    if (q.empty()) return false;
    q = WindowedQuery(u, ratio["raw"], rf + ".raw", q, false, slo);
    std::string raw_type = ScalarText(ratio["rawType"]);
    // A ratio already computed is divided by 1 of the same labels (tocsin divides by total).
    (raw_type == "success" ? slo.good_query : slo.error_query) = q;
    slo.total_query = "(" + q + ") * 0 + 1";
    if (raw_type != "success" && raw_type != "failure") {
      u.Note(ratio, rf + ".rawType", "must be success or failure; SLO skipped", &slo);
      return false;
    }
    return true;
  }
  const char* numerator = ratio["bad"] ? "bad" : "good";
  if (!ratio[numerator] || !ratio["total"]) {
    u.Note(ratio, rf, "needs good or bad, and total; SLO skipped", &slo);
    return false;
  }
  std::string num = PartQuery(u, docs, ratio[numerator], rf + "." + numerator, slo);
  std::string total = PartQuery(u, docs, ratio["total"], rf + ".total", slo);
  if (num.empty() || total.empty()) return false;
  num = WindowedQuery(u, ratio[numerator], rf + "." + numerator, num, counter, slo);
  total = WindowedQuery(u, ratio["total"], rf + ".total", total, counter, slo);
  (std::string(numerator) == "bad" ? slo.error_query : slo.good_query) = num;
  slo.total_query = total;
  return true;
}

std::string TocsinSeverity(const std::string& given, bool& known) {
  static const std::map<std::string, std::string> kMap = {
      {"critical", "critical"}, {"page", "critical"}, {"sev1", "critical"},  {"p1", "critical"},
      {"high", "critical"},     {"error", "error"},   {"sev2", "error"},     {"p2", "error"},
      {"warning", "warning"},   {"warn", "warning"},  {"ticket", "warning"}, {"sev3", "warning"},
      {"p3", "warning"},        {"info", "info"},     {"low", "info"},       {"sev4", "info"}};
  auto it = kMap.find(AsciiLower(given));
  known = it != kMap.end();
  return known ? it->second : "warning";
}

void ReadCondition(Unmapped& u, const YAML::Node& cond, const std::string& field, SloSpec& slo,
                   Duration slo_window) {
  YAML::Node spec = cond["spec"];
  YAML::Node c = spec["condition"];
  std::string kind = ScalarText(c["kind"]);
  if (!kind.empty() && kind != "burnrate") {
    u.Note(c, field + ".spec.condition.kind",
           "only burnrate conditions map to tocsin tiers; condition skipped", &slo);
    return;
  }
  std::string threshold = ScalarText(c["threshold"]);
  auto lookback = ParseDuration(ScalarText(c["lookbackWindow"]));
  double factor = 0;
  try {
    factor = std::stod(threshold);
  } catch (const std::exception&) {
  }
  if (!(factor > 0) || !lookback || lookback->count() <= 0 || *lookback > slo_window) {
    u.Note(c, field + ".spec.condition",
           "needs a threshold > 0 and a lookbackWindow (a duration such as 1h) no longer than "
           "the SLO window; condition skipped",
           &slo);
    return;
  }
  TierSpec tier;
  tier.name = import_detail::SafeName(AsciiLower(ScalarText(cond["metadata"]["name"])));
  for (int i = 2; std::any_of(slo.tiers.begin(), slo.tiers.end(),
                              [&](const TierSpec& t) { return t.name == tier.name; });
       ++i) {
    tier.name = import_detail::SafeName(AsciiLower(ScalarText(cond["metadata"]["name"]))) +
                fmt::format("_{}", i);
  }
  tier.factor = threshold;
  tier.long_window = FormatDuration(*lookback);
  // OpenSLO has one window; the short window that makes the alert stop minutes after the
  // errors do is a twelfth of it, as in the SRE workbook (1h -> 5m, 6h -> 30m).
  tier.short_window = FormatDuration(*lookback / 12);
  bool known = false;
  std::string severity = ScalarText(spec["severity"]);
  tier.severity = TocsinSeverity(severity, known);
  if (!known) {
    u.Note(spec["severity"] ? spec["severity"] : spec, field + ".spec.severity",
           "\"" + severity + "\" is not a severity tocsin knows: mapped to warning", &slo);
  }
  if (std::string after = ScalarText(c["alertAfter"]); !after.empty()) {
    auto d = ParseDuration(after);
    if (!d || d->count() != 0) {
      u.Note(c["alertAfter"], field + ".spec.condition.alertAfter",
             "tocsin tiers have no delay: the short window (" + tier.short_window +
                 ") is what keeps a brief spike from paging",
             &slo);
    }
  }
  if (spec["description"]) {
    u.Note(spec["description"], field + ".spec.description", "tocsin tiers have no description",
           &slo);
  }
  slo.tiers.push_back(std::move(tier));
}

void ReadPolicy(Unmapped& u, const Documents& docs, const YAML::Node& policy,
                const std::string& field, SloSpec& slo, Duration slo_window) {
  YAML::Node spec = policy["spec"];
  for (const auto& kv : spec) {
    std::string k = kv.first.Scalar();
    const std::string f = field + ".spec." + k;
    if (k == "conditions") {
      std::size_t i = 0;
      for (const auto& c : kv.second) {
        std::string cf = fmt::format("{}[{}]", f, i++);
        if (c["conditionRef"]) {
          std::string ref = ScalarText(c["conditionRef"]);
          if (const YAML::Node* doc = docs.Find("AlertCondition", ref)) {
            ReadCondition(u, *doc, "AlertCondition " + ref, slo, slo_window);
          } else {
            u.Note(c, cf, "AlertCondition \"" + ref + "\" is not in this file; skipped", &slo);
          }
        } else {
          ReadCondition(u, c, cf, slo, slo_window);
        }
      }
    } else if (k == "alertWhenBreaching" || k == "alertWhenResolved" || k == "alertWhenNoData") {
      if (ScalarText(kv.second) == "false") {
        u.Note(kv.second, f,
               k == "alertWhenNoData"
                   ? "tocsin raises tocsin_absent_data when the SLI has no data (absent_after; 0 "
                     "turns it off in the rule)"
                   : "tocsin always notifies while a tier burns and when it resolves; route or "
                     "silence instead",
               &slo);
      }
    } else if (k == "notificationTargets") {
      u.Note(kv.second, f,
             "where alerts go is tocsin.yaml's route (docs/routing.md); route on alertname \"" +
                 slo.name + "\" and the tier label",
             &slo);
    } else if (k != "description") {
      u.Note(kv.second, f, "not an AlertPolicy field tocsin can map", &slo);
    }
  }
}

std::optional<SloSpec> ReadSlo(Unmapped& u, const Documents& docs, const YAML::Node& doc,
                               std::set<std::string>& names) {
  SloSpec slo;
  std::string name = ScalarText(doc["metadata"]["name"]);
  slo.name = import_detail::SafeName(name);
  slo.origin = fmt::format("{}:{} (OpenSLO SLO \"{}\")", u.file(), u.Where(doc).line, name);
  const std::string field = "SLO " + name;
  bool usable = true;
  if (!names.insert(slo.name).second) {
    u.Note(doc["metadata"]["name"], field + ".metadata.name",
           "another SLO has the tocsin name \"" + slo.name + "\"; SLO skipped", &slo);
    usable = false;
  }
  for (const auto& kv : doc["metadata"]) {
    std::string k = kv.first.Scalar();
    if (k == "labels") {
      for (const auto& l : kv.second) {
        std::string v = l.second.IsSequence() && l.second.size() > 0 ? ScalarText(l.second[0])
                                                                     : ScalarText(l.second);
        import_detail::AddLabel(u, l.second, field + ".metadata.labels." + l.first.Scalar(),
                                l.first.Scalar(), v, slo);
      }
    } else if (k == "annotations") {
      for (const auto& a : kv.second) {
        import_detail::SetAnnotation(u, a.second,
                                     field + ".metadata.annotations." + a.first.Scalar(),
                                     a.first.Scalar(), ScalarText(a.second), slo);
      }
    } else if (k != "name" && k != "displayName") {
      u.Note(kv.second, field + ".metadata." + k, "not mapped to tocsin", &slo);
    }
  }
  YAML::Node spec = doc["spec"];
  Duration window = std::chrono::hours(24 * 30);
  if (YAML::Node tw = spec["timeWindow"]; tw && tw.IsSequence() && tw.size() > 0) {
    auto d = ParseDuration(ScalarText(tw[0]["duration"]));
    if (d && d->count() > 0) {
      window = *d;
      slo.window = ScalarText(tw[0]["duration"]);
    } else {
      u.Note(tw[0]["duration"], field + ".spec.timeWindow[0].duration",
             "\"" + ScalarText(tw[0]["duration"]) +
                 "\" is not a tocsin duration (calendar units M, Q, Y have none): the window is "
                 "30d",
             &slo);
    }
    if (tw[0]["calendar"] || ScalarText(tw[0]["isRolling"]) == "false") {
      u.Note(tw[0], field + ".spec.timeWindow[0].calendar",
             "tocsin's SLO window is rolling: the budget is counted over the last " + slo.window +
                 ", not per calendar period",
             &slo);
    }
  }
  for (const auto& kv : spec) {
    std::string k = kv.first.Scalar();
    const std::string f = field + ".spec." + k;
    const YAML::Node& v = kv.second;
    if (k == "service") {
      slo.service = ScalarText(v);
    } else if (k == "description") {
      slo.description = slo.description.empty() ? ScalarText(v) : slo.description;
    } else if (k == "indicator") {
      usable = ReadIndicator(u, docs, v, f, slo) && usable;
    } else if (k == "indicatorRef") {
      std::string ref = ScalarText(v);
      if (const YAML::Node* sli = docs.Find("SLI", ref)) {
        usable = ReadIndicator(u, docs, *sli, "SLI " + ref, slo) && usable;
      } else {
        u.Note(v, f, "SLI \"" + ref + "\" is not in this file; SLO skipped", &slo);
        usable = false;
      }
    } else if (k == "budgetingMethod") {
      if (ScalarText(v) != "Occurrences") {
        u.Note(v, f,
               "tocsin budgets occurrences (bad events / all events over the window), not " +
                   ScalarText(v),
               &slo);
      }
    } else if (k == "objectives") {
      std::size_t i = 0;
      for (const auto& o : v) {
        std::string of = fmt::format("{}[{}]", f, i);
        if (i++ > 0) {
          u.Note(o, of, "a tocsin SLO has one objective: only the first is imported", &slo);
          continue;
        }
        if (o["targetPercent"]) {
          slo.objective = ScalarText(o["targetPercent"]);
        } else {
          slo.objective = import_detail::PercentFromRatio(ScalarText(o["target"]));
        }
        for (const auto& ok : o) {
          std::string key = ok.first.Scalar();
          if (key != "target" && key != "targetPercent" && key != "displayName") {
            u.Note(ok.second, of + "." + key,
                   "tocsin SLOs have no " + key + " (they count events, not time slices)", &slo);
          }
        }
      }
    } else if (k != "timeWindow" && k != "alertPolicies") {
      u.Note(v, f, "not an SLO field tocsin can map", &slo);
    }
  }
  if (YAML::Node policies = spec["alertPolicies"]; policies && policies.IsSequence()) {
    std::size_t i = 0;
    for (const auto& p : policies) {
      std::string pf = fmt::format("{}.spec.alertPolicies[{}]", field, i++);
      if (p["alertPolicyRef"]) {
        std::string ref = ScalarText(p["alertPolicyRef"]);
        if (const YAML::Node* doc_p = docs.Find("AlertPolicy", ref)) {
          ReadPolicy(u, docs, *doc_p, "AlertPolicy " + ref, slo, window);
        } else {
          u.Note(p, pf, "AlertPolicy \"" + ref + "\" is not in this file; skipped", &slo);
        }
      } else {
        ReadPolicy(u, docs, p, pf, slo, window);
      }
    }
  }
  if (slo.tiers.empty()) {
    u.Note(spec["alertPolicies"] ? spec["alertPolicies"] : spec, field + ".spec.alertPolicies",
           "no burn-rate condition could be read: tocsin's default tiers apply (14.4x over "
           "1h/5m and 6x over 6h/30m page, 1x over 3d/6h is a ticket)",
           &slo);
  }
  if (slo.service.empty()) {
    u.Note(spec, field + ".spec.service", "no service: the SLO's name is used", &slo);
    slo.service = name;
  }
  double objective = -1;
  try {
    objective = std::stod(slo.objective);
  } catch (const std::exception&) {
  }
  if (!(objective > 0 && objective < 100)) {
    u.Note(spec["objectives"] ? spec["objectives"] : spec, field + ".spec.objectives",
           "needs a target (0-1) or targetPercent (0-100) strictly inside its range; SLO skipped",
           &slo);
    usable = false;
  }
  if (!usable) {
    u.KeepSkipped(slo);
    return std::nullopt;
  }
  return slo;
}

}  // namespace

std::optional<ImportedRules> ImportOpenSlo(const std::string& file,
                                           const RuleImportOptions& options,
                                           config::Diagnostics& diags) {
  // A value of the wrong shape (a scalar where a mapping belongs) stops the conversion with
  // its position; yaml-cpp says it by throwing.
  try {
    // Held to UTF-8 like every YAML file tocsin reads: a byte that is not would reach the
    // rules written from it.
    auto text = config::ReadYamlText(file, diags);
    if (!text) return std::nullopt;
    std::vector<YAML::Node> all;
    try {
      all = YAML::LoadAll(*text);
    } catch (const YAML::Exception& e) {
      diags.Error({file, e.mark.line + 1, e.mark.column + 1}, "cannot read: " + e.msg);
      return std::nullopt;
    }
    Unmapped u(file, diags);
    Documents docs;
    std::vector<YAML::Node> slo_docs;
    for (const auto& d : all) {
      if (!d.IsMap()) continue;
      std::string version = ScalarText(d["apiVersion"]);
      std::string kind = ScalarText(d["kind"]);
      if (version != "openslo/v1") {
        u.Note(d, kind.empty() ? "document" : kind,
               "apiVersion \"" + version + "\": only openslo/v1 documents are read");
        continue;
      }
      docs.by_kind[kind][ScalarText(d["metadata"]["name"])] = d;
      if (kind == "SLO") {
        slo_docs.push_back(d);
      } else if (kind != "SLI" && kind != "AlertPolicy" && kind != "AlertCondition" &&
                 kind != "DataSource") {
        u.Note(d, kind + " " + ScalarText(d["metadata"]["name"]),
               kind == "AlertNotificationTarget"
                   ? "where alerts go is tocsin.yaml's route (docs/routing.md)"
                   : "not a kind tocsin maps");
      }
    }
    if (slo_docs.empty()) {
      diags.Error({file, 1, 1}, "no OpenSLO v1 SLO document (kind: SLO) in the file");
      return std::nullopt;
    }
    std::vector<SloSpec> slos;
    std::set<std::string> names;
    std::size_t skipped = 0;
    for (const auto& d : slo_docs) {
      if (auto slo = ReadSlo(u, docs, d, names)) {
        slos.push_back(std::move(*slo));
      } else {
        ++skipped;
      }
    }
    std::string group = options.group;
    if (group.empty()) group = slos.empty() ? "openslo" : slos.front().service;
    return import_detail::WriteImported("openslo", file, group, slos, skipped, u.file_comments(),
                                        options);
  } catch (const YAML::Exception& e) {
    return import_detail::WrongShape(diags, file, e, "OpenSLO v1");
  }
}

}  // namespace tocsin::rules
