#include "tocsin/rules/rule_loader.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/url.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::rules {

namespace {

using config::Diagnostics;
using config::MapReader;
using config::Position;

const std::vector<std::string> kDomains = {"payments", "game-gateway", "db-wallet", "sre-platform",
                                           "auth"};
const std::vector<std::string> kSeverities = {"critical", "error", "warning", "info"};
// Labels whose values are per request, per user or per instance: an alert per value is a page
// storm, not an SLO.
const std::vector<std::string> kHighCardinality = {
    "instance",  "pod",        "container",  "ip",       "client_ip",   "user", "user_id",
    "player_id", "session_id", "request_id", "trace_id", "customer_id", "path", "url"};

bool HasWindowPlaceholder(const std::string& q) {
  auto open = q.find("{{");
  while (open != std::string::npos) {
    auto close = q.find("}}", open);
    if (close == std::string::npos) return false;
    std::string inner = q.substr(open + 2, close - open - 2);
    inner.erase(
        std::remove_if(inner.begin(), inner.end(), [](unsigned char c) { return std::isspace(c); }),
        inner.end());
    if (inner == "window") return true;
    open = q.find("{{", close);
  }
  return false;
}

struct Loader {
  const RuleLoadOptions& options;
  Diagnostics& diags;
  RuleSet& out;
  // alertname -> where it was first defined, across every file.
  std::map<std::string, Position> names;

  void ReadTemplate(MapReader& r, std::string_view key, Template& out_tpl,
                    const std::string& fallback) {
    std::string text = fallback;
    r.String(key, text);
    auto t = Template::Parse(text);
    if (!t) {
      r.Error(key, t.error().message());
      return;
    }
    out_tpl = std::move(*t);
  }

  void ReadAlertFields(MapReader& r, AlertTemplateFields& a, const std::string& default_summary,
                       const std::string& default_description, bool pages) {
    r.String("service", a.service, true);
    r.Enum("domain", a.domain, kDomains, true);
    std::string kind = "symptom";
    if (r.Enum("kind", kind, {"symptom", "cause"})) {
      a.kind = kind == "cause" ? AlertKind::kCause : AlertKind::kSymptom;
    }
    if (r.LabelsValue("labels", a.labels)) {
      for (const auto& l : a.labels) {
        if (l.name == "alertname" || l.name == "severity" || l.name == "kind" ||
            l.name == "service" || l.name == "domain") {
          r.Error("labels", "label \"" + l.name + "\" is set by tocsin; use the rule's own \"" +
                                (l.name == "alertname" ? "name/alert" : l.name) + "\" field");
        }
      }
    }
    if (r.Has("annotations")) {
      MapReader an(r.file(), r.Node("annotations"), diags, r.what() + ".annotations");
      ReadTemplate(an, "summary", a.summary, default_summary);
      ReadTemplate(an, "description", a.description, default_description);
      ReadTemplate(an, "action", a.action, "");
    } else {
      r.Node("annotations");
      a.summary = *Template::Parse(default_summary);
      a.description = *Template::Parse(default_description);
    }
    if (r.String("runbook", a.runbook)) {
      if (!IsAbsoluteHttpUrl(a.runbook) && !options.runbook_dir.empty()) {
        auto path = std::filesystem::path(options.runbook_dir) / a.runbook;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
          std::vector<std::string> known;
          for (const auto& e : std::filesystem::directory_iterator(options.runbook_dir, ec)) {
            if (e.path().extension() == ".md") known.push_back(e.path().filename().string());
          }
          std::string hint = config::Suggest(a.runbook, known);
          r.Error("runbook", fmt::format("unknown runbook file \"{}\": {} does not exist{}",
                                         a.runbook, path.string(),
                                         hint.empty() ? std::string(" (add it from the template "
                                                                    "in docs/runbooks.md)")
                                                      : " (did you mean \"" + hint + "\"?)"));
        }
      }
    } else if (pages) {
      r.diags().Error(r.Here(), r.what() +
                                    " can page (severity critical) but has no runbook: add "
                                    "`runbook: <file>.md` (every page carries its runbook)");
    }
    config::ForEachMap(r, "dashboards", r.what() + ".dashboards", [&](MapReader& d, std::size_t) {
      DashboardLink link;
      d.String("title", link.title, true);
      d.Url("url", link.url, true);
      a.dashboards.push_back(std::move(link));
    });
  }

