#include "notify/providers/opsgenie/opsgenie_notifier.h"

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

std::string Priority(incident::Sev sev) { return fmt::format("P{}", static_cast<int>(sev)); }

}  // namespace

OpsgenieNotifier::OpsgenieNotifier(config::OpsgenieConfig config,
                                   std::shared_ptr<const PageRenderer> renderer,
                                   std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {}

OpsgenieNotifier::Call OpsgenieNotifier::BuildCall(const OutboxItem& item) const {
  const auto& r = item.request;
  std::string alias = BoundedKey(r.dedup_key, kAliasMax);
  std::string by_alias = "/v2/alerts/" + UrlEncode(alias);
  std::string actor = r.actor.empty() ? incident::kSystemActor : r.actor;
  switch (r.action) {
    case PageAction::kAcknowledge:
      return {"POST",
              by_alias + "/acknowledge?identifierType=alias",
              {{"user", actor}, {"source", "tocsin"}, {"note", "Acknowledged in tocsin"}}};
    case PageAction::kResolve:
      return {"POST",
              by_alias + "/close?identifierType=alias",
              {{"user", actor}, {"source", "tocsin"}, {"note", "Resolved in tocsin"}}};
    case PageAction::kNote:
    case PageAction::kReminder:
    case PageAction::kStatusUpdate:
    case PageAction::kUpdate:
      return {"POST",
              by_alias + "/notes?identifierType=alias",
              {{"user", actor},
               {"source", "tocsin"},
               {"note", TruncateUtf8(r.text.empty() ? r.state : r.text, 25000)}}};
    case PageAction::kTrigger:
      break;
  }
  PageText t = renderer_->Render(r);
  json responders = json::array();
  std::vector<std::string> people;
  std::set<std::string> seen;
  for (const auto& target : r.targets) {
    const auto& u = target.person.opsgenie_username;
    if (u.empty() || !seen.insert(u).second) continue;
    responders.push_back({{"type", "user"}, {"username", u}});
    people.push_back(fmt::format("{} ({})", target.person.id, u));
  }
  json tags = OpsAlertTags(r.sev, t);
  json details = OpsAlertDetails(r, t, /*with_action=*/false);
  json body = {{"message", TruncateUtf8(t.summary, kMessageMax)},
               {"alias", alias},
               {"description", TruncateUtf8(t.details, kDescriptionMax)},
               {"responders", responders},
               {"tags", tags},
               {"details", details},
               {"entity", t.source},
               {"source", "tocsin"},
               {"priority", Priority(r.sev)},
               {"note", fmt::format("Step {}", r.step + 1)}};
  // A later step's create only bumps the open alert's count: its responders are added by the
  // calls BuildCalls appends, and only those name people.
  if (r.step != 0) people.clear();
  return {"POST", "/v2/alerts", body, people};
}

std::vector<OpsgenieNotifier::Call> OpsgenieNotifier::BuildCalls(const OutboxItem& item) const {
  std::vector<Call> calls = {BuildCall(item)};
  const auto& r = item.request;
  if (r.action != PageAction::kTrigger || r.step == 0) return calls;
  std::string path = "/v2/alerts/" + UrlEncode(BoundedKey(r.dedup_key, kAliasMax)) +
                     "/responders?identifierType=alias";
  std::set<std::string> seen;
  for (const auto& target : r.targets) {
    const auto& u = target.person.opsgenie_username;
    if (u.empty() || !seen.insert(u).second) continue;
    calls.push_back({"POST",
                     path,
                     {{"responder", {{"type", "user"}, {"username", u}}},
                      {"user", "tocsin"},
                      {"source", "tocsin"},
                      {"note", fmt::format("Step {}: {}", r.step + 1, target.role)}},
                     {fmt::format("{} ({})", target.person.id, u)}});
  }
  return calls;
}

DeliveryResult OpsgenieNotifier::Deliver(const OutboxItem& item) {
  // Several calls for a later step: a retry repeats them all, which Opsgenie absorbs (a
  // create bumps the open alert's count; a responder already on the alert stays one).
  DeliveryResult last;
  std::vector<std::string> accepted;  // "person (username)" whose responder call Opsgenie took
  for (const Call& call : BuildCalls(item)) {
    HttpClientRequest req;
    req.method = call.method;
    req.url = config_.api_url + call.path;
    req.headers = {{"Content-Type", "application/json"},
                   {"Authorization", "GenieKey " + config_.api_key}};
    req.body = DumpJson(call.body);
    last = ClassifyHttp("opsgenie", http_->Send(req), {501});
    if (!last.ok()) {
      if (!accepted.empty())
        last.detail +=
            fmt::format("; responders accepted before it: {}", fmt::join(accepted, ", "));
      return last;
    }
    for (const auto& who : call.people) accepted.push_back(who);
  }
  if (!accepted.empty())
    last.detail += fmt::format("; responders accepted: {}", fmt::join(accepted, ", "));
  return last;
}

std::string OpsgenieNotifier::RateKey(const OutboxItem&) const {
  return fmt::format("key-{:016x}", Fnv1a64(config_.api_key));
}

DeliveryResult OpsgenieNotifier::Heartbeat() {
  HttpClientRequest req;
  req.method = "GET";
  req.url = config_.api_url + "/v2/heartbeats/" + UrlEncode(config_.heartbeat_name) + "/ping";
  req.headers = {{"Authorization", "GenieKey " + config_.api_key}};
  req.timeout = std::chrono::seconds(5);
  return ClassifyHttp("opsgenie heartbeat", http_->Send(req), {501});
}

bool OpsgenieNotifier::Probe() {
  // The heartbeat ping pages nobody; without one, a request-status lookup of an unknown id
  // (404) proves the API answers just as well.
  HttpClientRequest req;
  req.method = "GET";
  req.url = HasHeartbeat()
                ? config_.api_url + "/v2/heartbeats/" + UrlEncode(config_.heartbeat_name) + "/ping"
                : config_.api_url + "/v2/alerts/requests/tocsin-probe";
  req.headers = {{"Authorization", "GenieKey " + config_.api_key}};
  req.timeout = std::chrono::seconds(5);
  auto r = http_->Send(req);
  return r && r->status < 500 && r->status != 429;
}

}  // namespace tocsin::notify
