#include "tocsin/api/twilio_inbound.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "provider_webhooks.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/text.h"
#include "tocsin/common/xml.h"
#include "tocsin/http/http_types.h"
#include "tocsin/http/signatures.h"
#include "tocsin/oncall/phone.h"

namespace tocsin::http {

namespace {

using Form = std::vector<std::pair<std::string, std::string>>;

std::string Field(const Form& form, std::string_view name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

Response Twiml(int status, const std::string& inner) {
  Response r;
  r.status = status;
  r.content_type = "text/xml; charset=utf-8";
  r.body = R"(<?xml version="1.0" encoding="UTF-8"?><Response>)" + inner + "</Response>";
  return r;
}

Response Message(int status, const std::string& text) {
  return Twiml(status, "<Message>" + XmlEscape(text) + "</Message>");
}

// The n of "INC-n" (0 for another form), to order incidents newest first.
long long IncidentNumber(std::string_view id) {
  auto dash = id.rfind('-');
  long long n = 0;
  if (dash == std::string_view::npos) return 0;
  for (char c : id.substr(dash + 1)) {
    if (c < '0' || c > '9' || n > 1'000'000'000'000LL) return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

Response Say(int status, const std::string& text) {
  return Twiml(status, "<Say>" + XmlEscape(text) + "</Say>");
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '.' || c == '!') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string Verb(IncidentAction a) {
  return a == IncidentAction::kAcknowledge ? "acknowledged" : "resolved";
}

}  // namespace

struct TwilioInbound::Impl {
  static TwilioInboundConfig Normalized(TwilioInboundConfig c) {
    while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
    return c;
  }

  Impl(TwilioInboundConfig c, IncidentCommands& i, PersonDirectory& p,
       prometheus::Registry& registry)
      : config(Normalized(std::move(c))),
        incidents(i),
        people(p),
        requests(prometheus::BuildCounter()
                     .Name("tocsin_twilio_inbound_requests_total")
                     .Help("Twilio callbacks (SMS replies, keypresses), by endpoint and outcome.")
                     .Register(registry)) {}

  void Count(const char* endpoint, const std::string& outcome) {
    requests.Add({{"endpoint", endpoint}, {"outcome", outcome}}).Increment();
  }

  // Before the body (Router::Screen) and again in Check: configured, the signature field there.
  std::optional<Response> Screen(const Request& req, const char* endpoint) {
    if (config.auth_token.empty()) {
      Count(endpoint, "not_configured");
      return Response::Text(404, "Twilio is not configured (providers.twilio)\n");
    }
    if (auto shape = ScreenTwilioHeader(req.Header("X-Twilio-Signature").value_or(""));
        shape != SignatureCheck::kOk) {
      return Refuse(endpoint, shape, req, "");
    }
    return std::nullopt;
  }

  // Counted each time, logged once per endpoint and reason every 10 s, with the URL checked
  // against: a wrong providers.twilio.public_url is the usual cause.
  Response Refuse(const char* endpoint, SignatureCheck check, const Request& req,
                  const std::string& url) {
    return refusals.Refuse(endpoint, check, req,
                           url.empty() ? std::string() : "(checked against " + url + ")");
  }

  // The signature and the account; the refusal to send when they do not hold.
  std::optional<Response> Check(const Request& req, const Form& form, const char* endpoint) {
    if (auto refused = Screen(req, endpoint)) return refused;
    std::string url = config.public_url + req.target;
    auto check = VerifyTwilioSignature(req.Header("X-Twilio-Signature").value_or(""), url, form,
                                       config.auth_token);
    if (check != SignatureCheck::kOk) {
      return Refuse(endpoint, check, req, url);
    }
    if (!ConstantTimeEquals(Field(form, "AccountSid"), config.account_sid)) {
      Count(endpoint, "other account");
      spdlog::warn("twilio: refused {}: signed for another account than account_sid", req.path);
      return Response::Text(403, "AccountSid is not this tocsin's account\n");
    }
    return std::nullopt;
  }

  // Acts and answers through `reply` (SMS: <Message>; voice: <Say>).
  void Act(const char* endpoint, const std::string& incident, IncidentAction action,
           const oncall::Person& person, DeliveryKey key, Respond respond,
           Response (*reply)(int, const std::string&)) {
    ActionRequest r{incident, action, person.id, ActionOrigin::kTwilio, "", key};
    incidents.ActAsync(r, [this, endpoint, r, respond, reply](Result<ActionOutcome> out) {
      if (!out) {
        const auto kind = out.error().kind();
        if (kind == Error::Kind::kNotFound) {
          Count(endpoint, "unknown_incident");
          return respond(reply(200, "No incident " + r.incident_ref + "; nothing was done."));
        }
        if (kind == Error::Kind::kUnauthorized || kind == Error::Kind::kInvalid) {
          Count(endpoint, "refused");
          return respond(reply(200, out.error().message()));
        }
        Count(endpoint, "failed");
        spdlog::error("twilio: {} of {} by {} failed, asking for a retry: {}",
                      IncidentActionName(r.action), r.incident_ref, r.actor, out.error().message());
        // Not recorded as handled: Twilio's retry (or the person sending again) acts.
        return respond(reply(503, "tocsin could not record this for " + r.incident_ref +
                                      "; nothing was changed. Try again."));
      }
      if (out->duplicate) {
        Count(endpoint, "duplicate");
        return respond(reply(200, "Already handled; nothing was done again."));
      }
      if (!out->changed) {
        Count(endpoint, "unchanged");
        return respond(reply(200, out->incident_id + " was already " + out->state + "."));
      }
      Count(endpoint, "acted");
      spdlog::info("twilio: {} {} by {}", out->incident_id, out->state, r.actor);
      respond(reply(200, out->incident_id + " " + Verb(r.action) + " by you: " + out->title));
    });
  }

  void HandleSms(const Request& req, Respond respond) {
    Form form = ParseFormEncoded(req.body);
    if (auto refused = Check(req, form, "sms")) return respond(*refused);
    const std::string sid = Field(form, "MessageSid");
    const std::string from = Field(form, "From");
    if (sid.empty() || from.empty()) {
      Count("sms", "malformed");
      return respond(Response::Text(400, "missing form field MessageSid or From\n"));
    }
    auto person = people.ByPhone(oncall::PhoneE164(from));
    if (!person) {
      Count("sms", "unknown_number");
      return respond(Message(200,
                             "This number is not in the tocsin roster, so tocsin cannot act for "
                             "you; nothing was done."));
    }
    auto words = Words(Field(form, "Body"));
    std::optional<IncidentAction> action;
    if (!words.empty()) {
      const std::string& w = words[0];
      if (w == "1" || w == "ack" || w == "acknowledge") action = IncidentAction::kAcknowledge;
      if (w == "resolve") action = IncidentAction::kResolve;
    }
    if (!action || words.size() > 2) {
      Count("sms", "help");
      return respond(Message(200,
                             "Reply 1 or ACK to acknowledge, RESOLVE to resolve; add the "
                             "incident (ACK INC-42) when several are open."));
    }
    std::string incident;
    if (words.size() == 2) {
      incident = AsciiUpper(words[1]);
    } else {
      // The page this answers: the one open incident that paged this person. An acknowledge
      // answers a page still waiting for one, so incidents already acknowledged do not count
      // while one is triggered (counted, "1" after a second page named the acknowledged
      // incident and acknowledged nothing, and the new one escalated on).
      std::vector<IncidentBrief> mine;
      for (auto& i : incidents.OpenIncidents()) {
        if (std::find(i.paged.begin(), i.paged.end(), person->id) != i.paged.end()) {
          mine.push_back(std::move(i));
        }
      }
      if (*action == IncidentAction::kAcknowledge &&
          std::any_of(mine.begin(), mine.end(),
                      [](const IncidentBrief& i) { return i.state == "triggered"; })) {
        std::erase_if(mine, [](const IncidentBrief& i) { return i.state != "triggered"; });
      }
      if (mine.empty()) {
        Count("sms", "no_incident");
        return respond(Message(200, "No open incident paged you; nothing was done."));
      }
      if (mine.size() > 1) {
        Count("sms", "ambiguous");
        // Newest first: the page just received is the likeliest one meant.
        std::sort(mine.begin(), mine.end(), [](const IncidentBrief& a, const IncidentBrief& b) {
          return IncidentNumber(a.id) > IncidentNumber(b.id);
        });
        std::string list;
        for (const auto& i : mine) list += (list.empty() ? "" : ", ") + i.id;
        const std::string& newest = mine.front().id;
        return respond(Message(
            200, "Several open incidents paged you (" + list + "); nothing was done. Reply " +
                     (*action == IncidentAction::kAcknowledge ? "ACK " : "RESOLVE ") + newest +
                     " (the newest) or name another."));
      }
      incident = mine.front().id;
    }
    Act("sms", incident, *action, *person, {"twilio", sid}, respond, &Message);
  }

  void HandleVoice(const Request& req, Respond respond) {
    Form form = ParseFormEncoded(req.body);
    if (auto refused = Check(req, form, "voice")) return respond(*refused);
    const std::string call = Field(form, "CallSid");
    const std::string incident = req.Query("incident").value_or("");
    if (call.empty() || incident.empty()) {
      Count("voice", "malformed");
      return respond(Response::Text(400, "missing CallSid or ?incident=\n"));
    }
    // tocsin placed the call: the person is the number it called.
    auto person = people.ByPhone(oncall::PhoneE164(Field(form, "To")));
    if (!person) {
      Count("voice", "unknown_number");
      return respond(Say(200, "This number is not in the tocsin roster. Nothing was done."));
    }
    const std::string digits = Field(form, "Digits");
    if (digits != "1" && digits != "9") {
      Count("voice", "help");
      const std::string again = config.public_url + req.target;
      return respond(Twiml(
          200, R"(<Gather numDigits="1" timeout="8" method="POST" action=")" + XmlEscape(again) +
                   R"("><Say>Press 1 to acknowledge. Press 9 to resolve.</Say></Gather>)"
                   "<Say>Nothing was done. Goodbye.</Say>"));
    }
    const IncidentAction action =
        digits == "1" ? IncidentAction::kAcknowledge : IncidentAction::kResolve;
    Act("voice", incident, action, *person, {"twilio", call + "/" + digits}, respond, &Say);
  }

  TwilioInboundConfig config;
  IncidentCommands& incidents;
  PersonDirectory& people;
  prometheus::Family<prometheus::Counter>& requests;
  SignatureRefusals refusals{requests, "twilio "};
};

TwilioInbound::TwilioInbound(TwilioInboundConfig config, IncidentCommands& incidents,
                             PersonDirectory& people, prometheus::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(config), incidents, people, registry)) {}

TwilioInbound::~TwilioInbound() = default;

void TwilioInbound::SetConfig(TwilioInboundConfig config) {
  impl_->config = Impl::Normalized(std::move(config));
}

void TwilioInbound::Register(Router& router) {
  Impl* impl = impl_.get();
  // Public at the API guard, signed in the handler (X-Twilio-Signature) before anything acts.
  // Each screen answers before the body is read when the header fields cannot pass.
  router.AddSigned(
      "POST", "/webhooks/twilio/sms", [impl](const Request& r) { return impl->Screen(r, "sms"); },
      [impl](const Request& r, Respond respond) { impl->HandleSms(r, respond); });
  router.AddSigned(
      "POST", "/webhooks/twilio/voice",
      [impl](const Request& r) { return impl->Screen(r, "voice"); },
      [impl](const Request& r, Respond respond) { impl->HandleVoice(r, respond); });
}

}  // namespace tocsin::http
