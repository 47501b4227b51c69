#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// PagerDuty Events API v2: trigger / acknowledge / resolve on `{events_url}/v2/enqueue`, the
// incident's dedup_key as PagerDuty's dedup_key (so retries, restarts and fail-back all land
// on the same PagerDuty alert), summary <= 1024 code points, runbook and dashboards in `links`.
// The routing key travels in the body only and is never in a detail or a rate bucket name.
// Thread-safety: immutable; Deliver from any thread.
class PagerDutyNotifier final : public Notifier {
 public:
  static constexpr std::size_t kSummaryMax = 1024;
  static constexpr std::size_t kDedupKeyMax = 255;

  PagerDutyNotifier(config::PagerDutyConfig config, std::shared_ptr<const PageRenderer> renderer,
                    std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override { return incident::Channel::kPagerDuty; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;
  bool Probe() override;

  // The event body, for tests and the conformance suite.
  nlohmann::json BuildEvent(const OutboxItem& item) const;

 private:
  config::PagerDutyConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
