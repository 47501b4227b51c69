#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Microsoft Teams through a channel's Workflows webhook: one message per event, each an
// Adaptive Card attachment (`application/vnd.microsoft.card.adaptive`, the format Alertmanager's
// msteamsv2 sends). A trigger posts What / Where / How much / Action, the people the step
// reaches and a Runbook link, coloured by SEV; an acknowledge or resolve posts a follow-up card
// (Workflows cannot edit a posted message, nor take button clicks back: the card links to
// tocsin's incident page instead). The webhook URL is a secret and never appears in a detail.
// Thread-safety: immutable; Deliver from any thread.
class TeamsNotifier final : public Notifier {
 public:
  // Teams refuses messages over about 28 KB; texts are cut well below it.
  static constexpr std::size_t kTextMax = 2000;
  static constexpr std::size_t kTitleMax = 200;

  TeamsNotifier(config::TeamsConfig config, std::shared_ptr<const PageRenderer> renderer,
                std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override;
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // The message posted for `item`, for tests.
  nlohmann::json BuildMessage(const OutboxItem& item) const;

 private:
  config::TeamsConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify
