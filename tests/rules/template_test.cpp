#include "tocsin/rules/template.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tocsin::rules {
namespace {

TEST(TemplateTest, RendersValuesLabelsAndFormats) {
  auto t = Template::Parse(
      "Deposit success {{ $value | percent }} (SLO {{$objective}}%) — {{ $labels.psp }} — "
      "{{ $burn_rate }}x, p95 {{ $threshold | ms }}, {{ $rule }}");
  ASSERT_TRUE(t) << t.error().message();
  Labels labels{{"psp", "PSP-A"}};
  TemplateData d;
  d.labels = &labels;
  d.numbers = {{"value", 0.972}, {"objective", 99.85}, {"burn_rate", 14.0}, {"threshold", 0.134}};
  d.strings = {{"rule", "deposit"}};
  EXPECT_EQ(t->Render(d), "Deposit success 97.2% (SLO 99.85%) — PSP-A — 14x, p95 134ms, deposit");
}

TEST(TemplateTest, MissingValuesRenderEmptyAndSpecialNumbersReadably) {
  auto t = Template::Parse("[{{ $labels.market }}][{{ $burn_rate }}][{{ $value }}]");
  ASSERT_TRUE(t);
  TemplateData d;
  d.numbers["value"] = std::nan("");
  EXPECT_EQ(t->Render(d), "[][][NaN]");
  d.numbers["value"] = INFINITY;
  EXPECT_EQ(t->Render(d), "[][][+Inf]");
}

TEST(TemplateTest, BadTemplatesAreRejectedWithWhatToWrite) {
  for (const char* bad : {"{{ $value", "{{ value }}", "{{ $vlue }}", "{{ $labels. }}",
                          "{{ $value | round }}", "{{ }}", "{{ $labels.a-b }}"}) {
    auto t = Template::Parse(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_NE(t.error().message().find("template:"), std::string::npos);
    }
  }
  EXPECT_TRUE(Template::Parse("no variables at all"));
  EXPECT_TRUE(Template::Parse(""));
}

}  // namespace
}  // namespace tocsin::rules
