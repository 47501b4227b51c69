#include "provider_sim.h"

#include "opsgenie_sim.h"
#include "pagerduty_sim.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "jsm_sim.h"
#include "status_page_sim.h"
#include "teams_sim.h"
#include "tocsin/common/http_client.h"
#include "twilio_sim.h"

namespace tocsin::sim {

using nlohmann::json;

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string Short(std::string s, std::size_t max) {
  if (s.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "…";
  }
  return s;
}

namespace {

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Not tocsin's HmacSha256Hex: the signatures the simulator makes are what tocsin checks, so
// they come from code of their own, which a mistake in tocsin's helper cannot agree with.
std::string Hmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

}  // namespace

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ProviderSim::ProviderSim(boost::asio::io_context& io)
    : io_(io),
      pagerduty_(std::make_shared<PagerDutySim>(*this)),
      opsgenie_(std::make_shared<OpsgenieSim>()) {}

std::string ProviderSim::NewRequestId() {
  std::lock_guard lock(mu_);
  return fmt::format("sim-{:08x}-{:04x}", WallMs() & 0xffffffff, next_id_++ & 0xffff);
}

void ProviderSim::Record(Recorded r) {
  std::lock_guard lock(mu_);
  r.id = next_id_++;
  spdlog::info("{} {} -> {}  {}", r.method, r.path, r.status, r.summary);
  requests_.push_back(std::move(r));
  if (requests_.size() > 100000) requests_.pop_front();
}

std::optional<Fault> ProviderSim::TakeFault(const std::string& path) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (path.rfind(it->path, 0) != 0) continue;
    if (it->skip > 0) {
      --it->skip;
      return std::nullopt;
    }
    Fault f = *it;
    if (it->count > 0 && --it->count == 0) faults_.erase(it);
    return f;
  }
  return std::nullopt;
}

std::vector<Recorded> ProviderSim::Requests(const std::string& prefix) const {
  std::lock_guard lock(mu_);
  std::vector<Recorded> out;
  for (const auto& r : requests_) {
    if (r.path.rfind(prefix, 0) == 0) out.push_back(r);
  }
  return out;
}

// Records the request and answers it, unless a fault for its path says otherwise.
void ProviderSim::Handle(const http::Request& req, http::Respond respond, int status,
                         std::string body, std::string summary, std::string content_type,
                         std::function<void()> on_answered) {
  Recorded r;
  r.method = req.method;
  r.path = req.path;
  auto q = req.target.find('?');
  if (q != std::string::npos) r.query = req.target.substr(q + 1);
  for (const auto& [k, v] : req.headers) r.headers[k] = v;
  r.body = req.body;
  r.time_ms = WallMs();
  http::Response res;
  res.status = status;
  res.content_type = content_type;
  res.body = std::move(body);
  long long latency = 0;
  bool drop = false;
  if (auto f = TakeFault(req.path)) {
    latency = f->latency_ms;
    drop = f->drop;
    if (f->status != 0) {
      res.status = f->status;
      res.body = f->body.empty() ? fmt::format("{{\"message\":\"injected fault {}\"}}", f->status)
                                 : f->body;
      res.content_type = "application/json";
      summary = "FAULT " + std::to_string(f->status) + " (" + summary + ")";
    }
    if (!f->retry_after.empty()) res.headers["Retry-After"] = f->retry_after;
    if (drop) summary = "FAULT drop (" + summary + ")";
  }
  r.status = drop ? 0 : res.status;
  r.summary = summary;
  bool faulted = r.status != status;
  Record(std::move(r));
  if (drop) return;  // never answered: the client times out
  if (on_answered && !faulted) on_answered();
  if (latency <= 0) return respond(std::move(res));
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(latency));
  timer->async_wait([timer, respond, res = std::move(res)](
                        const boost::system::error_code&) mutable { respond(std::move(res)); });
}

