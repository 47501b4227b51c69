#include "notify/providers/teams/teams_notifier.h"

#include <fmt/format.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

using incident::PageAction;
using incident::Sev;
using nlohmann::json;

namespace {

// Adaptive Card colours: the names Teams themes render (TextBlock `color`, Container `style`).
const char* SevColor(Sev sev) {
  switch (sev) {
    case Sev::kSev1:
    case Sev::kSev2:
      return "Attention";
    case Sev::kSev3:
      return "Warning";
    case Sev::kSev4:
      return "Accent";
  }
  return "Default";
}

const char* SevStyle(Sev sev) {
  switch (sev) {
    case Sev::kSev1:
    case Sev::kSev2:
      return "attention";
    case Sev::kSev3:
      return "warning";
    case Sev::kSev4:
      return "accent";
  }
  return "default";
}

json Text(const std::string& text, json extra = json::object()) {
  json b = {
      {"type", "TextBlock"}, {"text", TruncateUtf8(text, TeamsNotifier::kTextMax)}, {"wrap", true}};
  b.update(extra);
  return b;
}

json Card(json body, json actions) {
  json content = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                  {"type", "AdaptiveCard"},
                  {"version", "1.4"},
                  {"msteams", {{"width", "Full"}}},
                  {"body", std::move(body)}};
  if (!actions.empty()) content["actions"] = std::move(actions);
  return {{"type", "message"},
          {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                        {"contentUrl", nullptr},
                                        {"content", std::move(content)}}})}};
}

}  // namespace

TeamsNotifier::TeamsNotifier(config::TeamsConfig config,
                             std::shared_ptr<const PageRenderer> renderer,
                             std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {}

incident::Channel TeamsNotifier::channel() const { return incident::Channel::Named("teams"); }

json TeamsNotifier::BuildMessage(const OutboxItem& item) const {
  const auto& r = item.request;
  PageText t = renderer_->Render(r);
  json actions = json::array();
  // Teams refuses the whole card (HTTP 400) for a relative Action.OpenUrl.
  auto link = [&](const char* title, const std::string& url) {
    if (IsAbsoluteHttpUrl(url))
      actions.push_back({{"type", "Action.OpenUrl"}, {"title", title}, {"url", url}});
  };
  link("Runbook", t.runbook_url);
  link("Dashboard", t.dashboard_url);
  link("Open in tocsin", t.incident_url);
  if (r.action == PageAction::kAcknowledge || r.action == PageAction::kResolve) {
    const bool ack = r.action == PageAction::kAcknowledge;
    std::string by = r.actor.empty() ? "" : " by " + r.actor;
    std::string head = fmt::format("{} {} {}{}", ack ? "Acknowledged:" : "Resolved:", r.incident_id,
                                   ack ? "acknowledged" : "resolved", by);
    json body = json::array(
        {Text(head, {{"weight", "Bolder"}, {"size", "Medium"}, {"color", ack ? "Accent" : "Good"}}),
         Text(TruncateUtf8(r.title, kTitleMax), {{"isSubtle", true}})});
    return Card(std::move(body), std::move(actions));
  }
  if (r.action != PageAction::kTrigger) {
    json body = json::array({Text(fmt::format("{} update", r.incident_id), {{"weight", "Bolder"}}),
                             Text(r.text.empty() ? r.state : r.text)});
    return Card(std::move(body), std::move(actions));
  }
  json facts = json::array();
  auto fact = [&](const char* title, const std::string& value) {
    if (!value.empty())
      facts.push_back({{"title", title}, {"value", TruncateUtf8(value, kTextMax)}});
  };
  fact("What", t.what);
  fact("Where", t.where);
  fact("How much", t.how_much);
  fact("Action", t.action);
  std::string people;
  for (const auto& target : r.targets) {
    people += fmt::format("{}{} ({})", people.empty() ? "" : ", ",
                          target.person.name.empty() ? target.person.id : target.person.name,
                          target.role);
  }
  fact(r.step == 0 ? "Paged" : "Escalated to", people);
  if (!t.causes.empty()) {
    std::string causes;
    for (const auto& c : t.causes) causes += (causes.empty() ? "" : "; ") + c;
    fact("Possible causes", causes);
  }
  std::string head = r.step == 0 ? r.title : fmt::format("Step {}: {}", r.step + 1, r.title);
  json container = {
      {"type", "Container"},
      {"style", SevStyle(r.sev)},
      {"items",
       json::array({Text(TruncateUtf8(head, kTitleMax),
                         {{"weight", "Bolder"}, {"size", "Large"}, {"color", SevColor(r.sev)}}),
                    Text(t.summary)})}};
  json body = json::array({container, {{"type", "FactSet"}, {"facts", facts}}});
  return Card(std::move(body), std::move(actions));
}

DeliveryResult TeamsNotifier::Deliver(const OutboxItem& item) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.webhook_url;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = DumpJson(BuildMessage(item));
  // The URL is the credential: ClassifyHttp's detail carries the status and body, and the
  // URL is registered with the log redactor when the config is read.
  return ClassifyHttp("teams", http_->Send(req));
}

std::string TeamsNotifier::RateKey(const OutboxItem&) const {
  return fmt::format("url-{:016x}", Fnv1a64(config_.webhook_url));
}

}  // namespace tocsin::notify
