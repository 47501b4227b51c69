#include "tocsin/common/system_clock.h"

#include <time.h>

#include <chrono>

namespace tocsin {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::uint64_t SystemClock::MonotonicMicros() const {
  // CLOCK_MONOTONIC, which is what systemd expects in MONOTONIC_USEC.
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::uint64_t SystemClock::BootMicros() const {
  timespec ts{};
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return MonotonicMicros();
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace tocsin