void ProviderSim::PagerDuty(const http::Request& req, http::Respond respond) {
  std::vector<std::string> errors;
  json j;
  std::string action, dedup, summary;
  if (req.body.size() > 512 * 1024) errors.push_back("Event object is larger than 512 KB");
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    errors.push_back("Malformed JSON");
  }
  if (errors.empty() && !j.is_object()) errors.push_back("Event must be an object");
  if (errors.empty()) {
    auto rk = j.value("routing_key", "");
    if (rk.size() != 32) errors.push_back("'routing_key' must be 32 characters");
    action = j.value("event_action", "");
    if (action != "trigger" && action != "acknowledge" && action != "resolve") {
      errors.push_back("'event_action' is invalid (must be trigger, acknowledge or resolve)");
    }
    dedup = j.value("dedup_key", "");
    if (dedup.size() > 255) errors.push_back("'dedup_key' is longer than 255");
    if (action != "trigger" && dedup.empty()) errors.push_back("'dedup_key' is required");
    if (action == "trigger") {
      if (!j.contains("payload") || !j["payload"].is_object()) {
        errors.push_back("'payload' is missing or not an object");
      } else {
        const auto& p = j["payload"];
        summary = p.value("summary", "");
        if (summary.empty()) errors.push_back("'payload.summary' is missing");
        if (!ValidUtf8(summary)) errors.push_back("'payload.summary' is not valid UTF-8");
        if (CodePoints(summary) > 1024) errors.push_back("'payload.summary' is longer than 1024");
        if (p.value("source", "").empty()) errors.push_back("'payload.source' is missing");
        std::string sev = p.value("severity", "");
        if (sev != "critical" && sev != "error" && sev != "warning" && sev != "info") {
          errors.push_back("'payload.severity' is invalid");
        }
      }
      if (j.contains("links")) {
        for (const auto& l : j["links"]) {
          if (!l.contains("href")) errors.push_back("'links[].href' is missing");
        }
      }
    }
  }
  if (!errors.empty()) {
    json e = {{"status", "invalid"}, {"message", "Event object is invalid"}, {"errors", errors}};
    return Handle(req, respond, 400, e.dump(), "pagerduty INVALID: " + errors.front());
  }
  if (dedup.empty()) dedup = NewRequestId();
  json ok = {{"status", "success"}, {"message", "Event processed"}, {"dedup_key", dedup}};
  Handle(req, respond, 202, ok.dump(),
         fmt::format("pagerduty {} dedup={} {}", action, dedup,
                     summary.empty() ? "" : "\"" + Short(summary) + "\""),
         "application/json", [this, j, dedup] { pagerduty_->OnEvent(j, dedup); });
}

void ProviderSim::SendWebhook(const http::Request& req, http::Respond respond) {
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    return respond(http::Response::Json(400, R"({"error":"body must be JSON"})"));
  }
  std::string url = j.value("url", "");
  std::string kind = j.value("kind", "pagerduty");
  std::string secret = j.value("secret", "");
  std::string body = j.contains("body")
                         ? (j["body"].is_string() ? j["body"].get<std::string>() : j["body"].dump())
                         : "{}";
  if (url.empty()) return respond(http::Response::Json(400, R"({"error":"url is required"})"));
  HttpClientRequest out;
  out.method = "POST";
  out.url = url;
  out.body = body;
  out.timeout = std::chrono::seconds(10);
  if (kind == "slack") {
    // Interactivity payloads are form-encoded: payload=<json>.
    out.body = FormEncode({{"payload", body}});
    std::string ts =
        j.contains("timestamp") ? j["timestamp"].dump() : std::to_string(WallMs() / 1000);
    if (!ts.empty() && ts.front() == '"') ts = ts.substr(1, ts.size() - 2);
    out.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"X-Slack-Request-Timestamp", ts},
                   {"X-Slack-Signature", "v0=" + Hmac(secret, "v0:" + ts + ":" + out.body)}};
  } else if (kind == "opsgenie") {
    out.headers = {{"Content-Type", "application/json"}};
    if (!secret.empty()) out.headers.emplace_back("Authorization", "Basic " + secret);
  } else {
    out.headers = {{"Content-Type", "application/json"},
                   {"X-Webhook-Id", j.value("webhook_id", NewRequestId())},
                   {"X-PagerDuty-Signature", "v1=" + Hmac(secret, body)}};
  }
  if (j.contains("headers")) {
    for (const auto& [k, v] : j["headers"].items())
      out.headers.emplace_back(k, v.get<std::string>());
  }
  Record({0,
          "SEND",
          "/_sim/send-webhook",
          "",
          {},
          out.body,
          WallMs(),
          0,
          fmt::format("sending {} webhook to {}", kind, url)});
  // Off the loop: the target may be slow, or may even be this simulator.
  std::thread([this, out, respond]() {
    CurlHttpClient client;
    auto r = client.Send(out);
    json answer = r ? json{{"status", r->status}, {"body", r->body}}
                    : json{{"status", 0}, {"error", r.error().message()}};
    boost::asio::post(io_,
                      [respond, answer] { respond(http::Response::Json(200, answer.dump())); });
  }).detach();
}

