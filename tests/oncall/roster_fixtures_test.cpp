// Every roster validation rule has a good and a bad fixture under tests/testdata/oncall. A bad
// fixture states what it expects in "# expect: LINE:COL: text" comments.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tocsin/oncall/roster_loader.h"

namespace tocsin::oncall {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Fixtures(const std::string& sub) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(TOCSIN_TESTDATA_DIR) / "oncall" / sub)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RosterFixtureTest, GoodFixturesAndTheShippedRosterLoadCleanly) {
  auto files = Fixtures("good");
  files.push_back(std::string(TOCSIN_SOURCE_DIR) + "/config/roster.yaml");
  for (const auto& f : files) {
    config::Diagnostics diags;
    auto r = LoadRoster(f, diags);
    EXPECT_TRUE(r.has_value()) << f << "\n" << diags.ToString();
    EXPECT_TRUE(diags.items().empty()) << f << "\n" << diags.ToString();
  }
}

TEST(RosterFixtureTest, BadFixturesReportEachExpectedErrorAtItsPosition) {
  auto files = Fixtures("bad");
  ASSERT_GE(files.size(), 10u);
  std::regex re(R"(^# expect: (\d+):(\d+): (.*)$)");
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    int expectations = 0;
    config::Diagnostics diags;
    auto r = LoadRoster(f, diags);
    EXPECT_FALSE(r.has_value()) << f;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_match(line, m, re)) continue;
      ++expectations;
      bool found = false;
      for (const auto& d : diags.items()) {
        found |= d.severity == config::Diagnostic::Severity::kError &&
                 d.position.line == std::stoi(m[1]) && d.position.column == std::stoi(m[2]) &&
                 d.message.find(m[3]) != std::string::npos;
      }
      EXPECT_TRUE(found) << f << ": expected " << line << "\ngot:\n" << diags.ToString();
    }
    EXPECT_GT(expectations, 0) << f << " has no '# expect:' line";
  }
}

}  // namespace
}  // namespace tocsin::oncall