  void CheckName(MapReader& r, std::string_view key, const std::string& name) {
    if (name.empty()) return;
    if (!IsValidLabelName(name)) {
      r.Error(key, "\"" + name +
                       "\" is not a valid alert name (letters, digits and _, not starting with a "
                       "digit, e.g. deposit_success_by_psp)");
      return;
    }
    auto pos = r.Where(key);
    auto [it, inserted] = names.emplace(name, pos);
    if (!inserted) {
      r.Error(key, fmt::format("duplicate rule name \"{}\" (first defined at {}); alert names "
                               "must be unique across all rule files",
                               name, it->second.ToString()));
    }
  }

  void ReadTier(MapReader& t, BurnRateTier& tier) {
    t.Bool("enabled", tier.enabled);
    if (t.Double("factor", tier.factor) && !(tier.factor > 0)) {
      t.Error("factor", "factor must be > 0 (e.g. 14.4)");
    }
    t.DurationValue("long_window", tier.long_window);
    t.DurationValue("short_window", tier.short_window);
    std::string sev;
    if (t.Enum("severity", sev, kSeverities)) tier.severity = *ParseSeverity(sev);
  }

  void ReadSlo(MapReader& r, RuleGroup& g) {
    SloRule s;
    s.file = r.file();
    s.line = r.Here().line;
    s.absent_after = options.evaluation.absent_after;
    r.String("name", s.name, true);
    CheckName(r, "name", s.name);
    if (r.Double("objective", s.objective, true) && !(s.objective > 0 && s.objective < 100)) {
      r.Error("objective", fmt::format("objective {} is outside (0, 100): write a percentage "
                                       "such as 99.85",
                                       s.objective));
    }
    if (r.DurationValue("window", s.window) && s.window.count() <= 0) {
      r.Error("window", "window must be positive (e.g. 30d)");
    }
    if (r.Has("sli")) {
      MapReader sli(r.file(), r.Node("sli"), diags, "slo \"" + s.name + "\".sli");
      sli.String("error", s.error_query);
      sli.String("good", s.good_query);
      sli.String("total", s.total_query, true);
      if (s.error_query.empty() == s.good_query.empty()) {
        diags.Error(sli.Here(), "sli: give exactly one of `error` or `good`, with `total`");
      }
      for (auto [key, q] :
           {std::pair<std::string_view, const std::string*>{"error", &s.error_query},
            {"good", &s.good_query},
            {"total", &s.total_query}}) {
        if (!q->empty() && !HasWindowPlaceholder(*q)) {
          sli.Error(key,
                    "the query has no {{window}} placeholder: write the range as "
                    "[{{window}}], e.g. rate(http_requests_total[{{window}}])");
        }
      }
    } else {
      r.Node("sli");
      diags.Error(r.Here(), "slo \"" + s.name + "\": missing required key \"sli\"");
    }
    if (r.StringList("by", s.by)) {
      for (const auto& l : s.by) {
        if (!IsValidLabelName(l)) r.Error("by", "\"" + l + "\" is not a valid label name");
        if (std::find(kHighCardinality.begin(), kHighCardinality.end(), l) !=
            kHighCardinality.end()) {
          r.Warning("by", fmt::format("by: label \"{}\" has one value per {}: one alert per "
                                      "value can explode cardinality and page storms; use "
                                      "psp, market or region",
                                      l, l == "instance" || l == "pod" ? "instance" : "request"));
        }
      }
      if (static_cast<long long>(s.by.size()) > options.evaluation.max_by_labels) {
        r.Warning("by", fmt::format("by: {} labels multiply into many series (more than "
                                    "evaluation.max_by_labels = {}); each combination is its "
                                    "own alert",
                                    s.by.size(), options.evaluation.max_by_labels));
      }
    }
    r.DurationValue("absent_after", s.absent_after);
    s.tiers = DefaultBurnRateTiers();
    if (r.Has("burn_rate_alerts")) {
      YAML::Node n = r.Node("burn_rate_alerts");
      MapReader tiers(r.file(), n, diags, "slo \"" + s.name + "\".burn_rate_alerts");
      if (tiers.ok()) {
        for (auto it = n.begin(); it != n.end(); ++it) {
          std::string name = it->first.Scalar();
          auto found = std::find_if(s.tiers.begin(), s.tiers.end(),
                                    [&](const BurnRateTier& t) { return t.name == name; });
          if (found == s.tiers.end()) {
            if (!IsValidLabelName(name)) {
              tiers.Error(name, "\"" + name + "\" is not a valid tier name");
            }
            s.tiers.push_back({name, true, 0, {}, {}, Severity::kWarning});
            found = s.tiers.end() - 1;
          }
          MapReader t(r.file(), tiers.Node(name), diags, tiers.what() + "." + name);
          ReadTier(t, *found);
          if (found->enabled && found->long_window.count() > 0 &&
              found->short_window >= found->long_window) {
            t.Error(t.Has("short_window") ? "short_window" : "long_window",
                    fmt::format("short window {} is not shorter than long window {} (the short "
                                "window only confirms that the burn is still going on; the "
                                "workbook uses 1/12 of the long one)",
                                FormatDuration(found->short_window),
                                FormatDuration(found->long_window)));
          }
          if (found->enabled &&
              (found->long_window.count() <= 0 || found->short_window.count() <= 0 ||
               (found->factor <= 0 && !t.Has("factor")))) {
            diags.Error(t.Here(), tiers.what() + "." + name +
                                      ": a custom tier needs factor, long_window and "
                                      "short_window");
          }
          if (found->enabled && found->long_window > s.window) {
            t.Error("long_window",
                    "long window is longer than the SLO window " + FormatDuration(s.window));
          }
        }
      }
    } else {
      r.Node("burn_rate_alerts");
    }
    bool pages = std::any_of(s.tiers.begin(), s.tiers.end(), [](const BurnRateTier& t) {
      return t.enabled && t.severity == Severity::kCritical;
    });
    ReadAlertFields(r, s.alert,
                    "{{ $rule }}: success {{ $value | percent }} (SLO {{ $objective }}%), "
                    "burning the error budget {{ $burn_rate }}x",
                    // The SLO's own window: a 1d SLO has no 30-day budget to speak of.
                    "Error budget burn over {{ $window }} is {{ $burn_rate }}x (alert above "
                    "{{ $factor }}x); {{ $budget_consumed | percent }} of the " +
                        FormatDuration(s.window) + " budget spent in that window.",
                    pages);
    g.slos.push_back(std::move(s));
  }

