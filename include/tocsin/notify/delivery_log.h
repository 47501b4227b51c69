#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::notify {

// Which deliveries to list. Empty strings match everything; `before_id` pages backwards (the
// `next_before_id` of the previous page), 0 starts at the newest.
struct DeliveryLogFilter {
  std::string provider;  // the provider it went (or goes) through: "pagerduty", "slack", ...
  std::string person;
  std::string incident;
  std::string state;               // pending | sent | failed | superseded
  std::optional<TimePoint> since;  // queued at or after
  std::int64_t before_id = 0;
  int limit = 50;
};

// One delivery of the outbox, as it stands: the provider's last answer, and for finished ones
// how long it took from being queued to the provider's final answer (retries included).
struct DeliveryLogEntry {
  std::int64_t id = 0;
  std::string provider;    // through which it went (differs after a fail-over)
  std::string queued_for;  // the provider the route named
  std::string kind;        // "page", Slack "post" | "update" | "thread" | "notice"
  std::string person;      // empty for channel-wide deliveries
  std::string incident;
  std::string state;  // pending | sent | failed | superseded
  int attempts = 0;
  std::optional<int> status;  // the provider's last HTTP status (or SMTP code)
  std::string answer;         // the provider's last answer or error, secrets redacted
  TimePoint queued_at{};
  std::optional<TimePoint> done_at;
};

struct DeliveryLogPage {
  std::vector<DeliveryLogEntry> entries;  // newest first
  std::int64_t next_before_id = 0;        // 0: no older entries
};

// The log of every delivery the outbox keeps (finished ones until the outbox prunes them).
// Implemented by the store module over the outbox's own table. Thread-safety: from the thread
// that owns the database connection it reads through (the loop).
class DeliveryLog {
 public:
  virtual ~DeliveryLog() = default;
  virtual Result<DeliveryLogPage> List(const DeliveryLogFilter& filter) = 0;
};

}  // namespace tocsin::notify
