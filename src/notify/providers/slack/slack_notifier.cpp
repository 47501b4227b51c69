#include "notify/providers/slack/slack_notifier.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/json.h"
#include "tocsin/common/log.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

using incident::PageAction;
using incident::PageRequest;
using nlohmann::json;

namespace {

json PlainText(const std::string& text, std::size_t max) {
  return {{"type", "plain_text"}, {"text", TruncateUtf8(text, max)}, {"emoji", true}};
}

json Mrkdwn(const std::string& text, std::size_t max) {
  return {{"type", "mrkdwn"}, {"text", TruncateUtf8(text, max)}};
}

json Button(const std::string& text, const std::string& action_id) {
  return {{"type", "button"},
          {"text", PlainText(text, SlackNotifier::kButtonTextMax)},
          {"action_id", action_id}};
}

std::string StateIcon(const PageRequest& r) {
  if (r.state == "resolved") return "✅";
  if (r.state == "acknowledged") return "\U0001F440";  // eyes: someone is on it
  return "\U0001F6A8";                                 // rotating light
}

// How a target is named in Slack: a mention when the roster has their Slack user (it notifies
// them), else their name.
std::string SlackName(const incident::PageTarget& t) {
  if (!t.person.slack_user_id.empty()) return "<@" + t.person.slack_user_id + ">";
  return t.person.name.empty() ? t.person.id : t.person.name;
}

// "incident commander: A (l1)": who an update names as the incident's commander.
std::string CommanderSentence(const std::vector<incident::PageTarget>& targets) {
  if (targets.empty()) return {};
  return fmt::format("incident commander: {} ({})", SlackName(targets.front()),
                     targets.front().role);
}

// What happened to each target of a step, as the outbox decided it: "paging A (l1) via
// pagerduty", "not paged: no channel reaches B (comms)". A request queued before the outbox
// recorded that (no paged_via, not unroutable) can only say "paging A (l1)", as it always did.
std::string StepSentence(const std::vector<incident::PageTarget>& targets) {
  std::vector<std::string> paging;
  std::vector<std::string> not_paged;
  for (const auto& t : targets) {
    std::string who = fmt::format("{} ({})", SlackName(t), t.role);
    if (t.unroutable) {
      not_paged.push_back(who);
    } else if (t.paged_via) {
      paging.push_back(fmt::format("{} via {}", who, incident::ChannelName(*t.paged_via)));
    } else {
      paging.push_back(who);
    }
  }
  std::string out;
  if (!paging.empty()) out = "paging " + fmt::format("{}", fmt::join(paging, ", "));
  if (!not_paged.empty()) {
    out += fmt::format("{}not paged: no channel reaches {}", out.empty() ? "" : "; ",
                       fmt::join(not_paged, ", "));
  }
  return out;
}

// Slack's `ok:false` errors that are worth retrying; the rest mean the request is wrong.
bool TransientSlackError(const std::string& e) {
  return e == "ratelimited" || e == "internal_error" || e == "fatal_error" ||
         e == "service_unavailable" || e == "request_timeout" || e == "team_added_to_org";
}

}  // namespace

SlackNotifier::SlackNotifier(config::SlackConfig config,
                             std::shared_ptr<const PageRenderer> renderer,
                             std::shared_ptr<HttpClient> http, SlackThreadStore& threads)
    : config_(std::move(config)),
      renderer_(std::move(renderer)),
      http_(std::move(http)),
      threads_(threads) {}

std::string SlackNotifier::ChannelFor(const OutboxItem& item) const {
  return item.target.empty() ? config_.channel : item.target;
}

std::string SlackNotifier::RateKey(const OutboxItem& item) const {
  return config_.bot_token.empty() ? "webhook" : ChannelFor(item);
}

