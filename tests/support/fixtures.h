#pragma once

#include <string>
#include <vector>

#include "tocsin/config/diagnostics.h"

namespace tocsin::testing {

// Config fixtures (tests/testdata/<module>/{good,bad,warning}/*.yaml) state what loading them
// must report in comment lines "# expect: LINE:COL: text" (errors) or "# expect-warning: ..."
// (warnings). These helpers read those lines and check them against the diagnostics, so every
// module's fixture test follows one convention.

// The files with `extension` directly in `dir`, sorted.
std::vector<std::string> FixtureFiles(const std::string& dir,
                                      const std::string& extension = ".yaml");

struct FixtureExpectation {
  int line = 0;
  int column = 0;
  std::string text;
};

// The "# <tag>: LINE:COL: text" lines of `path`; tag is "expect" or "expect-warning".
std::vector<FixtureExpectation> FixtureExpectations(const std::string& path,
                                                    const std::string& tag = "expect");

// Empty when each expectation matches a diagnostic of `severity` in `file` at exactly its line
// and column whose message contains its text; otherwise says which are missing and what was
// reported instead.
std::string MissingExpectations(
    const std::string& file, const config::Diagnostics& diags,
    const std::vector<FixtureExpectation>& expectations,
    config::Diagnostic::Severity severity = config::Diagnostic::Severity::kError);

}  // namespace tocsin::testing
