#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/labels.h"
#include "tocsin/common/result.h"

namespace tocsin::rules {

// What an annotation template can refer to.
struct TemplateData {
  const Labels* labels = nullptr;
  std::map<std::string, double> numbers;       // value, threshold, burn_rate, budget_consumed, ...
  std::map<std::string, std::string> strings;  // window, rule
};

// Annotation templates: text with {{ $value }}, {{ $labels.psp }}, {{ $burn_rate }} ... and
// an optional format, {{ $value | percent }} (0.972 -> "97.2%"), {{ $value | ms }}
// (0.134 -> "134ms"), {{ $value | humanize }} (default: up to 4 significant digits). A
// template is parsed once at load, so a typo is a config error with file:line, never a
// broken page at 3 a.m. The Prometheus-style placeholders are what rule authors know; they
// are rendered as a mustache template ({{&value}}, {{&percent.value}}, {{&labels.psp}}) on the
// same engine as the page templates, so tocsin has one template engine. Plain value.
class Template {
 public:
  // Names a template may use besides $labels.<name>.
  static const std::vector<std::string>& Variables();

  static Result<Template> Parse(std::string_view text);
  std::string Render(const TemplateData& data) const;
  bool empty() const { return parts_.empty(); }
  const std::string& source() const { return source_; }

 private:
  struct Part {
    std::string literal;
    std::string variable;  // "value", "labels.psp"; empty for literal text
    std::string format;    // "", "percent", "ms", "humanize"
  };
  std::vector<Part> parts_;
  std::string source_;
};

// Number formatting shared by templates and CLI output.
std::string HumanizeNumber(double v);

}  // namespace tocsin::rules
