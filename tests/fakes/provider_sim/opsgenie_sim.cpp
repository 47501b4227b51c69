#include "opsgenie_sim.h"

#include "provider_sim.h"

#include <chrono>

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
        return http::Response::Json(200, json{{"pages", pages_}, {"failed", failed_}}.dump());
      });
}

}  // namespace tocsin::sim
