// ParseRowsInParallel: every index once, whatever the thread; an exception from any thread
// reaches the caller after all of them finished.
#include "parallel_rows.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace tocsin::store {
namespace {

TEST(ParallelRowsTest, EveryIndexIsParsedOnceSmallAndLarge) {
  for (std::size_t n : {0U, 1U, 511U, 512U, 10001U}) {
    std::vector<int> seen(n, 0);
    ParseRowsInParallel(n, [&](std::size_t i) { seen[i] += 1; });
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "index " << i << " of " << n;
  }
}

TEST(ParallelRowsTest, AnExceptionFromAnyThreadReachesTheCallerAfterTheOthersFinished) {
  constexpr std::size_t kRows = 4000;
  std::atomic<std::size_t> done{0};
  EXPECT_THROW(ParseRowsInParallel(kRows,
                                   [&](std::size_t i) {
                                     if (i == kRows - 1) throw std::runtime_error("bad row");
                                     done.fetch_add(1);
                                   }),
               std::runtime_error);
  // Every other row was parsed: the threads were joined before the exception left.
  EXPECT_EQ(done.load(), kRows - 1);
}

}  // namespace
}  // namespace tocsin::store