  void ReadThreshold(MapReader& r, RuleGroup& g) {
    ThresholdRule t;
    t.file = r.file();
    t.line = r.Here().line;
    r.String("alert", t.name, true);
    CheckName(r, "alert", t.name);
    r.String("expr", t.expr, true);
    std::string op = ">";
    if (r.Enum("op", op, {">", ">=", "<", "<=", "==", "!="})) {
      for (auto c : {Comparison::kGreater, Comparison::kGreaterEqual, Comparison::kLess,
                     Comparison::kLessEqual, Comparison::kEqual, Comparison::kNotEqual}) {
        if (ComparisonText(c) == op) t.op = c;
      }
    }
    r.Double("threshold", t.threshold, true);
    std::string sev;
    if (r.Enum("severity", sev, kSeverities, true)) t.severity = *ParseSeverity(sev);
    r.Int("consecutive", t.consecutive, false, 1, 1000);
    r.Int("resolve_after", t.resolve_after, false, 1, 1000);
    r.DurationValue("absent_after", t.absent_after);
    ReadAlertFields(r, t.alert, "{{ $rule }} is {{ $value }} (threshold {{ $threshold }})",
                    "{{ $rule }} has violated its threshold for several evaluations in a row.",
                    t.severity == Severity::kCritical);
    g.rules.push_back(std::move(t));
  }

  void ReadGroup(MapReader& r) {
    RuleGroup g;
    g.file = r.file();
    g.interval = options.evaluation.interval;
    g.source = options.evaluation.default_source;
    r.String("name", g.name, true);
    if (r.DurationValue("interval", g.interval) && g.interval < std::chrono::seconds(1)) {
      r.Error("interval", "interval must be at least 1s");
    }
    if (r.String("source", g.source) && !options.source_names.empty() &&
        std::find(options.source_names.begin(), options.source_names.end(), g.source) ==
            options.source_names.end()) {
      std::string hint = config::Suggest(g.source, options.source_names);
      r.Error("source", "unknown source \"" + g.source + "\"" +
                            (hint.empty() ? " (define it under sources: in tocsin.yaml)"
                                          : " (did you mean \"" + hint + "\"?)"));
    }
    config::ForEachMap(r, "slos", "slo", [&](MapReader& s, std::size_t) { ReadSlo(s, g); });
    config::ForEachMap(r, "rules", "rule", [&](MapReader& s, std::size_t) { ReadThreshold(s, g); });
    if (g.slos.empty() && g.rules.empty()) {
      r.Warning("name", "group \"" + g.name + "\" has no slos and no rules");
    }
    out.groups.push_back(std::move(g));
  }

