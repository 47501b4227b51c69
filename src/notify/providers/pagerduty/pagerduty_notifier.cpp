#include "notify/providers/pagerduty/pagerduty_notifier.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"

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
                                     std::shared_ptr<HttpClient> http,
                                     ResponderRequestStore* responder_requests)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {
  if (!config_.api_token.empty()) {
    responders_ = std::make_unique<PagerDutyResponders>(config_, http_, responder_requests);
  }
}

json PagerDutyNotifier::BuildEvent(const OutboxItem& item) const {
  return BuildEvent(item, config_.routing_key);
}

json PagerDutyNotifier::BuildEvent(const OutboxItem& item, const std::string& routing_key) const {
  const auto& r = item.request;
  json event = {{"routing_key", routing_key}, {"dedup_key", BoundedKey(r.dedup_key, kDedupKeyMax)}};
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
  if (r.drill) details["drill"] = true;
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

DeliveryResult PagerDutyNotifier::Enqueue(const json& event) const {
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.events_url + "/v2/enqueue";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = DumpJson(event);
  return ClassifyHttp("pagerduty", http_->Send(req));
}

const std::string* PagerDutyNotifier::RoleKey(const std::string& role) const {
  for (const auto& [r, key] : config_.role_routing_keys) {
    if (r == role) return &key;
  }
  return nullptr;
}

DeliveryResult PagerDutyNotifier::Deliver(const OutboxItem& item) {
  if (item.request.action == PageAction::kTrigger) return DeliverTrigger(item);
  if (item.request.action != PageAction::kAcknowledge &&
      item.request.action != PageAction::kResolve) {
    // Anything else would go out as a trigger and open (and page) a PagerDuty alert again.
    return DeliveryResult::Permanent(0, fmt::format("PagerDuty's Events API takes no {}: not sent",
                                                    incident::PageActionName(item.request.action)));
  }
  // An ack or resolve goes to every routing key a trigger may have used; PagerDuty drops it
  // where no alert of the dedup key is open.
  DeliveryResult last = Enqueue(BuildEvent(item));
  std::set<std::string> done = {config_.routing_key};
  for (const auto& [role, key] : config_.role_routing_keys) {
    if (!last.ok()) break;
    if (!done.insert(key).second) continue;
    last = Enqueue(BuildEvent(item, key));
    if (!last.ok()) last.detail = fmt::format("the service of role {}: {}", role, last.detail);
  }
  return last;
}

DeliveryResult PagerDutyNotifier::DeliverTrigger(const OutboxItem& item) {
  const auto& r = item.request;
  // The incident itself: opened by the first step, folded into the open one by later steps.
  DeliveryResult main = Enqueue(BuildEvent(item));
  if (!main.ok()) return main;
  std::vector<std::string> parts = {main.detail};
  std::map<std::string, std::vector<std::string>> by_role_key;  // role -> people
  std::vector<PagerDutyResponders::Person> to_add;
  std::vector<std::string> named_only;
  std::set<std::string> seen;
  for (const auto& t : r.targets) {
    if (!seen.insert(t.person.id + "\n" + t.role).second) continue;
    // The outbox gives PagerDuty only the targets it chose PagerDuty for.
    if (t.paged_via && *t.paged_via != incident::Channel::kPagerDuty) continue;
    if (RoleKey(t.role)) {
      by_role_key[t.role].push_back(t.person.id);
    } else if (responders_ && !t.person.pagerduty_user_id.empty()) {
      to_add.push_back({t.person.id, t.person.pagerduty_user_id, t.role});
    } else {
      named_only.push_back(t.person.id);
    }
  }
  for (const auto& [role, people] : by_role_key) {
    DeliveryResult one = Enqueue(BuildEvent(item, *RoleKey(role)));
    if (!one.ok()) {
      one.detail = fmt::format("{}; the trigger on the routing key of role {} (for {}) failed: {}",
                               main.detail, role, fmt::join(people, ", "), one.detail);
      return one;
    }
    parts.push_back(fmt::format("triggered the PagerDuty service of role {} (for {})", role,
                                fmt::join(people, ", ")));
  }
  if (!to_add.empty()) {
    DeliveryResult added = responders_->AddPeople(
        BoundedKey(r.dedup_key, kDedupKeyMax), r.idempotency_key,
        TruncateUtf8(fmt::format("tocsin step {}: {}", r.step + 1, r.title), 500), to_add, r.at);
    parts.push_back(added.detail);
    if (!added.ok()) {
      added.detail = fmt::format("{}", fmt::join(parts, "; "));
      return added;
    }
  }
  if (!named_only.empty()) {
    parts.push_back(
        fmt::format("named in the event only, paged as the service's escalation policy decides: {}",
                    fmt::join(named_only, ", ")));
  }
  main.detail = fmt::format("{}", fmt::join(parts, "; "));
  return main;
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
