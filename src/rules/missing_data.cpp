// Missing data: source health (tocsin_source_down), queries without series (tocsin_absent_data)
// and the no_data mark on firing alerts whose data stopped.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "rules/evaluator_impl.h"
#include "tocsin/common/duration.h"

namespace tocsin::rules {

void Evaluator::Impl::EvaluateSources(Batch& b, Output& out) {
  std::map<std::string, std::pair<bool, std::string>> used;  // source -> (failed, error)
  for (std::size_t i = 0; i < b.queries.size(); ++i) {
    auto& u = used[b.queries[i].source];
    const auto& r = *b.results[i];
    if (!r) {
      ++stats.query_failures_total;
      if (!u.first) u = {true, r.error().message()};
    }
  }
  static const std::string kName = "tocsin_source_down";
  static const AlertTemplateFields kFields = [] {
    AlertTemplateFields f;
    f.service = "tocsin";
    f.domain = "sre-platform";
    f.kind = AlertKind::kSymptom;
    f.runbook = "tocsin-source-down.md";
    f.summary = *Template::Parse(
        "tocsin cannot read SLIs from source {{ $labels.source }}: alerting is blind");
    f.description = *Template::Parse(
        "{{ $value }} evaluations in a row failed. Alerts of rules on this source keep their "
        "last state (no resolve) until it answers again.");
    return f;
  }();
  for (const auto& [name, u] : used) {
    auto& h = source_health[name];
    h.name = name;
    if (u.first) {
      ++h.consecutive_failures;
      h.last_error = u.second;
      spdlog::warn("rules: source {} failed ({} in a row): {}", name, h.consecutive_failures,
                   u.second);
    } else {
      h.consecutive_failures = 0;
    }
    long long down_after = 3;
    if (auto it = b.rules->source_down_after.find(name); it != b.rules->source_down_after.end()) {
      down_after = it->second;
    }
    h.down = h.consecutive_failures >= down_after;
    std::string key = "source/" + name;
    auto& rs = StateFor(key, Fnv1a64(key));
    AlertSpec spec{&kName, &kFields, b.rules->evaluation.source_down_severity,
                   "",     name,     Labels{{"source", name}}};
    TemplateData data;
    data.numbers["value"] = static_cast<double>(h.consecutive_failures);
    data.strings["window"] = "";
    // A copy, not the structured binding: clang 14 cannot capture bindings in lambdas.
    const auto& failure = u;
    auto build = [&] {
      Alert a = BuildAlert(spec, {}, data, *b.rules);
      if (failure.first) a.annotations["description"] += " Last error: " + failure.second;
      return a;
    };
    Step(key, rs, spec.extra.Merge(Labels{{"alertname", kName}}), u.first, down_after, 1, b.now,
         build, static_cast<double>(h.consecutive_failures), out);
  }
}

namespace evaluator_detail {

void MarkNoData(Alert& alert, TimePoint since) {
  if (alert.annotations.count("no_data") != 0) return;
  std::string at = FormatRfc3339(since);
  alert.annotations["no_data"] =
      "no data since " + at +
      ": still firing on the last values seen; it resolves when data shows it healthy";
  alert.annotations["summary"] = "[no data since " + at + "] " + alert.Annotation("summary");
}

}  // namespace evaluator_detail

void Evaluator::Impl::EvaluateAbsent(Batch& b, const std::string& name,
                                     const AlertTemplateFields& fields, Duration absent_after,
                                     std::string_view what, bool empty, bool known, Output& out) {
  static const std::string kName = "tocsin_absent_data";
  std::string key = "absent/" + name;
  if (absent_after.count() <= 0) return;
  auto& rs = StateFor(key, Fnv1a64(key));
  if (!known) {  // the query failed: absence unknown, keep as is
    Keep(rs, b.now, out);
    return;
  }
  if (!empty) {
    rs.absent_since.reset();
  } else if (!rs.absent_since) {
    rs.absent_since = b.now;
  }
  bool violating = empty && b.now - *rs.absent_since >= absent_after;
  AlertTemplateFields f;
  f.service = fields.service;
  f.domain = fields.domain;
  f.kind = AlertKind::kSymptom;
  f.runbook = "tocsin-source-down.md";
  f.dashboards = fields.dashboards;
  f.summary = *Template::Parse("No data for {{ $labels.rule }}: " + std::string(what));
  f.description = *Template::Parse(
      "The query of {{ $labels.rule }} has returned nothing for longer than {{ $window }}. No "
      "data is not healthy: check the exporter, the scrape job and the metric names.");
  AlertSpec spec{&kName, &f, b.rules->evaluation.absent_severity, "", "", Labels{{"rule", name}}};
  TemplateData data;
  data.strings["window"] = FormatDuration(absent_after);
  Labels labels = Labels{{"alertname", kName}, {"rule", name}};
  Step(
      key, rs, labels, violating, 1, 1, b.now, [&] { return BuildAlert(spec, {}, data, *b.rules); },
      0, out);
}

}  // namespace tocsin::rules
