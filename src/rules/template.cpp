#include "tocsin/rules/template.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "tocsin/common/text.h"

namespace tocsin::rules {

namespace mustache = kainjow::mustache;

namespace {

const std::vector<std::string> kFormats = {"percent", "ms", "humanize"};

std::string FormatNumber(double v, const std::string& format) {
  if (format == "percent" && std::isfinite(v)) {
    // Enough digits to tell 99.85 % from 99.9 %.
    return fmt::format("{:.4g}%", v * 100.0);
  }
  if (format == "ms" && std::isfinite(v)) return fmt::format("{:.0f}ms", v * 1000.0);
  return HumanizeNumber(v);
}

bool IsLabel(const std::string& variable) { return variable.rfind("labels.", 0) == 0; }

// The mustache name of a variable in a format: "value", "percent.value", "labels.psp".
std::string MustacheName(const std::string& variable, const std::string& format) {
  if (IsLabel(variable) || format.empty() || format == "humanize") return variable;
  return format + "." + variable;
}

// The template in mustache syntax, as Render runs it. (A template over the parts so that the
// header, included all over, need not change.)
template <typename Parts>
std::string MustacheText(const Parts& parts) {
  std::string out;
  for (const auto& p : parts) {
    // Literal text never holds "{{" (each one opens a placeholder, or is an error), nor ends
    // in "{" right before one (the search would have stopped there): it is literal to mustache
    // too. "{{&...}}" is mustache's unescaped variable: annotations are text, not HTML.
    out += p.variable.empty() ? p.literal : "{{&" + MustacheName(p.variable, p.format) + "}}";
  }
  return out;
}

}  // namespace

const std::vector<std::string>& Template::Variables() {
  static const std::vector<std::string> vars = {"value",           "threshold", "burn_rate",
                                                "budget_consumed", "objective", "factor",
                                                "window",          "rule"};
  return vars;
}

std::string HumanizeNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{:.4g}", v);
}

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts_.push_back({std::string(text.substr(pos)), "", ""});
      break;
    }
    if (open > pos) t.parts_.push_back({std::string(text.substr(pos, open - pos)), "", ""});
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Fail(Error::Invalid(fmt::format(
          "template: \"{{{{\" at offset {} is never closed (write {{{{ $value }}}})", open)));
    }
    std::string_view inner = TrimSpace(text.substr(open + 2, close - open - 2));
    std::string_view format;
    if (auto bar = inner.find('|'); bar != std::string_view::npos) {
      format = TrimSpace(inner.substr(bar + 1));
      inner = TrimSpace(inner.substr(0, bar));
      if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
        return Fail(Error::Invalid(
            fmt::format("template: unknown format \"{}\" (use percent, ms or humanize)", format)));
      }
    }
    if (inner.empty() || inner.front() != '$') {
      return Fail(Error::Invalid(
          fmt::format("template: \"{{{{ {} }}}}\" is not a variable (write $value, $threshold, "
                      "$burn_rate, $budget_consumed, $objective, $window, $rule or $labels.<name>)",
                      inner)));
    }
    std::string_view name = inner.substr(1);
    if (name.rfind("labels.", 0) == 0) {
      if (!IsValidLabelName(name.substr(7))) {
        return Fail(Error::Invalid(
            fmt::format("template: \"${}\" is not a label reference (write $labels.psp)", name)));
      }
    } else if (std::find(Variables().begin(), Variables().end(), name) == Variables().end()) {
      return Fail(Error::Invalid(
          fmt::format("template: unknown variable \"${}\" (use $value, $threshold, $burn_rate, "
                      "$budget_consumed, $objective, $factor, $window, $rule or $labels.<name>)",
                      name)));
    }
    t.parts_.push_back({"", std::string(name), std::string(format)});
    pos = close + 2;
  }
  if (mustache::mustache check(MustacheText(t.parts_)); !check.is_valid()) {
    return Fail(Error::Invalid("template: " + check.error_message()));
  }
  return t;
}

std::string Template::Render(const TemplateData& data) const {
  if (parts_.empty()) return {};
  mustache::data view;
  if (data.labels != nullptr) {
    mustache::data labels;
    for (const auto& l : *data.labels) labels.set(l.name, l.value);
    view.set("labels", labels);
  }
  // Only the variables this template uses, each in the format it asks for. A string variable
  // ($window, $rule) reads the same in every format; a missing one (e.g. $burn_rate in a
  // threshold rule) is left out and renders as nothing.
  mustache::data percent;
  mustache::data ms;
  for (const auto& p : parts_) {
    if (p.variable.empty() || IsLabel(p.variable)) continue;
    std::string text;
    if (auto s = data.strings.find(p.variable); s != data.strings.end()) {
      text = s->second;
    } else if (auto n = data.numbers.find(p.variable); n != data.numbers.end()) {
      text = FormatNumber(n->second, p.format);
    } else {
      continue;
    }
    if (p.format == "percent") {
      percent.set(p.variable, text);
    } else if (p.format == "ms") {
      ms.set(p.variable, text);
    } else {
      view.set(p.variable, text);
    }
  }
  view.set("percent", percent);
  view.set("ms", ms);
  mustache::mustache engine(MustacheText(parts_));
  return engine.render(view);
}

}  // namespace tocsin::rules
