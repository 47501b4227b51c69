#include "tocsin/rules/template.h"

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace tocsin::rules {
namespace {

// Every annotation template in the shipped rule files (rules/*.yaml), as "file: template".
std::vector<std::pair<std::string, std::string>> ShippedTemplates() {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::filesystem::path> files;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(TOCSIN_SOURCE_DIR) + "/rules")) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::function<void(const std::string&, const YAML::Node&)> walk = [&](const std::string& file,
                                                                        const YAML::Node& n) {
    if (n.IsScalar()) {
      std::string text = n.Scalar();
      if (text.find("{{ $") != std::string::npos) out.emplace_back(file, text);
    } else if (n.IsSequence()) {
      for (const auto& c : n) walk(file, c);
    } else if (n.IsMap()) {
      for (const auto& kv : n) walk(file, kv.second);
    }
  };
  for (const auto& f : files) walk(f.filename().string(), YAML::LoadFile(f.string()));
  return out;
}

// What each shipped template renders to, with every variable set and with the optional ones
// missing, one block per template.
std::string RenderShippedTemplates() {
  Labels labels{{"psp", "PSP-A"},          {"market", "DE"},   {"region", "eu-west"},
                {"provider", "evolution"}, {"pool", "wallet"}, {"queue", "payouts"}};
  TemplateData full;
  full.labels = &labels;
  full.numbers = {{"value", 0.97234},          {"threshold", 0.995}, {"burn_rate", 14.4},
                  {"budget_consumed", 0.0213}, {"objective", 99.5},  {"factor", 14.4}};
  full.strings = {{"window", "1h"}, {"rule", "deposit-success"}};
  TemplateData sparse;
  sparse.numbers = {{"value", 1234.5678}};
  std::string out;
  for (const auto& [file, text] : ShippedTemplates()) {
    auto t = Template::Parse(text);
    EXPECT_TRUE(t) << file << ": " << text;
    if (!t) continue;
    out += file + ": " + text + "\n";
    out += "  full:   " + t->Render(full) + "\n";
    out += "  sparse: " + t->Render(sparse) + "\n";
  }
  return out;
}

// The shipped templates render exactly as they did before annotation templates moved onto the
// mustache engine: the golden file was written by the engine before it.
// TOCSIN_WRITE_GOLDEN=1 rewrites it (only when a shipped template changes on purpose).
TEST(TemplateTest, ShippedTemplatesRenderAsTheGoldenFile) {
  const std::string golden = std::string(TOCSIN_TESTDATA_DIR) + "/rules/shipped_templates.golden";
  std::string rendered = RenderShippedTemplates();
  ASSERT_GE(ShippedTemplates().size(), 10u);
  if (std::getenv("TOCSIN_WRITE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary) << rendered;
  }
  std::ifstream in(golden, std::ios::binary);
  ASSERT_TRUE(in) << golden;
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(rendered, expected.str());
}

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

TEST(TemplateTest, BracesNewlinesAndMarkupAreLiteralText) {
  auto t = Template::Parse(
      "a { b } {x} }} <b>&amp;</b> {{ $labels.psp }}}\n\n  {{ $value | ms }}{ \r\n{{ $window }}{");
  ASSERT_TRUE(t) << t.error().message();
  Labels labels{{"psp", "<PSP & \"A\">"}};
  TemplateData d;
  d.labels = &labels;
  d.numbers = {{"value", 0.1344}};
  d.strings = {{"window", "{{ $value }}"}};
  EXPECT_EQ(t->Render(d),
            "a { b } {x} }} <b>&amp;</b> <PSP & \"A\">}\n\n  134ms{ \r\n{{ $value }}{");
}

TEST(TemplateTest, StringVariablesIgnoreTheFormatAndLabelsToo) {
  auto t = Template::Parse("{{ $window | percent }} {{ $rule | ms }} {{ $labels.x | percent }}");
  ASSERT_TRUE(t) << t.error().message();
  Labels labels{{"x", "0.5"}};
  TemplateData d;
  d.labels = &labels;
  d.strings = {{"window", "5m"}, {"rule", "r"}};
  EXPECT_EQ(t->Render(d), "5m r 0.5");
  EXPECT_TRUE(Template::Parse("")->empty());
  EXPECT_EQ(Template::Parse("")->Render(d), "");
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
