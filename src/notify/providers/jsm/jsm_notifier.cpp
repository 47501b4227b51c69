#include "notify/providers/jsm/jsm_notifier.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

using incident::PageAction;
using nlohmann::json;

namespace {

// The four questions first, so that the alert reads the same in JSM's app and in its
// notifications, then the runbook and the rendered details.
std::string Description(const PageText& t) {
  std::string out;
  auto line = [&](const char* name, const std::string& value) {
    if (!value.empty()) out += fmt::format("{}: {}\n", name, value);
  };
  line("What", t.what);
  line("Where", t.where);
  line("How much", t.how_much);
  line("Action", t.action);
  line("Runbook", t.runbook_url);
  line("Dashboard", t.dashboard_url);
  line("Incident", t.incident_url);
  if (!t.details.empty()) out += "\n" + t.details;
  return out;
}

}  // namespace

JsmNotifier::JsmNotifier(config::JsmConfig config, std::shared_ptr<const PageRenderer> renderer,
                         std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {}

incident::Channel JsmNotifier::channel() const { return incident::Channel::Named("jsm"); }

std::string JsmNotifier::StepAlias(const std::string& dedup_key, int step) {
  if (step <= 0) return BoundedKey(dedup_key, kAliasMax);
  std::string suffix = fmt::format("/step-{}", step + 1);
  return BoundedKey(dedup_key, kAliasMax - suffix.size()) + suffix;
}

JsmNotifier::Call JsmNotifier::Create(const incident::PageRequest& r) const {
  PageText t = renderer_->Render(r);
  json responders = json::array();
  std::set<std::string> seen;
  std::string roles;
  for (const auto& target : r.targets) {
    const auto& u = target.person.jsm_username;
    if (u.empty() || !seen.insert(u).second) continue;
    responders.push_back({{"type", "user"}, {"username", u}});
    roles += fmt::format("{}{} ({})", roles.empty() ? "" : ", ",
                         target.person.name.empty() ? target.person.id : target.person.name,
                         target.role);
  }
  json tags = OpsAlertTags(r.sev, t);
  json details = OpsAlertDetails(r, t, /*with_action=*/true);
  std::string message =
      r.step == 0 ? t.summary : fmt::format("[step {}] {}", r.step + 1, t.summary);
  return {"POST",
          kAlertsPath,
          {{"message", TruncateUtf8(message, kMessageMax)},
           {"alias", StepAlias(r.dedup_key, r.step)},
           {"description", TruncateUtf8(Description(t), kDescriptionMax)},
           {"responders", responders},
           {"tags", tags},
           {"details", details},
           {"entity", t.source},
           {"source", "tocsin"},
           {"priority", fmt::format("P{}", static_cast<int>(r.sev))},
           {"note", TruncateUtf8(fmt::format("Step {} of the ladder: {}", r.step + 1,
                                             roles.empty() ? "nobody with a jsm_username" : roles),
                                 kNoteMax)}}};
}

std::vector<JsmNotifier::Call> JsmNotifier::BuildCalls(const OutboxItem& item) const {
  const auto& r = item.request;
  std::string actor = r.actor.empty() ? incident::kSystemActor : r.actor;
  auto by_alias = [&](int step, const char* what) {
    return std::string(kAlertsPath) + "/" + UrlEncode(StepAlias(r.dedup_key, step)) + "/" + what +
           "?identifierType=alias";
  };
  switch (r.action) {
    case PageAction::kTrigger:
      return {Create(r)};
    case PageAction::kAcknowledge:
    case PageAction::kResolve: {
      // Every step alert the ladder opened so far: steps 0 .. next_step-1 (`step` of an ack is
      // the next step, the one that did not page).
      const bool ack = r.action == PageAction::kAcknowledge;
      std::vector<Call> calls;
      const int opened = std::clamp(r.step, 1, kMaxSteps);
      for (int s = 0; s < opened; ++s) {
        calls.push_back({"POST",
                         by_alias(s, ack ? "acknowledge" : "close"),
                         {{"user", actor},
                          {"source", "tocsin"},
                          {"note", ack ? "Acknowledged in tocsin" : "Resolved in tocsin"}}});
      }
      return calls;
    }
    case PageAction::kNote:
    case PageAction::kReminder:
    case PageAction::kStatusUpdate:
    case PageAction::kUpdate:
      return {{"POST",
               by_alias(0, "notes"),
               {{"user", actor},
                {"source", "tocsin"},
                {"note", TruncateUtf8(r.text.empty() ? r.state : r.text, kNoteMax)}}}};
  }
  return {};
}

DeliveryResult JsmNotifier::Deliver(const OutboxItem& item) {
  // An ack or resolve sends one request per step alert; a retry repeats them all, which JSM
  // absorbs (acknowledging an acknowledged alert, or closing a closed one, changes nothing).
  DeliveryResult last = DeliveryResult::Permanent(0, "jsm: nothing to send");
  for (const Call& call : BuildCalls(item)) {
    HttpClientRequest req;
    req.method = call.method;
    req.url = config_.api_url + call.path;
    req.headers = {{"Content-Type", "application/json"},
                   {"Authorization", "GenieKey " + config_.api_key}};
    req.body = DumpJson(call.body);
    last = ClassifyHttp("jsm", http_->Send(req), {501});
    if (!last.ok()) return last;
  }
  return last;
}

std::string JsmNotifier::RateKey(const OutboxItem&) const {
  return fmt::format("key-{:016x}", Fnv1a64(config_.api_key));
}

}  // namespace tocsin::notify
