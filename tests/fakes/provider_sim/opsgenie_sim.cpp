// Opsgenie in the simulator: the alert model (OpsgenieSim: responders, who was notified) and
// the HTTP API that drives it (ProviderSim's create, actions, request status, heartbeat).
#include "opsgenie_sim.h"

#include "provider_sim.h"

#include <chrono>

#include <fmt/format.h>

namespace tocsin::sim {

using nlohmann::json;

void OpsgenieSim::Notify(Alert& a, const std::string& alias, const json& responder,
                         const std::string& how) {
  if (responder.value("type", "") != "user") return;  // teams and schedules: not simulated
  std::string user = responder.value("username", responder.value("id", ""));
  if (!users_.empty() && !users_.count(user)) {
    failed_.push_back({{"username", user}, {"alias", alias}, {"error", "User not found"}});
    return;
  }
  if (!a.responders.insert(user).second) return;  // already a responder: not notified again
  pages_.push_back({{"username", user}, {"alias", alias}, {"how", how}, {"time_ms", WallMs()}});
}

void OpsgenieSim::OnCreate(const json& body) {
  std::lock_guard lock(mu_);
  std::string alias = body.value("alias", "");
  auto it = alerts_.find(alias);
  if (!alias.empty() && it != alerts_.end() && it->second.open) {
    ++it->second.count;  // deduplicated: Opsgenie notifies nobody new
    return;
  }
  Alert& a = alerts_[alias];
  a = Alert{};
  for (const auto& r : body.value("responders", json::array())) Notify(a, alias, r, "create");
}

void OpsgenieSim::OnAction(const std::string& action, const std::string& alias, const json& body) {
  std::lock_guard lock(mu_);
  auto it = alerts_.find(alias);
  if (it == alerts_.end() || !it->second.open) {
    failed_.push_back({{"alias", alias}, {"action", action}, {"error", "Alert not found"}});
    return;
  }
  Alert& a = it->second;
  if (action == "acknowledge") a.status = "acked";
  if (action == "close") {
    a.status = "closed";
    a.open = false;
  }
  if (action == "responders" && body.contains("responder")) {
    Notify(a, alias, body["responder"], "add_responder");
  }
}

void OpsgenieSim::AddRoutes(http::Router& router) {
  router.AddSync(
      "POST", "/_sim/opsgenie/account", http::Access::kPublic, [this](const http::Request& r) {
        json j = json::parse(r.body, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("users") || !j["users"].is_array()) {
          return http::Response::Json(400, R"({"error":"expected {\"users\":[...]}"})");
        }
        std::lock_guard lock(mu_);
        users_.clear();
        for (const auto& u : j["users"]) {
          if (u.is_string()) users_.insert(u.get<std::string>());
        }
        return http::Response::Json(200, R"({"configured":true})");
      });
  router.AddSync(
      "GET", "/_sim/opsgenie/pages", http::Access::kPublic, [this](const http::Request&) {
        std::lock_guard lock(mu_);
        json alerts = json::object();
        for (const auto& [alias, a] : alerts_) alerts[alias] = a.status;
        return http::Response::Json(
            200, json{{"pages", pages_}, {"failed", failed_}, {"alerts", alerts}}.dump());
      });
}

void ProviderSim::OpsgenieCreate(const http::Request& req, http::Respond respond) {
  auto auth = req.Header("Authorization").value_or("");
  if (auth.rfind("GenieKey ", 0) != 0 || auth.size() <= 9) {
    return Handle(req, respond, 401, R"({"message":"Could not authenticate","took":0.0})",
                  "opsgenie create UNAUTHORIZED");
  }
  std::string error;
  json j;
  try {
    j = json::parse(req.body);
    std::string message = j.value("message", "");
    if (message.empty())
      error = "Message can not be empty.";
    else if (CodePoints(message) > 130)
      error = "Message can not be longer than 130 characters.";
    else if (j.value("alias", "").size() > 512)
      error = "Alias can not be longer than 512.";
    else if (CodePoints(j.value("description", "")) > 15000)
      error = "Description too long.";
    if (j.contains("tags")) {
      if (j["tags"].size() > 20) error = "Tags can not be more than 20.";
      for (const auto& t : j["tags"]) {
        if (CodePoints(t.get<std::string>()) > 50) error = "Tag can not be longer than 50.";
      }
    }
    if (j.contains("priority")) {
      std::string p = j["priority"];
      if (p.size() != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '5') error = "Priority invalid.";
    }
    if (j.contains("responders")) {
      for (const auto& r : j["responders"]) {
        std::string type = r.value("type", "");
        if (type != "team" && type != "user" && type != "escalation" && type != "schedule") {
          error = "Responder type invalid.";
        }
      }
    }
  } catch (const json::exception&) {
    error = "Could not parse the request body.";
  }
  if (!error.empty()) {
    json e = {{"message", error}, {"took", 0.001}, {"requestId", NewRequestId()}};
    return Handle(req, respond, 422, e.dump(), "opsgenie create INVALID: " + error);
  }
  std::string id = NewRequestId();
  {
    std::lock_guard lock(mu_);
    og_requests_[id] = {"Create", j.value("alias", "")};
  }
  json ok = {{"result", "Request will be processed"}, {"took", 0.01}, {"requestId", id}};
  Handle(req, respond, 202, ok.dump(),
         fmt::format("opsgenie create alias={} {} \"{}\"", j.value("alias", ""),
                     j.value("priority", "P3"), Short(j.value("message", ""))),
         "application/json", [this, j] { opsgenie_->OnCreate(j); });
}

void ProviderSim::OpsgenieAction(const http::Request& req, http::Respond respond) {
  auto auth = req.Header("Authorization").value_or("");
  if (auth.rfind("GenieKey ", 0) != 0 || auth.size() <= 9) {
    return Handle(req, respond, 401, R"({"message":"Could not authenticate","took":0.0})",
                  "opsgenie action UNAUTHORIZED");
  }
  // From the raw target: an alias may hold an encoded "/" (tocsin%2FINC-1), which the decoded
  // path would split into two segments.
  std::string raw = req.target.substr(0, req.target.find('?'));
  raw = raw.substr(std::string("/v2/alerts/").size());
  auto slash = raw.rfind('/');
  if (slash == std::string::npos) {
    return Handle(req, respond, 404, R"({"message":"Not found"})", "opsgenie unknown path");
  }
  std::string alias = http::PercentDecode(raw.substr(0, slash), false).value_or("");
  std::string action = raw.substr(slash + 1);
  if (action != "acknowledge" && action != "close" && action != "notes" && action != "responders") {
    return Handle(req, respond, 404, R"({"message":"Not found"})", "opsgenie unknown action");
  }
  if (req.Query("identifierType").value_or("id") != "alias") {
    return Handle(req, respond, 400, R"({"message":"identifierType must be alias here"})",
                  "opsgenie action without identifierType=alias");
  }
  std::string who;
  if (action == "responders") {
    try {
      auto j = json::parse(req.body);
      who = j.at("responder").value("username", j.at("responder").value("name", ""));
      std::string type = j.at("responder").value("type", "");
      if (type != "team" && type != "user" && type != "escalation" && type != "schedule") {
        throw std::runtime_error("type");
      }
    } catch (const std::exception&) {
      return Handle(req, respond, 422, R"({"message":"Responder is invalid."})",
                    "opsgenie responders INVALID");
    }
  }
  std::string id = NewRequestId();
  {
    std::lock_guard lock(mu_);
    og_requests_[id] = {action, alias};
  }
  json ok = {{"result", "Request will be processed"}, {"took", 0.01}, {"requestId", id}};
  Handle(req, respond, 202, ok.dump(),
         fmt::format("opsgenie {} alias={}{}", action, alias, who.empty() ? "" : " " + who),
         "application/json", [this, action, alias, body = req.body] {
           opsgenie_->OnAction(action, alias, nlohmann::json::parse(body, nullptr, false));
         });
}

void ProviderSim::OpsgenieRequestStatus(const http::Request& req, http::Respond respond) {
  std::string id = req.PathParam("id");
  std::optional<std::pair<std::string, std::string>> found;
  {
    std::lock_guard lock(mu_);
    if (auto it = og_requests_.find(id); it != og_requests_.end()) found = it->second;
  }
  if (!found) {
    return Handle(req, respond, 404, R"({"message":"Request not found"})",
                  "opsgenie request status: unknown id");
  }
  json ok = {{"data",
              {{"success", true},
               {"action", found->first},
               {"processedAt", WallMs()},
               {"isSuccess", true},
               {"status", "Processed"},
               {"alias", found->second}}},
             {"took", 0.01},
             {"requestId", NewRequestId()}};
  Handle(req, respond, 200, ok.dump(), "opsgenie request status " + id);
}

void ProviderSim::OpsgenieHeartbeat(const http::Request& req, http::Respond respond) {
  auto auth = req.Header("Authorization").value_or("");
  if (auth.rfind("GenieKey ", 0) != 0) {
    return Handle(req, respond, 401, R"({"message":"Could not authenticate"})",
                  "opsgenie heartbeat UNAUTHORIZED");
  }
  json ok = {
      {"result", "PONG - Heartbeat received"}, {"took", 0.01}, {"requestId", NewRequestId()}};
  Handle(req, respond, 202, ok.dump(), "opsgenie heartbeat " + req.PathParam("name"));
}

}  // namespace tocsin::sim