std::shared_ptr<http::Router> ProviderSim::BuildRouter() {
  auto router = std::make_shared<http::Router>();
  router->Add("POST", "/v2/enqueue", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { PagerDuty(r, s); });
  router->Add("POST", "/v2/alerts", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { OpsgenieCreate(r, s); });
  router->Add("GET", "/v2/alerts/requests/{id}", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { OpsgenieRequestStatus(r, s); });
  router->Add("POST", "/v2/alerts/{rest...}", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { OpsgenieAction(r, s); });
  router->Add("GET", "/v2/heartbeats/{name}/ping", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { OpsgenieHeartbeat(r, s); });
  router->Add("POST", "/api/chat.postMessage", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { SlackApi(r, s, false); });
  router->Add("POST", "/api/chat.update", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { SlackApi(r, s, true); });
  router->Add("POST", "/services/{rest...}", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { SlackWebhook(r, s); });
  router->Add("POST", "/slack/response/{rest...}", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) {
                Handle(r, s, 200, "ok", "slack response_url", "text/plain");
              });
  router->Add("POST", "/webhook/{rest...}", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) {
                std::string sig = r.Header("X-Tocsin-Signature").value_or("unsigned");
                Handle(r, s, 200, R"({"ok":true})", "webhook " + Short(sig, 20));
              });
  pagerduty_->AddRoutes(*router);
  opsgenie_->AddRoutes(*router);
  twilio_ = std::make_shared<TwilioSim>(*this, io_);
  twilio_->Register(*router);
  RegisterJsm(*this, *router);
  RegisterTeams(*this, *router);
  RegisterStatusPage(*this, *router);
  router->Add("POST", "/_sim/send-webhook", http::Access::kPublic,
              [this](const http::Request& r, http::Respond s) { SendWebhook(r, s); });
  router->AddSync("GET", "/_sim/requests", http::Access::kPublic, [this](const http::Request& r) {
    json out = json::array();
    for (const auto& x : Requests(r.Query("path").value_or("/"))) {
      out.push_back({{"id", x.id},
                     {"method", x.method},
                     {"path", x.path},
                     {"query", x.query},
                     {"headers", x.headers},
                     {"body", x.body},
                     {"time_ms", x.time_ms},
                     {"status", x.status},
                     {"summary", x.summary}});
    }
    return http::Response::Json(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
  });
  router->AddSync("DELETE", "/_sim/requests", http::Access::kPublic, [this](const http::Request&) {
    std::lock_guard lock(mu_);
    requests_.clear();
    return http::Response::Json(200, R"({"cleared":true})");
  });
  router->AddSync("POST", "/_sim/faults", http::Access::kPublic, [this](const http::Request& r) {
    try {
      json j = json::parse(r.body);
      Fault f;
      f.path = j.at("path").get<std::string>();
      f.status = j.value("status", 0);
      f.retry_after = j.contains("retry_after")
                          ? (j["retry_after"].is_string() ? j["retry_after"].get<std::string>()
                                                          : j["retry_after"].dump())
                          : "";
      f.body = j.value("body", "");
      f.latency_ms = j.value("latency_ms", 0LL);
      f.drop = j.value("drop", false);
      f.count = j.value("count", 1LL);
      f.skip = j.value("skip", 0LL);
      spdlog::info("fault armed: {} x{} status={} retry_after={} latency={}ms drop={}", f.path,
                   f.count, f.status, f.retry_after, f.latency_ms, f.drop);
      std::lock_guard lock(mu_);
      faults_.push_back(f);
      return http::Response::Json(200, R"({"armed":true})");
    } catch (const json::exception& e) {
      return http::Response::Json(400, json{{"error", e.what()}}.dump());
    }
  });
  router->AddSync("DELETE", "/_sim/faults", http::Access::kPublic, [this](const http::Request&) {
    std::lock_guard lock(mu_);
    faults_.clear();
    return http::Response::Json(200, R"({"cleared":true})");
  });
  return router;
}

}  // namespace tocsin::sim
