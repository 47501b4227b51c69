// Every dispatch validation rule has a good and a bad fixture under tests/testdata/dispatch. A
// bad fixture states what it expects in "# expect: LINE:COL: text" comments; loading must report
// an error at exactly that position containing that text, and nothing else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tocsin/app/runtime_config.h"

namespace tocsin::dispatch {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Fixtures(const std::string& sub) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(TOCSIN_TESTDATA_DIR) / "dispatch" / sub)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Expectation {
  int line;
  int column;
  std::string text;
};

std::vector<Expectation> ExpectationsOf(const std::string& path) {
  std::ifstream in(path);
  std::string l;
  std::vector<Expectation> out;
  std::regex re(R"(^# expect: (\d+):(\d+): (.*)$)");
  while (std::getline(in, l)) {
    std::smatch m;
    if (std::regex_match(l, m, re)) out.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3]});
  }
  return out;
}

TEST(DispatchConfigFixtureTest, GoodFixturesLoadWithoutDiagnostics) {
  auto files = Fixtures("good");
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_TRUE(r.config.has_value()) << f << "\n" << r.diagnostics.ToString();
    EXPECT_TRUE(r.diagnostics.items().empty()) << f << "\n" << r.diagnostics.ToString();
  }
}

TEST(DispatchConfigFixtureTest, ShippedConfigRoutesCriticalToThePolicyAndWarningsToSlack) {
  auto r = app::LoadRuntimeConfig(std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml", {});
  ASSERT_TRUE(r.config) << r.diagnostics.ToString();
  const auto& d = r.config->dispatch;
  for (const auto& rc : d.receivers) {
    bool critical = rc.name.find("critical") != std::string::npos;
    EXPECT_EQ(rc.escalation_policy.empty(), !critical) << rc.name;
    // Paging receivers reach people through the incident; the others only through notices.
    EXPECT_EQ(rc.notices.empty(), critical) << rc.name;
  }
}

TEST(DispatchConfigFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 9u);
  for (const auto& f : files) {
    auto expectations = ExpectationsOf(f);
    ASSERT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_FALSE(r.config.has_value()) << f;
    for (const auto& e : expectations) {
      bool found = false;
      for (const auto& d : r.diagnostics.items()) {
        if (d.severity == config::Diagnostic::Severity::kError && d.position.line == e.line &&
            d.position.column == e.column && d.position.file == f &&
            d.message.find(e.text) != std::string::npos) {
          found = true;
        }
      }
      EXPECT_TRUE(found) << f << ": expected error at " << e.line << ":" << e.column
                         << " containing \"" << e.text << "\"; got:\n"
                         << r.diagnostics.ToString();
    }
    EXPECT_EQ(r.diagnostics.error_count(), expectations.size())
        << f << ": every error should be expected:\n"
        << r.diagnostics.ToString();
  }
}

}  // namespace
}  // namespace tocsin::dispatch
