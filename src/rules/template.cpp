#include "tocsin/rules/template.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

namespace tocsin::rules {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

const std::vector<std::string> kFormats = {"percent", "ms", "humanize"};

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
    std::string_view inner = Trim(text.substr(open + 2, close - open - 2));
    std::string_view format;
    if (auto bar = inner.find('|'); bar != std::string_view::npos) {
      format = Trim(inner.substr(bar + 1));
      inner = Trim(inner.substr(0, bar));
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
      if (!ValidLabelName(name.substr(7))) {
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
  return t;
}

std::string Template::Render(const TemplateData& data) const {
  std::string out;
  for (const auto& p : parts_) {
    if (p.variable.empty()) {
      out += p.literal;
      continue;
    }
    if (p.variable.rfind("labels.", 0) == 0) {
      if (data.labels != nullptr) out += data.labels->GetOr(p.variable.substr(7));
      continue;
    }
    if (auto s = data.strings.find(p.variable); s != data.strings.end()) {
      out += s->second;
      continue;
    }
    auto n = data.numbers.find(p.variable);
    if (n == data.numbers.end()) continue;  // e.g. $burn_rate in a threshold rule: nothing
    double v = n->second;
    if (p.format == "percent" && std::isfinite(v)) {
      // Enough digits to tell 99.85 % from 99.9 %.
      out += fmt::format("{:.4g}%", v * 100.0);
    } else if (p.format == "ms" && std::isfinite(v)) {
      out += fmt::format("{:.0f}ms", v * 1000.0);
    } else {
      out += HumanizeNumber(v);
    }
  }
  return out;
}

}  // namespace tocsin::rules
