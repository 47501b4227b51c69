#include "tocsin/rules/rule_test_runner.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/config/yaml_reader.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_loader.h"
#include "tocsin/source/prometheus_client.h"
#include "tocsin/source/replay_source.h"

namespace tocsin::rules {

namespace {

using config::MapReader;

struct ExpectedAlert {
  Labels labels;
  std::map<std::string, std::string> annotations;
  int line = 0;
};

struct Check {
  Duration at{};
  std::string alertname;
  std::vector<ExpectedAlert> expected;
  int line = 0;
};

struct Input {
  std::string slo;
  std::string rule;
  std::string expr;
  std::vector<Duration> windows;
  std::vector<std::pair<Labels, std::vector<std::optional<double>>>> series;
  int line = 0;
};

struct TestCase {
  std::string name;
  Duration interval = std::chrono::minutes(1);
  std::vector<Input> inputs;
  std::vector<std::pair<Duration, Duration>> source_down;
  std::vector<Check> checks;
};

std::optional<double> ParseNumber(const std::string& s) {
  if (s == "Inf" || s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  return source::ParseSampleValue(s);
}

constexpr std::string_view kNone = "(none)";

RuleTestAlert Produced(const Alert& a) {
  return RuleTestAlert{std::string(AlertStateName(a.state)), a.labels, a.annotations};
}

// How many of the expected keys (state, labels, annotations) `a` agrees with: the alert that
// agrees most is the one the test most likely meant, and the one shown next to it.
std::size_t Agreement(const ExpectedAlert& e, const Alert& a) {
  std::size_t n = a.firing() ? 1 : 0;
  for (const auto& l : e.labels) n += a.labels.GetOr(l.name) == l.value;
  for (const auto& [k, v] : e.annotations) n += a.Annotation(k) == v;
  return n;
}

bool Matches(const ExpectedAlert& e, const Alert& a) {
  return Agreement(e, a) == 1 + e.labels.size() + e.annotations.size();
}

// Expected vs got, key by key: the differing ones, and the ones that agree as context.
void CompareKeys(const ExpectedAlert& e, const Alert* got, RuleTestFailure& f) {
  auto add = [&](std::string key, std::string want, std::optional<std::string> have) {
    if (have && *have == want) {
      f.same.push_back(std::move(key));
    } else {
      f.differences.push_back({std::move(key), std::move(want), have.value_or(std::string(kNone))});
    }
  };
  add("state", "firing",
      got ? std::optional<std::string>(AlertStateName(got->state)) : std::optional<std::string>());
  if (got == nullptr) return;
  for (const auto& l : e.labels) {
    add("labels." + l.name, l.value,
        got->labels.Has(l.name) ? std::optional<std::string>(got->labels.GetOr(l.name))
                                : std::nullopt);
  }
  for (const auto& [k, v] : e.annotations) {
    auto it = got->annotations.find(k);
    add("annotations." + k, v,
        it != got->annotations.end() ? std::optional<std::string>(it->second) : std::nullopt);
  }
}

// The SLO or rule that raises `alertname`; tocsin_absent_data names its rule in a `rule` label.
void LocateRule(const RuleSet& set, const std::string& alertname, const Labels& hint,
                RuleTestFailure& f) {
  std::string name = alertname;
  if (!set.FindSlo(name) && !set.FindRule(name) && hint.Has("rule")) {
    name = std::string(hint.GetOr("rule"));
  }
  if (const auto* s = set.FindSlo(name)) {
    f.rule = s->name;
    f.rule_file = s->file;
    f.rule_line = s->line;
  } else if (const auto* r = set.FindRule(name)) {
    f.rule = r->name;
    f.rule_file = r->file;
    f.rule_line = r->line;
  }
}

}  // namespace

Result<std::vector<std::optional<double>>> ExpandSeriesValues(const std::string& text) {
  std::vector<std::optional<double>> out;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    auto bad = [&] {
      return Fail(Error::Invalid(fmt::format(
          "bad series value \"{}\" (write 1.5, 0+0.1x10, 5x3, _, _x3, NaN, Inf)", tok)));
    };
    std::string base = tok;
    long long count = -1;
    auto x = tok.rfind('x');
    if (x != std::string::npos && tok != "NaN") {
      base = tok.substr(0, x);
      try {
        std::size_t used = 0;
        count = std::stoll(tok.substr(x + 1), &used);
        if (used != tok.size() - x - 1 || count < 0 || count > 100000) return bad();
      } catch (const std::exception&) {
        return bad();
      }
    }
    if (base == "_") {
      for (long long i = 0; i < std::max(count, 1LL); ++i) out.emplace_back(std::nullopt);
      continue;
    }
    double start = 0;
    double delta = 0;
    // "a+b" / "a-b": the sign that is not the leading one and not an exponent's.
    std::size_t op = std::string::npos;
    for (std::size_t i = 1; i < base.size(); ++i) {
      if ((base[i] == '+' || base[i] == '-') && base[i - 1] != 'e' && base[i - 1] != 'E') {
        op = i;
        break;
      }
    }
    if (op != std::string::npos) {
      auto a = ParseNumber(base.substr(0, op));
      auto b = ParseNumber(base.substr(op + 1));
      if (!a || !b || count < 0) return bad();
      start = *a;
      delta = base[op] == '-' ? -*b : *b;
    } else {
      auto a = ParseNumber(base);
      if (!a) return bad();
      start = *a;
    }
    if (count < 0) {
      out.emplace_back(start);
      continue;
    }
    for (long long i = 0; i <= count; ++i) out.emplace_back(start + delta * static_cast<double>(i));
  }
  return out;
}

RuleTestReport RunRuleTestFile(const std::string& path, config::Diagnostics& diags) {
  RuleTestReport report;
  report.file = path;
  config::Diagnostics local;
  auto doc = config::LoadYamlFile(path, local);
  std::vector<std::string> rule_files;
  EvaluationConfig eval;
  eval.default_source = "test";
  std::vector<TestCase> cases;
  auto base_dir = std::filesystem::path(path).parent_path().string();
  if (doc) {
    MapReader top(path, doc->root, local, "rule test file");
    if (top.ok()) {
      if (top.StringList("rule_files", rule_files, true)) {
        std::vector<std::string> expanded;
        for (const auto& f : rule_files) {
          auto resolved = config::ResolvePath(base_dir, f);
          auto m = ExpandGlob(resolved);
          if (m.empty()) top.Error("rule_files", "no rule file matches " + resolved);
          expanded.insert(expanded.end(), m.begin(), m.end());
        }
        rule_files = expanded;
      }
      top.DurationValue("evaluation_interval", eval.interval);
      config::ForEachMap(top, "tests", "tests", [&](MapReader& t, std::size_t) {
        TestCase tc;
        t.String("name", tc.name);
        t.DurationValue("interval", tc.interval);
        if (tc.interval.count() <= 0) t.Error("interval", "interval must be positive");
        config::ForEachMap(t, "input", "input", [&](MapReader& in, std::size_t) {
          Input input;
          input.line = in.Here().line;
          in.String("slo", input.slo);
          in.String("rule", input.rule);
          in.String("expr", input.expr);
          int given = !input.slo.empty() + !input.rule.empty() + !input.expr.empty();
          if (given != 1) {
            local.Error(in.Here(), "input: give exactly one of slo, rule or expr");
          }
          std::vector<std::string> windows;
          if (in.StringList("windows", windows)) {
            for (const auto& w : windows) {
              auto d = ParseDuration(w);
              if (!d) {
                in.Error("windows", d.error().message());
              } else {
                input.windows.push_back(*d);
              }
            }
          }
          config::ForEachMap(in, "series", "series", [&](MapReader& s, std::size_t) {
            Labels labels;
            s.LabelsValue("labels", labels);
            std::string values;
            if (s.String("values", values, true)) {
              auto v = ExpandSeriesValues(values);
              if (!v) {
                s.Error("values", v.error().message());
              } else {
                input.series.emplace_back(labels, std::move(*v));
              }
            }
          });
          tc.inputs.push_back(std::move(input));
        });
        config::ForEachMap(t, "source_down", "source_down", [&](MapReader& d, std::size_t) {
          Duration from{}, to{};
          d.DurationValue("from", from, true);
          d.DurationValue("to", to, true);
          if (to <= from) d.Error("to", "`to` must be after `from`");
          tc.source_down.emplace_back(from, to);
        });
        config::ForEachMap(t, "alert_rule_test", "alert_rule_test", [&](MapReader& a, std::size_t) {
          Check c;
          c.line = a.Here().line;
          a.DurationValue("eval_time", c.at, true);
          a.String("alertname", c.alertname, true);
          config::ForEachMap(a, "exp_alerts", "exp_alerts", [&](MapReader& e, std::size_t) {
            ExpectedAlert ea;
            ea.line = e.Here().line;
            e.LabelsValue("exp_labels", ea.labels);
            std::vector<std::pair<std::string, std::string>> ann;
            e.StringMap("exp_annotations", ann);
            for (auto& [k, v] : ann) ea.annotations[k] = v;
            c.expected.push_back(std::move(ea));
          });
          tc.checks.push_back(std::move(c));
        });
        cases.push_back(std::move(tc));
      });
    }
  }
  std::optional<RuleSet> set;
  if (!local.has_errors()) {
    RuleLoadOptions options;
    options.evaluation = eval;
    set = LoadRuleFiles(rule_files, options, local);
  }
  // Inputs must name rules that exist.
  if (set) {
    for (const auto& tc : cases) {
      for (const auto& in : tc.inputs) {
        bool found = in.slo.empty() && in.rule.empty();
        for (const auto& g : set->groups) {
          for (const auto& s : g.slos) found = found || s.name == in.slo;
          for (const auto& r : g.rules) found = found || r.name == in.rule;
        }
        if (!found) {
          local.Error({path, in.line, 0},
                      "input names " + (in.slo.empty() ? "rule \"" + in.rule : "slo \"" + in.slo) +
                          "\", which the rule files do not define");
        }
      }
    }
  }
  diags.Append(local);
  if (local.has_errors() || !set) {
    report.invalid = true;
    return report;
  }
  auto rules = std::make_shared<const RuleSet>(std::move(*set));

  for (const auto& tc : cases) {
    ++report.tests;
    const TimePoint t0 = FromUnixMillis(0);
    auto replay = std::make_shared<source::ReplaySource>("test");
    for (const auto& [from, to] : tc.source_down) replay->FailBetween(t0 + from, t0 + to);
    for (const auto& in : tc.inputs) {
      std::vector<std::string> exprs;
      if (!in.expr.empty()) exprs.push_back(in.expr);
      for (const auto& g : rules->groups) {
        for (const auto& r : g.rules) {
          if (r.name == in.rule) exprs.push_back(r.expr);
        }
        for (const auto& s : g.slos) {
          if (s.name != in.slo) continue;
          std::vector<Duration> windows = in.windows;
          if (windows.empty()) {
            for (const auto& t : s.tiers) {
              windows.push_back(t.long_window);
              windows.push_back(t.short_window);
            }
            windows.push_back(s.window);
          }
          for (auto w : windows) exprs.push_back(s.ErrorRatioQuery(w));
        }
      }
      for (const auto& expr : exprs) {
        for (const auto& [labels, values] : in.series) {
          source::Series series;
          series.metric = labels;
          for (std::size_t i = 0; i < values.size(); ++i) {
            if (values[i]) {
              series.points.emplace_back(t0 + tc.interval * static_cast<long long>(i), *values[i]);
            }
          }
          replay->Add(expr, std::move(series));
        }
      }
    }
    SimulatedScheduler scheduler(t0);
    InlineExecutor executor;
    DiscardingSink sink;
    Evaluator evaluator(scheduler, executor, sink);
    Evaluator::SourceMap sources;
    sources["test"] = replay;
    for (const auto& g : rules->groups) sources[g.source] = replay;
    evaluator.SetSources(sources);
    evaluator.SetRules(rules);
    evaluator.Start();
    auto checks = tc.checks;
    std::stable_sort(checks.begin(), checks.end(),
                     [](const Check& a, const Check& b) { return a.at < b.at; });
    bool failed = false;
    for (const auto& c : checks) {
      scheduler.AdvanceTo(t0 + c.at);
      // Pending alerts are kept to be shown next to an expectation they would meet if firing.
      std::vector<Alert> active;
      for (auto& a : evaluator.ActiveAlerts()) {
        if (a.Name() == c.alertname) active.push_back(std::move(a));
      }
      std::stable_sort(active.begin(), active.end(),
                       [](const Alert& a, const Alert& b) { return a.firing() > b.firing(); });
      std::vector<bool> used(active.size(), false);
      auto failure = [&](int line) {
        RuleTestFailure f;
        f.test = tc.name;
        f.test_file = path;
        f.test_line = line;
        f.eval_time = c.at;
        f.alertname = c.alertname;
        return f;
      };
      std::vector<RuleTestFailure> problems;
      std::vector<const ExpectedAlert*> missing;
      for (const auto& e : c.expected) {
        bool matched = false;
        for (std::size_t i = 0; i < active.size() && !matched; ++i) {
          if (!used[i] && Matches(e, active[i])) used[i] = matched = true;
        }
        if (!matched) missing.push_back(&e);
      }
      for (const auto* e : missing) {
        // The closest alert not matched by another expectation stands next to this one.
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < active.size(); ++i) {
          if (used[i]) continue;
          if (!best || Agreement(*e, active[i]) > Agreement(*e, active[*best])) best = i;
        }
        const Alert* got = best ? &active[*best] : nullptr;
        if (best) used[*best] = true;
        RuleTestFailure f = failure(e->line);
        f.expected = RuleTestAlert{"firing", e->labels, e->annotations};
        if (got != nullptr) f.got = Produced(*got);
        CompareKeys(*e, got, f);
        LocateRule(*rules, c.alertname, e->labels, f);
        problems.push_back(std::move(f));
      }
      for (std::size_t i = 0; i < active.size(); ++i) {
        if (used[i] || !active[i].firing()) continue;
        RuleTestFailure f = failure(c.line);
        f.got = Produced(active[i]);
        f.differences.push_back({"state", std::string(kNone), "firing"});
        LocateRule(*rules, c.alertname, active[i].labels, f);
        problems.push_back(std::move(f));
      }
      for (auto& p : problems) {
        failed = true;
        report.failures.push_back(std::move(p));
      }
    }
    if (failed) ++report.failed;
  }
  return report;
}

}  // namespace tocsin::rules
