#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/incident/page.h"

namespace tocsin::notify {

// One row of the outbox: what to deliver (the page request as the incident side made it), to
// which provider, and how many times it was tried. Rendering happens at delivery time from
// `request`, so a template or provider fix applies to what is still queued, and fail-over can
// re-render the same request for the other provider. Plain value.
struct OutboxItem {
  std::int64_t id = 0;
  incident::Channel channel = incident::Channel::kSlack;  // provider it goes to now
  incident::Channel original_channel = incident::Channel::kSlack;
  // Provider operation where the action alone does not say it: Slack "post" | "update" |
  // "thread" | "notice"; "page" for the others. "closing": an acknowledge or resolve for an
  // alert provider that has a page of the incident while the incident's line goes elsewhere
  // (a fail-over in the middle of the ladder); it goes there, waiting while it is down.
  std::string kind = "page";
  std::string target;     // Slack channel, e-mail address or webhook URL; empty: default
  std::string person_id;  // empty for channel-wide deliveries
  // Items with the same non-empty key supersede each other while pending: only the latest
  // is sent (several Slack chat.update of one message -> the last state).
  std::string coalesce_key;
  int attempts = 0;
  TimePoint created_at{};
  TimePoint next_attempt_at{};
  incident::PageRequest request;
};

// What one delivery attempt came to, in the terms of Alertmanager's Retrier: 2xx ok; 408, 429,
// 5xx and network errors retried; other 4xx permanent. `detail` never holds a secret.
struct DeliveryResult {
  enum class Outcome { kOk, kRetry, kPermanent };
  Outcome outcome = Outcome::kOk;
  int status = 0;                       // HTTP status, 0 when none (network error, SMTP)
  std::optional<Duration> retry_after;  // from the provider (Retry-After), when it said
  std::string detail;                   // short provider answer or error, redacted
  std::string provider_ref;             // e.g. Slack "channel ts" of a posted message

  bool ok() const { return outcome == Outcome::kOk; }
  static DeliveryResult Ok(int status, std::string detail = {}) {
    return {Outcome::kOk, status, std::nullopt, std::move(detail), {}};
  }
  static DeliveryResult Retry(int status, std::string detail,
                              std::optional<Duration> after = std::nullopt) {
    return {Outcome::kRetry, status, after, std::move(detail), {}};
  }
  static DeliveryResult Permanent(int status, std::string detail) {
    return {Outcome::kPermanent, status, std::nullopt, std::move(detail), {}};
  }
};
std::string_view OutcomeName(DeliveryResult::Outcome o);  // "ok", "retry", "permanent"

// One paging provider (PagerDuty, Opsgenie, Slack, e-mail, webhook): turns an outbox item into
// the provider's request and classifies the answer. Deliver() blocks (HTTP, SMTP) and runs on
// an Executor, never on the event loop. Thread-safety: Deliver, RateKey and Probe may be
// called from several threads at once; implementations are immutable after construction.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual incident::Channel channel() const = 0;
  virtual DeliveryResult Deliver(const OutboxItem& item) = 0;
  // The bucket the provider rate-limits this item in (PagerDuty: per routing key; Slack: per
  // channel). Never contains a secret.
  virtual std::string RateKey(const OutboxItem& item) const = 0;
  // While failed over: does the provider answer at all again? A cheap request that pages
  // nobody. Providers without such a request return false (they recover on the next page).
  virtual bool Probe() { return false; }
  // A dead-man's switch of the provider's own (Opsgenie's heartbeat): when HasHeartbeat, tocsin
  // pings it on a timer, so that the provider pages someone when tocsin itself stops.
  virtual bool HasHeartbeat() const { return false; }
  // One ping; ok when the provider accepted it. Blocks like Deliver (runs on an Executor).
  virtual DeliveryResult Heartbeat() {
    return DeliveryResult::Permanent(0, "this provider has no heartbeat");
  }
};

}  // namespace tocsin::notify