  void LoadFile(const std::string& path) {
    auto doc = config::LoadYamlFile(path, diags);
    if (!doc) return;
    MapReader top(path, doc->root, diags, "rule file");
    if (!top.ok()) return;
    config::ForEachMap(top, "groups", "groups", [&](MapReader& r, std::size_t) { ReadGroup(r); });
  }
};

}  // namespace

std::vector<std::string> ExpandGlob(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

EvaluationConfig ReadEvaluationConfig(const config::Config& cfg, Diagnostics& diags) {
  EvaluationConfig e;
  if (!cfg.sources.empty()) e.default_source = cfg.sources.front().name;
  auto it = cfg.sections.find("evaluation");
  if (it == cfg.sections.end()) return e;
  MapReader r(cfg.file, it->second, diags, "evaluation");
  if (!r.ok()) return e;
  if (r.DurationValue("interval", e.interval) && e.interval < std::chrono::seconds(1)) {
    r.Error("interval",
            "interval must be at least 1s (the users' target is detection within "
            "1 minute; 30s is the default)");
  }
  if (r.String("default_source", e.default_source)) {
    bool known =
        std::any_of(cfg.sources.begin(), cfg.sources.end(),
                    [&](const config::SourceConfig& s) { return s.name == e.default_source; });
    if (!known) r.Error("default_source", "unknown source \"" + e.default_source + "\"");
  }
  r.DurationValue("absent_after", e.absent_after);
  if (r.DurationValue("budget_interval", e.budget_interval) &&
      e.budget_interval < std::chrono::seconds(1)) {
    r.Error("budget_interval", "budget_interval must be at least 1s");
  }
  std::string sev;
  if (r.Enum("source_down_severity", sev, kSeverities))
    e.source_down_severity = *ParseSeverity(sev);
  if (r.Enum("absent_severity", sev, kSeverities)) e.absent_severity = *ParseSeverity(sev);
  r.Int("max_by_labels", e.max_by_labels, false, 1, 20);
  return e;
}

std::optional<RuleSet> LoadRuleFiles(const std::vector<std::string>& files,
                                     const RuleLoadOptions& options, Diagnostics& diags) {
  RuleSet set;
  set.evaluation = options.evaluation;
  Diagnostics local;
  Loader loader{options, local, set, {}};
  for (const auto& f : files) loader.LoadFile(f);
  diags.Append(local);
  if (local.has_errors()) return std::nullopt;
  return set;
}

std::optional<RuleSet> LoadRules(const config::Config& cfg, Diagnostics& diags) {
  Diagnostics local;
  RuleLoadOptions options;
  options.evaluation = ReadEvaluationConfig(cfg, local);
  options.runbook_dir = cfg.runbook_dir;
  for (const auto& s : cfg.sources) options.source_names.push_back(s.name);
  std::vector<std::string> files;
  for (const auto& pattern : cfg.rule_files) {
    auto matched = ExpandGlob(pattern);
    bool wildcard = pattern.find_first_of("*?[") != std::string::npos;
    if (matched.empty()) {
      if (wildcard) {
        local.Warning({cfg.file, 0, 0}, "rule_files: \"" + pattern + "\" matches no file");
      } else {
        local.Error({cfg.file, 0, 0}, "rule_files: " + pattern + " does not exist");
      }
    }
    for (auto& m : matched) {
      if (std::find(files.begin(), files.end(), m) == files.end()) files.push_back(std::move(m));
    }
  }
  if (!files.empty() && options.source_names.empty()) {
    local.Error({cfg.file, 0, 0},
                "rule files are configured but no source: add a Prometheus "
                "under sources:");
  }
  auto set = LoadRuleFiles(files, options, local);
  diags.Append(local);
  if (!set || local.has_errors()) return std::nullopt;
  set->runbook_base_url = cfg.runbook_base_url;
  for (const auto& s : cfg.sources) {
    // Only links are built from it: the address people open, not the one tocsin queries.
    set->source_urls[s.name] = s.external_url.empty() ? s.url : s.external_url;
    set->source_down_after[s.name] = s.down_after_failures;
  }
  return set;
}

}  // namespace tocsin::rules
