#include "notify/providers/webhook/webhook_notifier.h"

#include <fmt/format.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::notify {

using nlohmann::json;

WebhookNotifier::WebhookNotifier(config::WebhookConfig config,
                                 std::shared_ptr<const PageRenderer> renderer,
                                 std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {}

std::string WebhookNotifier::UrlFor(const OutboxItem& item) const {
  // A receiver's notice may name its own URL; otherwise the provider's.
  if (IsAbsoluteHttpUrl(item.target)) return item.target;
  return config_.url;
}

json WebhookNotifier::BuildBody(const OutboxItem& item) const {
  const auto& r = item.request;
  PageText t = renderer_->Render(r);
  json alerts = json::array();
  for (const auto& a : r.alerts) {
    json alert = {{"labels", LabelsToJson(a.labels)},
                  {"annotations", a.annotations},
                  {"state", AlertStateName(a.state)},
                  {"starts_at", Iso8601(a.starts_at)}};
    if (a.value) alert["value"] = *a.value;
    if (a.threshold) alert["threshold"] = *a.threshold;
    if (a.burn_rate) alert["burn_rate"] = *a.burn_rate;
    alerts.push_back(alert);
  }
  json links = json::array();
  for (const auto& l : t.links) links.push_back({{"href", l.href}, {"text", l.text}});
  // Whom the page is for: the system behind the webhook routes by these.
  json targets = json::array();
  for (const auto& target : r.targets) {
    targets.push_back(
        {{"person", target.person.id}, {"name", target.person.name}, {"role", target.role}});
  }
  return {{"version", "1"},
          {"incident_id", r.incident_id},
          {"dedup_key", r.dedup_key},
          {"idempotency_key", r.idempotency_key},
          {"event", incident::PageActionName(r.action)},
          {"severity", SevName(r.sev)},
          {"state", r.state},
          {"step", r.step + 1},
          {"title", r.title},
          {"targets", targets},
          {"summary", t.summary},
          {"what", t.what},
          {"where", t.where},
          {"how_much", t.how_much},
          {"action", t.action},
          {"runbook_url", t.runbook_url},
          {"links", links},
          {"cause_candidates", t.causes},
          {"text", r.text},
          {"actor", r.actor},
          {"at", Iso8601(r.at)},
          {"drill", r.drill},
          {"alerts", alerts}};
}

std::vector<std::pair<std::string, std::string>> WebhookNotifier::Headers(
    const OutboxItem& item, const std::string& body) const {
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Type", "application/json"},
      {"User-Agent", "tocsin"},
      {"X-Tocsin-Idempotency-Key", item.request.idempotency_key}};
  if (!config_.secret.empty()) {
    h.emplace_back("X-Tocsin-Signature", "v1=" + HmacSha256Hex(config_.secret, body));
  }
  return h;
}

DeliveryResult WebhookNotifier::Deliver(const OutboxItem& item) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = UrlFor(item);
  if (req.url.empty()) return DeliveryResult::Permanent(0, "webhook: no URL configured");
  req.body = DumpJson(BuildBody(item));
  req.headers = Headers(item, req.body);
  return ClassifyHttp("webhook", http_->Send(req));
}

std::string WebhookNotifier::RateKey(const OutboxItem& item) const {
  return fmt::format("url-{:016x}", Fnv1a64(UrlFor(item)));
}

}  // namespace tocsin::notify
