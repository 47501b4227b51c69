#include "notify/providers/twilio/twilio_notifier.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "notify/provider_common.h"
#include "notify/retrier.h"
#include "tocsin/common/labels.h"
#include "tocsin/common/text.h"
#include "tocsin/common/xml.h"
#include "tocsin/oncall/phone.h"

namespace tocsin::notify {

namespace {

bool IsLastResort(const OutboxItem& item) { return item.kind == "last_resort"; }

// "INC-42" read as "I N C 42" would be noise; speech engines read "incident 42" well.
std::string SpokenIncident(const std::string& id) {
  auto dash = id.rfind('-');
  return dash == std::string::npos ? id : "incident " + id.substr(dash + 1);
}

std::string Sentence(std::string_view label, const std::string& text, std::size_t max) {
  if (text.empty()) return {};
  return fmt::format("{}: {}. ", label, TruncateUtf8(text, max));
}

}  // namespace

TwilioNotifier::TwilioNotifier(config::TwilioConfig config,
                               std::shared_ptr<const PageRenderer> renderer,
                               std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), renderer_(std::move(renderer)), http_(std::move(http)) {
  while (!config_.public_url.empty() && config_.public_url.back() == '/') {
    config_.public_url.pop_back();
  }
  while (!config_.api_url.empty() && config_.api_url.back() == '/') config_.api_url.pop_back();
}

std::string TwilioNotifier::SmsBody(const OutboxItem& item) const {
  const auto& r = item.request;
  PageText t = renderer_->Render(r);
  std::string head = fmt::format("[tocsin] {} {}", SevName(r.sev), r.incident_id);
  if (IsLastResort(item)) head += " (PagerDuty and Opsgenie are down: tocsin pages you directly)";
  std::string body = head + "\n";
  if (t.sentence) {
    body += t.what + "\n";
  } else {
    if (!t.what.empty()) body += "What: " + t.what + "\n";
    if (!t.where.empty()) body += "Where: " + t.where + "\n";
    if (!t.how_much.empty()) body += "How much: " + t.how_much + "\n";
  }
  if (!t.action.empty()) body += "Action: " + t.action + "\n";
  if (!t.runbook_url.empty()) body += "Runbook: " + t.runbook_url + "\n";
  // The answer is what matters most at 3 a.m.: it goes last but is never cut.
  std::string answer =
      fmt::format("Reply 1 or ACK to acknowledge, RESOLVE to resolve (ACK {} if several are open).",
                  r.incident_id);
  std::size_t room = kSmsMax - std::min(kSmsMax, CodePoints(answer) + 1);
  return TruncateUtf8(body, room) + answer;
}

std::string TwilioNotifier::CallTwiml(const OutboxItem& item) const {
  const auto& r = item.request;
  PageText t = renderer_->Render(r);
  const std::string action_url =
      config_.public_url + kVoicePath + "?incident=" + UrlEncode(r.incident_id);
  // Each field is bounded so that the document (the message is spoken twice) stays under
  // Twilio's 4000 characters; text that escaping makes longer halves the bounds until it fits.
  for (std::size_t scale = 4;; scale /= 2) {
    std::string spoken;
    if (IsLastResort(item)) {
      spoken += "PagerDuty and Opsgenie are not answering, so tocsin is calling you directly. ";
    }
    spoken += fmt::format("This is tocsin. Severity {}, {}. ", static_cast<int>(r.sev),
                          SpokenIncident(TruncateUtf8(r.incident_id, 40)));
    if (t.sentence) {
      spoken += Sentence("What", t.what, 100 * scale);
    } else {
      spoken += Sentence("What", t.what, 75 * scale);
      spoken += Sentence("Where", t.where, 50 * scale);
      spoken += Sentence("How much", t.how_much, 50 * scale);
    }
    spoken += Sentence("Action", t.action, 75 * scale);
    const std::string gather =
        fmt::format(R"(<Gather numDigits="1" timeout="8" method="POST" action="{}"><Say>{}</Say>)"
                    R"(<Say>Press 1 to acknowledge. Press 9 to resolve.</Say></Gather>)",
                    XmlEscape(action_url), XmlEscape(spoken));
    std::string twiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response>)" + gather + gather +
                        "<Say>No key was pressed; the incident is not acknowledged. "
                        "Goodbye.</Say></Response>";
    if (CodePoints(twiml) <= kTwimlMax || scale == 0) return twiml;
  }
}

DeliveryResult TwilioNotifier::Post(const std::string& resource, const std::string& to,
                                    std::vector<std::pair<std::string, std::string>> fields) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = fmt::format("{}/2010-04-01/Accounts/{}/{}.json", config_.api_url,
                        UrlEncode(config_.account_sid), resource);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.basic_user = config_.account_sid;
  req.basic_password = config_.auth_token;
  fields.insert(fields.begin(), {{"To", to}, {"From", config_.from}});
  req.body = FormEncode(fields);
  auto answer = http_->Send(req);
  DeliveryResult result = ClassifyHttp("twilio", answer);
  if (result.ok() && answer) {
    // The message or call SID, so the timeline can name what Twilio accepted.
    auto j = nlohmann::json::parse(answer->body, nullptr, false);
    if (j.is_object() && j.contains("sid") && j["sid"].is_string()) {
      result.provider_ref = j["sid"].get<std::string>();
    }
  }
  return result;
}

DeliveryResult TwilioNotifier::Deliver(const OutboxItem& item) {
  const std::string to = oncall::PhoneE164(item.target);
  if (to.empty()) {
    return DeliveryResult::Permanent(
        0, fmt::format("twilio: the roster's phone of {} is not an international number such as "
                       "+380501110001; fix `phone` in the roster",
                       item.person_id.empty() ? std::string("this person") : item.person_id));
  }
  if (item.kind == "sms") return Post("Messages", to, {{"Body", SmsBody(item)}});
  if (item.kind == "call" || IsLastResort(item)) {
    return Post("Calls", to, {{"Twiml", CallTwiml(item)}});
  }
  return DeliveryResult::Permanent(0, "twilio: unknown delivery kind \"" + item.kind + "\"");
}

std::string TwilioNotifier::RateKey(const OutboxItem& item) const {
  // Per recipient number; a number is personal, so the bucket is named by its hash.
  return fmt::format("to-{:016x}", Fnv1a64(oncall::PhoneE164(item.target)));
}

}  // namespace tocsin::notify
