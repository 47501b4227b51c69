#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "notify/providers/pagerduty/pagerduty_responders.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// PagerDuty Events API v2: trigger / acknowledge / resolve on `{events_url}/v2/enqueue`, the
// incident's dedup_key as PagerDuty's dedup_key (so retries, restarts and fail-back all land
// on the same PagerDuty alert), summary <= 1024 code points, runbook and dashboards in `links`.
// The routing key travels in the body only and is never in a detail or a rate bucket name.
// PagerDuty folds a repeated trigger into the open incident and pages nobody new, so the people
// of each ladder step are reached one of two ways: a role with its own routing key
// (role_routing_keys) gets a trigger on that key, which pages whoever that service's escalation
// policy names; everyone else is added to the incident by a REST responder request
// (PagerDutyResponders) when api_token is set. Without either they are only named in the
// event's custom_details, and the detail says so. Acks and resolves go to every routing key.
// Thread-safety: immutable but for PagerDutyResponders' memory; Deliver from any thread.
class PagerDutyNotifier final : public Notifier {
 public:
  static constexpr std::size_t kSummaryMax = 1024;
  static constexpr std::size_t kDedupKeyMax = 255;

  // `responder_requests` null: accepted responder requests are remembered in memory only.
  PagerDutyNotifier(config::PagerDutyConfig config, std::shared_ptr<const PageRenderer> renderer,
                    std::shared_ptr<HttpClient> http,
                    ResponderRequestStore* responder_requests = nullptr);
  incident::Channel channel() const override { return incident::Channel::kPagerDuty; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;
  bool Probe() override;

  // The event body, for tests and the conformance suite.
  nlohmann::json BuildEvent(const OutboxItem& item) const;
  // The same event on another routing key (a role's own service).
  nlohmann::json BuildEvent(const OutboxItem& item, const std::string& routing_key) const;

 private:
  DeliveryResult Enqueue(const nlohmann::json& event) const;
  DeliveryResult DeliverTrigger(const OutboxItem& item);
  const std::string* RoleKey(const std::string& role) const;

  config::PagerDutyConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
  std::unique_ptr<PagerDutyResponders> responders_;  // null without api_token
};

}  // namespace tocsin::notify
