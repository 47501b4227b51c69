#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Generic JSON webhook for low-severity pages and notices. The body carries the rendered page
// and the raw alerts; `X-Tocsin-Signature: v1=<hex>` is HMAC-SHA256 of the raw body keyed by
// the configured secret (the receiver recomputes it, as for PagerDuty's webhooks), and
// `X-Tocsin-Idempotency-Key` lets it drop a re-delivery. Thread-safety: immutable.
class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(config::WebhookConfig config, std::shared_ptr<const PageRenderer> renderer,
                  std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override { return incident::Channel::kWebhook; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  nlohmann::json BuildBody(const OutboxItem& item) const;
  // Headers of the request for `body` (signature included), for tests.
  std::vector<std::pair<std::string, std::string>> Headers(const OutboxItem& item,
                                                           const std::string& body) const;

 private:
  std::string UrlFor(const OutboxItem& item) const;
  config::WebhookConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