json SlackNotifier::BuildBlocks(const PageRequest& r) const {
  PageText t = renderer_->Render(r);
  json blocks = json::array();
  blocks.push_back({{"type", "header"},
                    {"text", PlainText(fmt::format("{} {} {}: {}", StateIcon(r), SevName(r.sev),
                                                   r.incident_id, t.what),
                                       kHeaderMax)}});
  std::string body = "*What:* " + t.what;
  if (!t.where.empty()) body += "\n*Where:* " + t.where;
  if (!t.how_much.empty()) body += "\n*How much:* " + t.how_much;
  if (!t.action.empty()) body += "\n*Action:* " + t.action;
  if (!t.runbook_url.empty())
    body += fmt::format("\n*Runbook:* <{}|{}>", t.runbook_url, t.runbook_name);
  blocks.push_back({{"type", "section"}, {"text", Mrkdwn(body, kSectionMax)}});

  json fields = json::array();
  auto field = [&fields](const std::string& name, const std::string& value) {
    if (value.empty() || fields.size() >= kFieldsMax) return;
    fields.push_back(Mrkdwn("*" + name + "*\n" + value, kFieldMax));
  };
  field("Incident", r.incident_id);
  field("Severity", SevName(r.sev));
  field("State", r.state.empty() ? "triggered" : r.state);
  field("Step", std::to_string(r.step + 1));
  for (const char* l : {"service", "psp", "market", "region"}) {
    if (auto it = t.labels.find(l); it != t.labels.end()) {
      std::string name = l == std::string("psp") ? "PSP" : std::string(l);
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
      field(name, it->second);
    }
  }
  blocks.push_back({{"type", "section"}, {"fields", fields}});

  if (!t.causes.empty()) {
    std::string causes = "*Cause candidates*";
    for (const auto& c : t.causes) causes += "\n• " + c;
    blocks.push_back({{"type", "section"}, {"text", Mrkdwn(causes, kSectionMax)}});
  }
  // An update's target is the incident's new commander (a shift change), told in the thread;
  // nobody is paged by it, so the message does not say "paging".
  std::string paging =
      r.action == PageAction::kUpdate ? CommanderSentence(r.targets) : StepSentence(r.targets);
  if (!paging.empty() || !r.actor.empty()) {
    std::string ctx = paging;
    if (!ctx.empty()) ctx[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(ctx[0])));
    if (!r.actor.empty()) ctx += (ctx.empty() ? "" : " · ") + r.state + " by " + r.actor;
    blocks.push_back({{"type", "context"}, {"elements", json::array({Mrkdwn(ctx, kFieldMax)})}});
  }

  json actions = json::array();
  // Slack refuses the whole message (invalid_blocks) for a button with a relative URL.
  if (IsAbsoluteHttpUrl(t.runbook_url)) {
    json b = Button("Runbook: " + t.runbook_name, "tocsin_runbook");
    b["url"] = t.runbook_url;
    actions.push_back(b);
  }
  if (IsAbsoluteHttpUrl(t.dashboard_url)) {
    json b = Button("Dashboard", "tocsin_dashboard");
    b["url"] = t.dashboard_url;
    actions.push_back(b);
  }
  if (r.state != "resolved") {
    if (r.state != "acknowledged") {
      json ack = Button("Acknowledge", "tocsin_ack");
      ack["value"] = r.incident_id;
      ack["style"] = "primary";
      actions.push_back(ack);
    }
    json resolve = Button("Resolve", "tocsin_resolve");
    resolve["value"] = r.incident_id;
    actions.push_back(resolve);
    json escalate = Button("Escalate", "tocsin_escalate");
    escalate["value"] = r.incident_id;
    escalate["style"] = "danger";
    actions.push_back(escalate);
  }
  if (!actions.empty()) {
    blocks.push_back({{"type", "actions"}, {"block_id", "tocsin_incident"}, {"elements", actions}});
  }
  return blocks;
}

json SlackNotifier::BuildNoticeBlocks(const PageRequest& r) const {
  json blocks = json::array();
  if (r.alerts.empty()) {
    blocks.push_back({{"type", "section"}, {"text", Mrkdwn(r.text, kSectionMax)}});
    return blocks;
  }
  PageText t = renderer_->Render(r);
  blocks.push_back(
      {{"type", "header"},
       {"text", PlainText((r.action == PageAction::kResolve ? "✅ Resolved: " : "⚠️ ") + t.what,
                          kHeaderMax)}});
  blocks.push_back({{"type", "section"}, {"text", Mrkdwn(t.details, kSectionMax)}});
  if (IsAbsoluteHttpUrl(t.runbook_url)) {
    json b = Button("Runbook: " + t.runbook_name, "tocsin_runbook");
    b["url"] = t.runbook_url;
    blocks.push_back({{"type", "actions"}, {"elements", json::array({b})}});
  }
  return blocks;
}

DeliveryResult SlackNotifier::CallApi(const std::string& method, const json& body, json* answer) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.api_url + "/api/" + method;
  req.headers = {{"Content-Type", "application/json; charset=utf-8"},
                 {"Authorization", "Bearer " + config_.bot_token}};
  req.body = DumpJson(body);
  auto response = http_->Send(req);
  DeliveryResult result = ClassifyHttp("slack " + method, response);
  if (!result.ok()) return result;
  try {
    json j = json::parse(response->body);
    if (j.value("ok", false)) {
      if (answer) *answer = std::move(j);
      return result;
    }
    std::string error = j.value("error", "unknown_error");
    std::string detail = log::Redact(fmt::format("slack {}: {}", method, error));
    return TransientSlackError(error) ? DeliveryResult::Retry(result.status, detail)
                                      : DeliveryResult::Permanent(result.status, detail);
  } catch (const json::exception&) {
    return DeliveryResult::Retry(result.status, fmt::format("slack {}: answer is not JSON: {}",
                                                            method, BodyExcerpt(response->body)));
  }
}

