#include "twilio_sim.h"

#include <openssl/evp.h>

#include <regex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "provider_sim.h"
#include "tocsin/common/http_client.h"
#include "tocsin/http/http_types.h"
#include "tocsin/http/signatures.h"

namespace tocsin::sim {

using nlohmann::json;

namespace {

bool IsE164(const std::string& s) {
  static const std::regex kE164(R"(\+[1-9][0-9]{1,14})");
  return std::regex_match(s, kE164);
}

std::string Base64Decode(std::string_view in) {
  std::string out(3 * ((in.size() + 3) / 4) + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock keeps the zero bytes the padding stands for.
  std::size_t pad = 0;
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
  out.resize(out.size() - std::min(pad, out.size()));
  return out;
}

std::string Field(const std::vector<std::pair<std::string, std::string>>& form,
                  std::string_view name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

std::string TwilioError(int code, const std::string& message, int status) {
  return json{{"code", code},
              {"message", message},
              {"more_info", fmt::format("https://www.twilio.com/docs/errors/{}", code)},
              {"status", status}}
      .dump();
}

}  // namespace

TwilioSim::TwilioSim(ProviderSim& sim, boost::asio::io_context& io) : sim_(sim), io_(io) {}

void TwilioSim::Create(const http::Request& req, http::Respond respond, bool call) {
  const char* what = call ? "twilio call" : "twilio sms";
  auto fail = [&](int status, int code, const std::string& message) {
    sim_.Handle(req, respond, status, TwilioError(code, message, status),
                fmt::format("{} {} {}", what, status, message));
  };
  std::string user, password;
  auto auth = req.Header("Authorization").value_or("");
  if (auth.rfind("Basic ", 0) == 0) {
    std::string decoded = Base64Decode(auth.substr(6));
    auto colon = decoded.find(':');
    if (colon != std::string::npos) {
      user = decoded.substr(0, colon);
      password = decoded.substr(colon + 1);
    }
  }
  std::unique_lock lock(mu_);
  if (user != account_sid_ || password != auth_token_ || req.PathParam("sid") != account_sid_) {
    lock.unlock();
    return fail(401, 20003, "Authenticate");
  }
  const std::int64_t now = WallMs();
  std::erase_if(recent_ms_, [now](std::int64_t t) { return t <= now - 1000; });
  if (static_cast<long long>(recent_ms_.size()) >= max_per_second_) {
    lock.unlock();
    return fail(429, 20429, "Too Many Requests");
  }
  recent_ms_.push_back(now);
  const std::string number = number_;
  lock.unlock();
  auto type = req.Header("Content-Type").value_or("");
  if (type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return fail(400, 20001, "Parameters must be form-encoded (application/x-www-form-urlencoded)");
  }
  auto form = http::ParseFormEncoded(req.body);
  const std::string to = Field(form, "To");
  const std::string from = Field(form, "From");
  if (to.empty()) {
    return fail(400, call ? 21201 : 21604,
                call ? "No 'To' number is specified" : "A 'To' phone number is required.");
  }
  if (from.empty()) {
    return fail(400, call ? 21213 : 21603,
                call ? "No 'From' number is specified" : "A 'From' phone number is required.");
  }
  if (!IsE164(to))
    return fail(400, 21211, "The 'To' number " + to + " is not a valid phone number.");
  if (!IsE164(from)) {
    return fail(400, 21212, "The 'From' number " + from + " is not a valid phone number.");
  }
  if (from != number) {
    return fail(400, 21606,
                "The From phone number " + from +
                    " is not a valid, SMS-capable inbound phone "
                    "number or short code for your account.");
  }
  std::string text;
  if (call) {
    text = Field(form, "Twiml");
    if (text.empty()) text = Field(form, "Url");
    if (text.empty()) {
      return fail(400, 21205, "Url parameter is required. Please provide a Url or Twiml.");
    }
    if (CodePoints(Field(form, "Twiml")) > 4000) {
      return fail(400, 32018, "Twiml size exceeded maximum allowed value of 4000 characters");
    }
  } else {
    text = Field(form, "Body");
    if (text.empty()) return fail(400, 21602, "Message body is required.");
    if (CodePoints(text) > 1600) {
      return fail(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    }
  }
  lock.lock();
  std::string sid = fmt::format("{}{:032x}", call ? "CA" : "SM", ++counter_);
  (call ? phones_[to].calls : phones_[to].sms).push_back({sid, from, text, now});
  if (call) calls_[sid] = {to, text};
  lock.unlock();
  json ok = {{"sid", sid},   {"account_sid", account_sid_}, {"to", to},
             {"from", from}, {"status", "queued"},          {"api_version", "2010-04-01"}};
  if (!call) ok["body"] = text;
  sim_.Handle(req, respond, 201, ok.dump(), fmt::format("{} to {} {}", what, to, sid));
}

void TwilioSim::Deliver(std::string url, std::vector<std::pair<std::string, std::string>> form,
                        std::string token, http::Respond respond) {
  HttpClientRequest out;
  out.method = "POST";
  out.url = url;
  out.body = FormEncode(form);
  out.timeout = std::chrono::seconds(10);
  out.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"X-Twilio-Signature", http::TwilioSignature(url, form, token)}};
  sim_.Record({0,
               "SEND",
               "/_sim/twilio",
               "",
               {},
               out.body,
               WallMs(),
               0,
               fmt::format("twilio callback to {}", url)});
  // Off the loop: the target may be slow.
  std::thread([this, out, respond]() {
    CurlHttpClient client;
    auto r = client.Send(out);
    json answer = r ? json{{"status", r->status}, {"body", r->body}}
                    : json{{"status", 0}, {"error", r.error().message()}};
    boost::asio::post(io_,
                      [respond, answer] { respond(http::Response::Json(200, answer.dump())); });
  }).detach();
}

void TwilioSim::Reply(const http::Request& req, http::Respond respond) {
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object() || !j.contains("from") || !j.contains("body")) {
    return respond(http::Response::Json(400, R"({"error":"give from and body"})"));
  }
  std::unique_lock lock(mu_);
  if (sms_url_.empty()) {
    return respond(
        http::Response::Json(400, R"x({"error":"no sms_url set (/_sim/twilio/account)"})x"));
  }
  std::string sid = fmt::format("SM{:032x}", ++counter_);
  if (j.contains("message_sid")) sid = j["message_sid"].get<std::string>();
  // The fields of Twilio's incoming message webhook.
  std::vector<std::pair<std::string, std::string>> form = {{"MessageSid", sid},
                                                           {"SmsSid", sid},
                                                           {"SmsMessageSid", sid},
                                                           {"AccountSid", account_sid_},
                                                           {"From", j["from"].get<std::string>()},
                                                           {"To", number_},
                                                           {"Body", j["body"].get<std::string>()},
                                                           {"NumMedia", "0"},
                                                           {"NumSegments", "1"},
                                                           {"SmsStatus", "received"},
                                                           {"ApiVersion", "2010-04-01"}};
  std::string url = sms_url_, token = auth_token_;
  lock.unlock();
  Deliver(std::move(url), std::move(form), std::move(token), respond);
}

void TwilioSim::Press(const http::Request& req, http::Respond respond) {
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object() || !j.contains("call_sid") || !j.contains("digits")) {
    return respond(http::Response::Json(400, R"({"error":"give call_sid and digits"})"));
  }
  std::unique_lock lock(mu_);
  auto it = calls_.find(j["call_sid"].get<std::string>());
  if (it == calls_.end()) return respond(http::Response::Json(404, R"({"error":"no such call"})"));
  // The action of the call's first <Gather>, as Twilio reads it (XML entities decoded).
  static const std::regex kAction(R"x(<Gather[^>]*\saction="([^"]*)")x");
  std::smatch m;
  if (!std::regex_search(it->second.second, m, kAction)) {
    return respond(
        http::Response::Json(400, R"({"error":"the call's TwiML has no Gather action"})"));
  }
  std::string url = m[1].str();
  static const std::pair<std::string, std::string> kEntities[] = {
      {"&quot;", "\""}, {"&apos;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [entity, c] : kEntities) {
    for (auto p = url.find(entity); p != std::string::npos; p = url.find(entity, p + 1)) {
      url.replace(p, entity.size(), c);
    }
  }
  // The fields of Twilio's Gather action request for a call tocsin placed (outbound-api).
  std::vector<std::pair<std::string, std::string>> form = {
      {"CallSid", it->first},
      {"AccountSid", account_sid_},
      {"From", number_},
      {"To", it->second.first},
      {"Called", it->second.first},
      {"Caller", number_},
      {"CallStatus", "in-progress"},
      {"Direction", "outbound-api"},
      {"ApiVersion", "2010-04-01"},
      {"Digits", j["digits"].get<std::string>()},
      {"FinishedOnKey", ""}};
  std::string token = auth_token_;
  lock.unlock();
  Deliver(std::move(url), std::move(form), std::move(token), respond);
}

void TwilioSim::Register(http::Router& router) {
  router.Add("POST", "/2010-04-01/Accounts/{sid}/Messages.json", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { Create(r, s, false); });
  router.Add("POST", "/2010-04-01/Accounts/{sid}/Calls.json", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { Create(r, s, true); });
  router.Add("POST", "/_sim/twilio/reply", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { Reply(r, s); });
  router.Add("POST", "/_sim/twilio/press", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { Press(r, s); });
  router.AddSync("POST", "/_sim/twilio/account", http::Access::kPublic,
                 [this](const http::Request& r) {
                   json j = json::parse(r.body, nullptr, false);
                   if (!j.is_object()) {
                     return http::Response::Json(400, R"({"error":"body must be a JSON object"})");
                   }
                   std::lock_guard lock(mu_);
                   account_sid_ = j.value("account_sid", account_sid_);
                   auth_token_ = j.value("auth_token", auth_token_);
                   number_ = j.value("number", number_);
                   sms_url_ = j.value("sms_url", sms_url_);
                   max_per_second_ = j.value("max_per_second", max_per_second_);
                   return http::Response::Json(200, R"({"ok":true})");
                 });
  router.AddSync("GET", "/_sim/twilio/phones", http::Access::kPublic, [this](const http::Request&) {
    std::lock_guard lock(mu_);
    json out = json::object();
    for (const auto& [number, phone] : phones_) {
      json sms = json::array(), calls = json::array();
      for (const auto& s : phone.sms) {
        sms.push_back({{"sid", s.sid}, {"from", s.from}, {"body", s.text}, {"time_ms", s.time_ms}});
      }
      for (const auto& c : phone.calls) {
        calls.push_back(
            {{"sid", c.sid}, {"from", c.from}, {"twiml", c.text}, {"time_ms", c.time_ms}});
      }
      out[number] = {{"sms", sms}, {"calls", calls}};
    }
    return http::Response::Json(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
  });
}

}  // namespace tocsin::sim
