#include "support/fixtures.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

namespace tocsin::testing {

std::vector<std::string> FixtureFiles(const std::string& dir, const std::string& extension) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == extension) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<FixtureExpectation> FixtureExpectations(const std::string& path,
                                                    const std::string& tag) {
  std::ifstream in(path);
  std::regex re("^# " + tag + R"(: (\d+):(\d+): (.*)$)");
  std::vector<FixtureExpectation> out;
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) out.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3]});
  }
  return out;
}

std::string MissingExpectations(const std::string& file, const config::Diagnostics& diags,
                                const std::vector<FixtureExpectation>& expectations,
                                config::Diagnostic::Severity severity) {
  std::string missing;
  for (const auto& e : expectations) {
    bool found = std::any_of(diags.items().begin(), diags.items().end(), [&](const auto& d) {
      return d.severity == severity && d.position.file == file && d.position.line == e.line &&
             d.position.column == e.column && d.message.find(e.text) != std::string::npos;
    });
    if (!found) {
      missing += file + ": expected at " + std::to_string(e.line) + ":" + std::to_string(e.column) +
                 " \"" + e.text + "\"\n";
    }
  }
  if (!missing.empty()) missing += "reported:\n" + diags.ToString();
  return missing;
}

}  // namespace tocsin::testing
