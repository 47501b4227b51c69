// Every validation rule has a good and a bad fixture under tests/testdata/config, loaded the
// way check/serve/reload load them (LoadRuntimeConfig, every module section included). A bad
// fixture states what it expects in "# expect: LINE:COL: text" comments; the loader must report
// an error at exactly that position containing that text, and must not produce a config.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tocsin/app/runtime_config.h"

namespace tocsin::config {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Fixtures(const std::string& sub) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(TOCSIN_TESTDATA_DIR) / "config" / sub)) {
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

class ConfigFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TOCSIN_TEST_BEARER", "bearer-token-from-env", 1);
    ::unsetenv("TOCSIN_TEST_UNSET_VARIABLE");
  }
};

TEST_F(ConfigFixtureTest, GoodFixturesLoadWithoutDiagnostics) {
  auto files = Fixtures("good");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_TRUE(r.config.has_value()) << f << "\n" << r.diagnostics.ToString();
    EXPECT_TRUE(r.diagnostics.items().empty()) << f << "\n" << r.diagnostics.ToString();
  }
}

TEST_F(ConfigFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 15u);
  for (const auto& f : files) {
    auto expectations = ExpectationsOf(f);
    ASSERT_FALSE(expectations.empty()) << f << " has no '# expect:' line";
    auto r = app::LoadRuntimeConfig(f, {});
    EXPECT_FALSE(r.config.has_value()) << f;
    EXPECT_FALSE(r.io_error) << f;
    for (const auto& e : expectations) {
      bool found = false;
      for (const auto& d : r.diagnostics.items()) {
        if (d.severity == Diagnostic::Severity::kError && d.position.line == e.line &&
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
}  // namespace tocsin::config
