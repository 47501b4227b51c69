#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "tocsin/common/http_client.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/notify_config.h"

namespace tocsin::notify {

// The channel status updates go to when `notify.status_page` is configured.
inline const incident::Channel& StatusPageChannel() {
  static const incident::Channel c = incident::Channel::Named("status_page");
  return c;
}

// The status-page webhook: every status update of a real incident (never a drill) is POSTed
// as one JSON object (docs/reports.md, "Status updates") with `Authorization: Bearer <token>`
// when a token is configured and `X-Tocsin-Idempotency-Key` so that the receiver can drop a
// re-delivery. It is not a paging provider (it reaches no person and has no place in a
// ladder), so it is built from `notify.status_page` rather than listed in the provider
// registry. 2xx ok, 429/5xx retried, other 4xx permanent. Thread-safety: immutable.
class StatusPageNotifier final : public Notifier {
 public:
  StatusPageNotifier(StatusPageConfig config, std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override { return StatusPageChannel(); }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // The body for the status update `item` carries (tests, docs).
  static nlohmann::json BuildBody(const OutboxItem& item);

 private:
  StatusPageConfig config_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
