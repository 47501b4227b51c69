#pragma once

#include <deque>
#include <map>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/notify/notify_config.h"

namespace tocsin::notify {

// Rolling-window rate limits per bucket (PagerDuty: 120 events in any 60 s per routing key),
// driven by the `now` the caller passes, so tests run it on the simulated clock. Remembers
// the send times of the last window per bucket. Loop thread only.
class RateLimiter {
 public:
  // When may the next event of `bucket` go out under `limit`? `now` when it may go at once.
  TimePoint NextAllowed(const std::string& bucket, const RateLimit& limit, TimePoint now);
  void Record(const std::string& bucket, const RateLimit& limit, TimePoint at);

 private:
  void Expire(std::deque<TimePoint>& sent, const RateLimit& limit, TimePoint now);
  std::map<std::string, std::deque<TimePoint>> sent_;
};

}  // namespace tocsin::notify
