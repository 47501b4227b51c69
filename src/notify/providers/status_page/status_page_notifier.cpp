#include "notify/providers/status_page/status_page_notifier.h"

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/incident.h"

namespace tocsin::notify {

using nlohmann::json;

StatusPageNotifier::StatusPageNotifier(StatusPageConfig config, std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), http_(std::move(http)) {}

json StatusPageNotifier::BuildBody(const OutboxItem& item) {
  const auto& r = item.request;
  json details = json::parse(r.details, nullptr, false);
  if (!details.is_object()) details = json::object();
  json body = {{"version", "1"},
               {"update_id", r.idempotency_key},
               {"incident_id", r.incident_id},
               {"severity", incident::SevName(r.sev)},
               {"title", r.title},
               {"state", r.state},
               {"posted_by", r.actor},
               {"posted_at", Iso8601(r.at)}};
  for (const char* k :
       {"situation", "affected", "measures", "next_update_in_minutes", "next_update_at"}) {
    body[k] = details.contains(k) ? details[k] : json(nullptr);
  }
  return body;
}

DeliveryResult StatusPageNotifier::Deliver(const OutboxItem& item) {
  if (item.request.drill) {
    // The plan never queues one; a row written by hand or by a bug must not reach customers.
    return DeliveryResult::Permanent(0, "status_page: a drill is never posted to the status page");
  }
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.url;
  req.body = DumpJson(BuildBody(item));
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "tocsin"},
                 {"X-Tocsin-Idempotency-Key", item.request.idempotency_key}};
  if (!config_.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + config_.token);
  return ClassifyHttp("status_page", http_->Send(req));
}

std::string StatusPageNotifier::RateKey(const OutboxItem&) const { return "status_page"; }

}  // namespace tocsin::notify
