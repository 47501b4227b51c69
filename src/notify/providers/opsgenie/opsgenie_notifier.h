#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Opsgenie Alert API v2 (US or EU base URL): create with `alias` = the incident's dedup key
// (a retried or replayed create only bumps the open alert's count), responders from the page's
// targets, priority from the SEV; acknowledge, close and notes by alias. 501 is not retried
// (the endpoint does not exist), other 5xx and 429 are. The heartbeat ping is tocsin's own
// dead-man's switch. Thread-safety: immutable; Deliver from any thread.
class OpsgenieNotifier final : public Notifier {
 public:
  static constexpr std::size_t kMessageMax = 130;
  static constexpr std::size_t kAliasMax = 512;
  static constexpr std::size_t kDescriptionMax = 15000;

  OpsgenieNotifier(config::OpsgenieConfig config, std::shared_ptr<const PageRenderer> renderer,
                   std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override { return incident::Channel::kOpsgenie; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;
  bool Probe() override;
  // GET /v2/heartbeats/{name}/ping; ok when Opsgenie answered 2xx.
  DeliveryResult Heartbeat() override;
  // When providers.opsgenie.heartbeat_name is set.
  bool HasHeartbeat() const override { return !config_.heartbeat_name.empty(); }

  // Method, path (with query) and body of the request for `item`, for tests.
  struct Call {
    std::string method;
    std::string path;
    nlohmann::json body;
    // Whom the call adds as responders ("pay (pay@example.com)"), for the delivery's detail.
    std::vector<std::string> people = {};
  };
  Call BuildCall(const OutboxItem& item) const;
  // Everything Deliver sends: the call above, and for a later ladder step (the alert exists
  // already, so a create only bumps its count) one "add responder" per person of the step.
  std::vector<Call> BuildCalls(const OutboxItem& item) const;

 private:
  config::OpsgenieConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
