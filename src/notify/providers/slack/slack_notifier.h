#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/slack_thread_store.h"

namespace tocsin::notify {

// Slack: with a bot token, the Web API — chat.postMessage with Block Kit (header, What/Where/
// How much/Action, fields, cause candidates, runbook and dashboard buttons, Acknowledge /
// Resolve / Escalate buttons whose value is the incident id), chat.update of that message on
// every state change (channel + ts kept durably in the SlackThreadStore), and the timeline as
// thread replies. Without a bot token, plain notices through the incoming webhook. HTTP 200
// with {"ok":false} is an error, retried only for Slack's transient error codes.
// Thread-safety: immutable apart from the store, which is thread-safe.
class SlackNotifier final : public Notifier {
 public:
  static constexpr std::size_t kHeaderMax = 150;
  static constexpr std::size_t kSectionMax = 3000;
  static constexpr std::size_t kFieldMax = 2000;
  static constexpr std::size_t kButtonTextMax = 75;
  static constexpr std::size_t kFieldsMax = 10;

  SlackNotifier(config::SlackConfig config, std::shared_ptr<const PageRenderer> renderer,
                std::shared_ptr<HttpClient> http, SlackThreadStore& threads);
  incident::Channel channel() const override { return incident::Channel::kSlack; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // Block Kit blocks of the incident message in its current state, for tests.
  nlohmann::json BuildBlocks(const incident::PageRequest& request) const;
  // Blocks of a notice (group notice or tocsin's own).
  nlohmann::json BuildNoticeBlocks(const incident::PageRequest& request) const;

 private:
  DeliveryResult CallApi(const std::string& method, const nlohmann::json& body,
                         nlohmann::json* answer);
  DeliveryResult PostIncidentMessage(const OutboxItem& item);
  DeliveryResult PostWebhook(const nlohmann::json& body);
  std::string ChannelFor(const OutboxItem& item) const;

  config::SlackConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
  SlackThreadStore& threads_;
};

}  // namespace tocsin::notify
