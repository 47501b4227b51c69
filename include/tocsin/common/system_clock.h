#pragma once

#include "tocsin/common/clock.h"

namespace tocsin {

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  std::uint64_t MonotonicMicros() const override;
  std::uint64_t BootMicros() const override;
};

}  // namespace tocsin
