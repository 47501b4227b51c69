#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Jira Service Management Operations through its integration API
// (`{api_url}/jsm/ops/integration/v2/alerts`, `Authorization: GenieKey <key>`): create with
// `alias` = the incident's dedup key and the step's people as `responders`, priority from the
// SEV; acknowledge, close and notes by alias. That API has no "add responder" call, so a later
// ladder step opens an alert of its own, aliased `<dedup key>/step-<n>` and naming that step's
// people, and an acknowledge or resolve goes to every step's alert. 429 and 5xx are retried
// (501 is not: the endpoint does not exist). Thread-safety: immutable; Deliver from any thread.
class JsmNotifier final : public Notifier {
 public:
  static constexpr std::size_t kMessageMax = 130;
  static constexpr std::size_t kAliasMax = 512;
  static constexpr std::size_t kDescriptionMax = 15000;
  static constexpr std::size_t kNoteMax = 25000;
  // An ack or resolve closes at most this many step alerts (a ladder is far shorter).
  static constexpr int kMaxSteps = 20;
  static constexpr const char* kAlertsPath = "/jsm/ops/integration/v2/alerts";

  JsmNotifier(config::JsmConfig config, std::shared_ptr<const PageRenderer> renderer,
              std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override;
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // The alias of step `step` (0-based) of the incident whose dedup key is `dedup_key`.
  static std::string StepAlias(const std::string& dedup_key, int step);

  // Method, path (with query) and body of each request Deliver sends for `item`, in order.
  struct Call {
    std::string method;
    std::string path;
    nlohmann::json body;
  };
  std::vector<Call> BuildCalls(const OutboxItem& item) const;

 private:
  Call Create(const incident::PageRequest& r) const;

  config::JsmConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
