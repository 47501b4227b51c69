#include "tocsin/dispatch/fast_time.h"

#include <gtest/gtest.h>

#include "tocsin/common/duration.h"

namespace tocsin::dispatch {
namespace {

TEST(FastTimeTest, FormatsLikeFormatRfc3339) {
  for (std::int64_t ms :
       {0LL, 1LL, 999LL, 1763780400000LL, 1763780400250LL, 951782400123LL, -1000LL, 4102444799999LL,
        951868799999LL, 951868800000LL, -2208988800000LL, 253402300799999LL}) {
    std::string out;
    AppendRfc3339(out, FromUnixMillis(ms));
    EXPECT_EQ(out, FormatRfc3339(FromUnixMillis(ms))) << ms;
  }
}

}  // namespace
}  // namespace tocsin::dispatch
