#include "notify/providers/pagerduty/pagerduty_notifier.h"

#include <fmt/format.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "notify/utf8.h"

namespace tocsin::notify {

using incident::PageAction;
using nlohmann::json;

namespace {

std::string_view PagerDutySeverity(incident::Sev sev) {
  switch (sev) {
    case incident::Sev::kSev1:
      return "critical";
    case incident::Sev::kSev2:
      return "error";
    case incident::Sev::kSev3:
      return "warning";
    case incident::Sev::kSev4:
      return "info";
  }
  return "warning";
}

}  // namespace

PagerDutyNotifier::PagerDutyNotifier(config::PagerDutyConfig config,
                                     std::shared_ptr<const PageRenderer> renderer,
                                     std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {}

json PagerDutyNotifier::BuildEvent(const OutboxItem& item) const {
  const auto& r = item.request;
  json event = {{"routing_key", config_.routing_key},
                {"dedup_key", BoundedKey(r.dedup_key, kDedupKeyMax)}};
  if (r.action == PageAction::kAcknowledge) {
    event["event_action"] = "acknowledge";
    return event;
  }
  if (r.action == PageAction::kResolve) {
    event["event_action"] = "resolve";
    return event;
  }
  PageText t = renderer_->Render(r);
  event["event_action"] = "trigger";
  json details = {{"what", t.what},     {"where", t.where},          {"how_much", t.how_much},
                  {"action", t.action}, {"incident", r.incident_id}, {"severity", SevName(r.sev)},
                  {"step", r.step + 1}, {"state", r.state}};
  if (!t.runbook_url.empty()) details["runbook"] = t.runbook_url;
  if (!t.causes.empty()) details["cause_candidates"] = t.causes;
  if (!t.labels.empty()) details["labels"] = t.labels;
  json roles = json::array();
  for (const auto& target : r.targets) {
    roles.push_back(fmt::format("{} ({})",
                                target.person.name.empty() ? target.person.id : target.person.name,
                                target.role));
  }
  if (!roles.empty()) details["paging"] = roles;
  json payload = {
      {"summary", TruncateUtf8(t.summary, kSummaryMax)},
      {"source", t.source},
      {"severity", PagerDutySeverity(r.sev)},
      {"timestamp", Iso8601(r.opened_at.time_since_epoch().count() ? r.opened_at : r.at)},
      {"custom_details", details}};
  if (auto it = t.labels.find("psp"); it != t.labels.end()) payload["component"] = it->second;
  if (auto it = t.labels.find("service"); it != t.labels.end()) payload["group"] = it->second;
  if (!t.alertname.empty()) payload["class"] = t.alertname;
  event["payload"] = payload;
  event["client"] = "tocsin";
  if (!t.incident_url.empty()) event["client_url"] = t.incident_url;
  json links = json::array();
  for (const auto& l : t.links) links.push_back({{"href", l.href}, {"text", l.text}});
  if (!links.empty()) event["links"] = links;
  return event;
}

DeliveryResult PagerDutyNotifier::Deliver(const OutboxItem& item) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.events_url + "/v2/enqueue";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = BuildEvent(item).dump(-1, ' ', false, json::error_handler_t::replace);
  return ClassifyHttp("pagerduty", http_->Send(req));
}

std::string PagerDutyNotifier::RateKey(const OutboxItem&) const {
  // PagerDuty limits per routing key; name the bucket by a hash, never by the key itself.
  return fmt::format("rk-{:016x}", Fnv1a64(config_.routing_key));
}

bool PagerDutyNotifier::Probe() {
  // An empty event pages nobody: PagerDuty answers 400 when it is up, 5xx/nothing when not.
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.events_url + "/v2/enqueue";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = "{}";
  req.timeout = std::chrono::seconds(5);
  auto r = http_->Send(req);
  return r && r->status < 500 && r->status != 429;
}

}  // namespace tocsin::notify