DeliveryResult SlackNotifier::PostWebhook(const json& body) {
  if (config_.webhook_url.empty()) {
    return DeliveryResult::Permanent(0, "slack: neither bot_token nor webhook_url is configured");
  }
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.webhook_url;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = DumpJson(body);
  return ClassifyHttp("slack webhook", http_->Send(req));
}

DeliveryResult SlackNotifier::PostIncidentMessage(const OutboxItem& item) {
  const auto& r = item.request;
  json answer;
  std::string fallback = TruncateUtf8(renderer_->Render(r).summary, kSectionMax);
  json body = {{"channel", ChannelFor(item)}, {"text", fallback}, {"blocks", BuildBlocks(r)}};
  DeliveryResult result = CallApi("chat.postMessage", body, &answer);
  if (!result.ok()) return result;
  SlackMessageRef ref{answer.value("channel", ChannelFor(item)), answer.value("ts", "")};
  result.provider_ref = ref.channel + " " + ref.ts;
  if (auto saved = threads_.SaveSlackMessage(r.incident_id, ref); !saved) {
    // The message is out; failing here would post it twice. Updates will post a new one.
    spdlog::error("slack: message of {} posted but not stored: {}", r.incident_id,
                  saved.error().message());
  }
  return result;
}

DeliveryResult SlackNotifier::Deliver(const OutboxItem& item) {
  const auto& r = item.request;
  if (config_.bot_token.empty()) {
    // Incoming webhook only: plain messages, no updates in place.
    if (item.kind == "update") return DeliveryResult::Ok(0, "slack: no bot token, update skipped");
    std::string text =
        item.kind == "notice" && r.alerts.empty() ? r.text : renderer_->Render(r).summary;
    json body = {{"text", TruncateUtf8(text, kSectionMax)}};
    if (item.kind != "thread")
      body["blocks"] = item.kind == "notice" ? BuildNoticeBlocks(r) : BuildBlocks(r);
    return PostWebhook(body);
  }
  if (item.kind == "notice") {
    std::string text = r.alerts.empty() ? r.text : renderer_->Render(r).summary;
    json body = {{"channel", ChannelFor(item)},
                 {"text", TruncateUtf8(text, kSectionMax)},
                 {"blocks", BuildNoticeBlocks(r)}};
    return CallApi("chat.postMessage", body, nullptr);
  }
  auto ref = threads_.FindSlackMessage(r.incident_id);
  if (item.kind == "post" || item.kind == "update") {
    // A post whose message already exists (a restart between Slack's answer and the outbox's
    // write) becomes an update: the channel never sees the page twice.
    if (!ref) return PostIncidentMessage(item);
    json body = {{"channel", ref->channel},
                 {"ts", ref->ts},
                 {"text", TruncateUtf8(renderer_->Render(r).summary, kSectionMax)},
                 {"blocks", BuildBlocks(r)}};
    DeliveryResult updated = CallApi("chat.update", body, nullptr);
    // Someone deleted the message: the incident still needs one, so post it again.
    if (updated.outcome == DeliveryResult::Outcome::kPermanent &&
        updated.detail.find("message_not_found") != std::string::npos) {
      return PostIncidentMessage(item);
    }
    return updated;
  }
  // "thread": the timeline under the incident's message.
  std::string text;
  switch (r.action) {
    case PageAction::kTrigger: {
      std::string what = StepSentence(r.targets);
      text = fmt::format("Step {}: {}", r.step + 1, what.empty() ? "paging nobody new" : what);
      break;
    }
    case PageAction::kAcknowledge:
      text = "Acknowledged by " + (r.actor.empty() ? std::string("someone") : r.actor);
      break;
    case PageAction::kResolve:
      text = "Resolved" + (r.actor.empty() ? std::string() : " by " + r.actor);
      break;
    case PageAction::kReminder:
      text = ":alarm_clock: " + (r.text.empty() ? std::string("Status update due") : r.text);
      break;
    case PageAction::kStatusUpdate:
      text = ":loudspeaker: " + r.text;
      break;
    case PageAction::kUpdate:
      // Addressed to the new commander by name (a mention notifies them).
      text = r.targets.empty() ? r.text : SlackName(r.targets.front()) + ": " + r.text;
      break;
    default:
      text = r.text.empty() ? r.state : r.text;
  }
  if (r.drill && text.rfind(incident::kDrillMark, 0) != 0) {
    text = std::string(incident::kDrillMark) + text;
  }
  json body = {{"channel", ref ? ref->channel : ChannelFor(item)},
               {"text", TruncateUtf8(text, kSectionMax)}};
  if (ref) body["thread_ts"] = ref->ts;
  // A status update is for the whole war room, not only for those who follow the thread.
  if (ref && r.action == PageAction::kStatusUpdate) body["reply_broadcast"] = true;
  return CallApi("chat.postMessage", body, nullptr);
}

}  // namespace tocsin::notify
