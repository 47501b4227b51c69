#include "notify/rate_limiter.h"

namespace tocsin::notify {

void RateLimiter::Expire(std::deque<TimePoint>& sent, const RateLimit& limit, TimePoint now) {
  while (!sent.empty() && sent.front() + limit.per <= now) sent.pop_front();
}

TimePoint RateLimiter::NextAllowed(const std::string& bucket, const RateLimit& limit,
                                   TimePoint now) {
  if (limit.events <= 0) return now;
  auto it = sent_.find(bucket);
  if (it == sent_.end()) return now;
  Expire(it->second, limit, now);
  if (static_cast<long long>(it->second.size()) < limit.events) return now;
  // The window frees a slot when its oldest send leaves it.
  return it->second[it->second.size() - static_cast<std::size_t>(limit.events)] + limit.per;
}

void RateLimiter::Record(const std::string& bucket, const RateLimit& limit, TimePoint at) {
  if (limit.events <= 0) return;
  auto& sent = sent_[bucket];
  sent.push_back(at);
  Expire(sent, limit, at);
}

}  // namespace tocsin::notify
