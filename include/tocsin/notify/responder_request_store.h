#pragma once

#include <set>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::notify {

// The PagerDuty responder requests PagerDuty accepted, per step page (its idempotency key) and
// PagerDuty user id, kept durably: a ladder step that is retried after a restart (or a SIGKILL
// between two people of the step) must not page someone a second time, and a later page of the
// same people (a repeat, a reopen) must page them again. Implemented in the store module
// (table pagerduty_responder_requests); an in-memory one serves one-off commands.
// Thread-safety: safe from any thread (the PagerDuty notifier calls it on notify workers).
class ResponderRequestStore {
 public:
  virtual ~ResponderRequestStore() = default;
  // The user ids already requested for the step page `request_key`; an error when the store
  // cannot be read (the caller then pages nobody of the step yet rather than risk paging twice).
  virtual Result<std::set<std::string>> Requested(const std::string& request_key) = 0;
  // Records that PagerDuty accepted a responder request for `user_id`; durable when it returns
  // ok. `dedup_key` (the Events v2 one) and `incident` (PagerDuty's incident id) are kept for
  // whoever reads the table.
  virtual Result<void> SaveRequested(const std::string& request_key, const std::string& dedup_key,
                                     const std::string& user_id, const std::string& incident,
                                     TimePoint at) = 0;
};

}  // namespace tocsin::notify
