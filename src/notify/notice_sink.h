#pragma once

#include "notify/outbox.h"
#include "tocsin/dispatch/alert_group.h"

namespace tocsin::notify {

// The dispatcher's sink for receivers without an escalation policy: each flushed group becomes
// one notice per `Receiver::notices` entry (Slack channel, e-mail address, webhook), written to
// the same durable outbox as pages so notices share its retries and rate limits. A group
// flushed again with no change is not re-sent (same idempotency key). Loop thread only.
class NoticeSink final : public dispatch::GroupSink {
 public:
  explicit NoticeSink(Outbox& outbox) : outbox_(outbox) {}
  void OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) override;

  // The page request a notice of `group` renders from (tests).
  static incident::PageRequest ToRequest(const dispatch::AlertGroup& group, TimePoint now);

 private:
  Outbox& outbox_;
};

}  // namespace tocsin::notify
