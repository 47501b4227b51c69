#include "notify/page_renderer.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "tocsin/common/url.h"

namespace tocsin::notify {

namespace mustache = kainjow::mustache;
using incident::PageRequest;

namespace {

// Built-in templates. Sections test presence: a piece is left out of the data when empty.
const std::map<std::string, std::string>& DefaultTemplates() {
  static const std::map<std::string, std::string> t = {
      {"summary",
       "{{{what}}}{{^sentence}}{{#where}} — {{{where}}}{{/where}}{{#how_much}} — "
       "{{{how_much}}}{{/how_much}}{{/sentence}}{{#action}} — Action: {{{action}}}{{/action}}"},
      {"details",
       "What: {{{what}}}\n"
       "{{#where}}Where: {{{where}}}\n{{/where}}"
       "{{#how_much}}How much: {{{how_much}}}\n{{/how_much}}"
       "{{#action}}Action: {{{action}}}\n{{/action}}"
       "{{#runbook_url}}Runbook: {{{runbook_url}}}\n{{/runbook_url}}"
       "{{#dashboard_url}}Dashboard: {{{dashboard_url}}}\n{{/dashboard_url}}"
       "{{#query_url}}Query: {{{query_url}}}\n{{/query_url}}"
       "{{#has_causes}}Cause candidates:\n{{#causes}}- {{{.}}}\n{{/causes}}{{/has_causes}}"
       "{{#text}}Note: {{{text}}}\n{{/text}}"
       "Incident {{{incident_id}}} · SEV-{{sev}} · step {{step_number}} · {{state}}"
       "{{#incident_url}}\n{{{incident_url}}}{{/incident_url}}"},
      {"email_subject",
       "[SEV-{{sev}}] {{{incident_id}}}: {{{what}}}{{#where}} — {{{where}}}{{/where}}"},
  };
  return t;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

const Alert* PrimaryAlert(const PageRequest& r) {
  for (const auto& a : r.alerts) {
    if (a.firing()) return &a;
  }
  return r.alerts.empty() ? nullptr : &r.alerts.front();
}

// Ratios (SLIs such as a success rate) read better as percentages; rules say so with a
// `unit: ratio` annotation, and SLO alerts (with a burn rate) are ratios by construction.
bool IsRatio(const Alert& a) {
  auto unit = a.Annotation("unit");
  if (!unit.empty()) return unit == "ratio";
  if (!a.burn_rate || !a.value) return false;
  return *a.value >= 0 && *a.value <= 1 &&
         (!a.threshold || (*a.threshold >= 0 && *a.threshold <= 1));
}

std::string FormatValue(const Alert& a, double v) {
  if (IsRatio(a)) return PageRenderer::FormatNumber(v * 100) + " %";
  auto unit = a.Annotation("unit");
  return unit.empty() ? PageRenderer::FormatNumber(v) : PageRenderer::FormatNumber(v) + " " + unit;
}

// True when the alert's `summary` annotation is the whole sentence (what tocsin's rules and most
// Prometheus rules write, value and place included): the page shows it as written instead of
// composing What / Where / How much again, which would say everything twice.
bool HasSentence(const Alert& a) { return !a.Annotation("summary").empty(); }

std::string What(const Alert& a) {
  if (HasSentence(a)) return a.Annotation("summary");
  // A `title` annotation names the subject ("Deposit success"); the value and objective follow.
  std::string subject = a.Annotation("title");
  if (subject.empty()) subject = std::string(a.Name());
  if (!a.value) return subject;
  std::string out = subject + " " + FormatValue(a, *a.value);
  if (a.threshold) {
    out += fmt::format(" ({} {})", a.burn_rate ? "SLO" : "threshold", FormatValue(a, *a.threshold));
  }
  return out;
}

std::string Where(const Labels& l) {
  std::vector<std::string> parts;
  if (auto v = l.Get("psp")) parts.emplace_back(*v);
  if (auto v = l.Get("provider")) parts.emplace_back(*v);
  if (auto v = l.Get("market")) parts.push_back("market " + std::string(*v));
  if (auto v = l.Get("region")) parts.push_back("region " + std::string(*v));
  if (parts.empty()) {
    if (auto v = l.Get("service")) parts.emplace_back(*v);
  }
  return Join(parts, ", ");
}

std::string RunbookFile(const Alert& a) {
  std::string rb = a.Annotation("runbook");
  if (rb.empty() || IsAbsoluteHttpUrl(rb)) return rb;
  if (rb.size() < 3 || rb.substr(rb.size() - 3) != ".md") rb += ".md";
  return rb;
}

std::string RunbookName(const std::string& file) {
  std::string name = std::filesystem::path(file).filename().string();
  if (name.size() > 3 && name.substr(name.size() - 3) == ".md") name.resize(name.size() - 3);
  return name;
}

std::string CauseLine(const Alert& c) {
  std::string line(c.Name());
  std::string what = What(c);
  if (what != line) line += ": " + what;
  std::string where = Where(c.labels);
  if (auto svc = c.labels.Get("service"); svc && where.find(*svc) == std::string::npos) {
    where = Join({std::string(*svc), where}, ", ");
  }
  if (!where.empty()) line += " (" + where + ")";
  return line;
}

std::string RenderTemplate(const std::string& text, const mustache::data& data) {
  mustache::mustache tmpl(text);
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  return tmpl.render(data);
}

}  // namespace

std::string PageRenderer::FormatNumber(double v, int max_decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  std::string s = fmt::format("{:.{}f}", v, max_decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

Result<std::shared_ptr<const PageRenderer>> PageRenderer::Create(const RenderOptions& options) {
  std::shared_ptr<PageRenderer> r(new PageRenderer(options));
  r->templates_ = DefaultTemplates();
  if (!options.templates_dir.empty()) {
    for (auto& [name, text] : r->templates_) {
      auto path = std::filesystem::path(options.templates_dir) / (name + ".mustache");
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) continue;
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      mustache::mustache tmpl(ss.str());
      if (!tmpl.is_valid()) {
        return Fail(Error::Invalid(
            fmt::format("template {} does not parse: {}", path.string(), tmpl.error_message())));
      }
      text = ss.str();
    }
  }
  return std::shared_ptr<const PageRenderer>(std::move(r));
}

PageText PageRenderer::Render(const PageRequest& r) const {
  PageText t;
  const Alert* a = PrimaryAlert(r);
  if (a) {
    t.alertname = std::string(a->Name());
    t.what = What(*a);
    t.sentence = HasSentence(*a);
    t.where = Where(a->labels);
    for (const auto& l : a->labels) t.labels[l.name] = l.value;
    t.source = std::string(a->labels.GetOr("service", "tocsin"));
    std::vector<std::string> how;
    if (a->burn_rate) how.push_back("burning budget " + FormatNumber(*a->burn_rate, 1) + "x");
    if (a->budget_consumed) {
      how.push_back(FormatNumber(*a->budget_consumed * 100, 1) + " % of the error budget spent");
    }
    std::size_t firing = 0;
    for (const auto& x : r.alerts) firing += x.firing() ? 1 : 0;
    if (firing > 1) how.push_back(fmt::format("{} alerts firing", firing));
    t.how_much = Join(how, ", ");

    std::string file = RunbookFile(*a);
    if (!file.empty()) {
      t.runbook_name = RunbookName(file);
      t.runbook_url = UrlUnder(options_.runbook_base_url, file);
    }
    t.dashboard_url = a->Annotation("dashboard");
    t.query_url = a->Annotation("query");
    if (!IsAbsoluteHttpUrl(t.query_url)) t.query_url = a->generator_url;
    std::vector<std::string> action;
    action.push_back(t.runbook_name.empty() ? "no runbook linked (add a `runbook` annotation)"
                                            : "runbook " + t.runbook_name);
    if (auto extra = a->Annotation("action"); !extra.empty()) action.push_back(extra);
    t.action = Join(action, ", ");
  } else {
    t.what = r.title.empty() ? r.incident_id : r.title;
    t.source = "tocsin";
  }
  if (!t.runbook_url.empty()) t.links.push_back({t.runbook_url, "Runbook: " + t.runbook_name});
  if (!t.dashboard_url.empty()) t.links.push_back({t.dashboard_url, "SLO dashboard"});
  if (!t.query_url.empty()) t.links.push_back({t.query_url, "Query"});
  if (a) {
    for (const auto& l : a->links) {
      bool seen = false;
      for (const auto& x : t.links) seen = seen || x.href == l.href;
      if (!seen) t.links.push_back(l);
    }
  }
  for (const auto& c : r.causes) t.causes.push_back(CauseLine(c));
  if (!options_.external_url.empty()) {
    std::string base = options_.external_url;
    if (base.back() == '/') base.pop_back();
    t.incident_url = base + "/incidents/" + r.incident_id;
  }

  mustache::data d;
  auto set = [&d](const std::string& k, const std::string& v) {
    if (!v.empty()) d.set(k, v);
  };
  set("what", t.what);
  if (t.sentence) d.set("sentence", true);
  set("where", t.where);
  set("how_much", t.how_much);
  set("action", t.action);
  set("runbook_url", t.runbook_url);
  set("runbook_name", t.runbook_name);
  set("dashboard_url", t.dashboard_url);
  set("query_url", t.query_url);
  set("incident_id", r.incident_id);
  set("incident_url", t.incident_url);
  set("title", r.title);
  set("state", r.state);
  set("text", r.text);
  set("actor", r.actor);
  set("action_name", std::string(incident::PageActionName(r.action)));
  d.set("sev", std::to_string(static_cast<int>(r.sev)));
  d.set("step_number", std::to_string(r.step + 1));
  mustache::data causes{mustache::data::type::list};
  for (const auto& c : t.causes) causes << mustache::data(c);
  d.set("causes", causes);
  if (!t.causes.empty()) d.set("has_causes", true);

  t.summary = RenderTemplate(templates_.at("summary"), d);
  // A drill is marked whatever the templates say: nobody may take it for a real page.
  auto mark = [&r](std::string& s) {
    if (r.drill && s.rfind(incident::kDrillMark, 0) != 0) s = std::string(incident::kDrillMark) + s;
  };
  mark(t.summary);
  mark(t.what);
  d.set("summary", t.summary);
  t.details = RenderTemplate(templates_.at("details"), d);
  t.email_subject = RenderTemplate(templates_.at("email_subject"), d);
  mark(t.email_subject);
  return t;
}

}  // namespace tocsin::notify
