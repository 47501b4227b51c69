#pragma once

#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

#include "support/files.h"

namespace tocsin::testing {

// Adds to the test's failure the logs in `dir` named in `files` that exist (the daemon's, the
// simulator's), so that a failure in CI shows what the processes said. (A header, not part of
// tocsin_test_support: the benchmarks link that library without GoogleTest.)
inline void AddLogsToFailure(const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) {
    const std::string path = dir + "/" + f;
    if (std::ifstream(path)) ADD_FAILURE() << "--- " << f << " ---\n" << ReadFile(path);
  }
}

}  // namespace tocsin::testing
