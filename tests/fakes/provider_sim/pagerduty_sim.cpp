#include "pagerduty_sim.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "provider_sim.h"

namespace tocsin::sim {

using nlohmann::json;

namespace {

json Error(int code, const std::string& message, std::vector<std::string> errors = {}) {
  json e = {{"error", {{"message", message}, {"code", code}}}};
  if (!errors.empty()) e["error"]["errors"] = errors;
  return e;
}

// Every value of `name` in the raw query ("statuses[]" may repeat).
std::vector<std::string> QueryValues(const std::string& target, const std::string& name) {
  std::vector<std::string> out;
  auto q = target.find('?');
  if (q == std::string::npos) return out;
  std::string query = target.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = pair.find('=');
    auto key = http::PercentDecode(pair.substr(0, eq), true).value_or("");
    if (key == name && eq != std::string::npos) {
      out.push_back(http::PercentDecode(pair.substr(eq + 1), true).value_or(""));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

}  // namespace

void PagerDutySim::Page(const std::string& user, const Incident& i, const std::string& how) {
  std::string name = users_.count(user) ? users_[user].name : "";
  pages_.push_back({{"user_id", user},
                    {"user_name", name},
                    {"incident_id", i.id},
                    {"dedup_key", i.dedup_key},
                    {"routing_key_suffix", i.routing_key.substr(i.routing_key.size() - 4)},
                    {"how", how},
                    {"time_ms", WallMs()}});
}

PagerDutySim::Incident* PagerDutySim::FindIncident(const std::string& id) {
  for (auto& i : incidents_) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

void PagerDutySim::OnEvent(const json& event, const std::string& dedup_key) {
  std::lock_guard lock(mu_);
  std::string rk = event.value("routing_key", "");
  std::string action = event.value("event_action", "");
  Incident* open = nullptr;
  for (auto& i : incidents_) {
    if (i.routing_key == rk && i.dedup_key == dedup_key && i.status != "resolved") open = &i;
  }
  if (action == "trigger") {
    if (open) {
      ++open->alert_count;  // folded: PagerDuty pages nobody new
      return;
    }
    Incident i;
    i.number = next_number_++;
    i.id = fmt::format("Q{:012d}", i.number);
    i.routing_key = rk;
    i.dedup_key = dedup_key;
    i.title = event.contains("payload") ? event["payload"].value("summary", "") : "";
    i.status = "triggered";
    i.alert_count = 1;
    if (auto it = services_.find(rk); it != services_.end()) i.assigned = it->second;
    for (const auto& u : i.assigned) Page(u, i, "escalation_policy");
    incidents_.push_back(std::move(i));
    return;
  }
  // Acknowledge and resolve with no open alert are dropped, as PagerDuty does.
  if (!open) return;
  open->status = action == "acknowledge" ? "acknowledged" : "resolved";
}

std::pair<int, std::string> PagerDutySim::CheckRest(const http::Request& req, bool write) {
  std::lock_guard lock(mu_);
  auto auth = req.Header("Authorization").value_or("");
  if (token_.empty() || auth != "Token token=" + token_) {
    return {401, "Authorization must be \"Token token=<REST API key>\" of this account"};
  }
  auto accept = req.Header("Accept").value_or("");
  if (accept != "application/vnd.pagerduty+json;version=2") {
    return {406, "Accept must be application/vnd.pagerduty+json;version=2"};
  }
  if (write) {
    auto from = req.Header("From").value_or("");
    bool known = false;
    for (const auto& [id, u] : users_) known = known || u.email == from;
    if (!known) return {400, "The From header must be the e-mail of a user of this account"};
  }
  return {0, ""};
}

json PagerDutySim::IncidentJson(const Incident& i) const {
  json assignments = json::array();
  for (const auto& u : i.assigned) {
    assignments.push_back({{"assignee", {{"id", u}, {"type", "user_reference"}}}});
  }
  return {{"id", i.id},
          {"type", "incident"},
          {"incident_number", i.number},
          {"title", i.title},
          {"status", i.status},
          {"incident_key", i.dedup_key},
          {"alert_counts", {{"all", i.alert_count}}},
          {"assignments", assignments}};
}

void PagerDutySim::ListIncidents(const http::Request& req, http::Respond respond) {
  if (auto [status, why] = CheckRest(req, false); status != 0) {
    int code = status == 401 ? 2006 : 2001;
    return sim_.Handle(req, respond, status, Error(code, why).dump(), "pagerduty REST " + why);
  }
  auto keys = QueryValues(req.target, "incident_key");
  auto statuses = QueryValues(req.target, "statuses[]");
  json list = json::array();
  {
    std::lock_guard lock(mu_);
    for (const auto& i : incidents_) {
      if (!keys.empty() && i.dedup_key != keys.front()) continue;
      if (!statuses.empty() &&
          std::find(statuses.begin(), statuses.end(), i.status) == statuses.end()) {
        continue;
      }
      list.push_back(IncidentJson(i));
    }
  }
  json body = {{"incidents", list}, {"limit", 25}, {"offset", 0}, {"more", false}};
  sim_.Handle(req, respond, 200, body.dump(),
              fmt::format("pagerduty REST list incidents key={} -> {}",
                          keys.empty() ? "" : keys.front(), list.size()));
}

void PagerDutySim::GetIncident(const http::Request& req, http::Respond respond) {
  if (auto [status, why] = CheckRest(req, false); status != 0) {
    return sim_.Handle(req, respond, status, Error(2001, why).dump(), "pagerduty REST " + why);
  }
  json body;
  {
    std::lock_guard lock(mu_);
    if (auto* i = FindIncident(req.PathParam("id"))) body = {{"incident", IncidentJson(*i)}};
  }
  if (body.is_null()) {
    return sim_.Handle(req, respond, 404, Error(2100, "Not Found").dump(),
                       "pagerduty REST unknown incident");
  }
  sim_.Handle(req, respond, 200, body.dump(), "pagerduty REST get incident");
}

void PagerDutySim::ResponderRequest(const http::Request& req, http::Respond respond) {
  if (auto [status, why] = CheckRest(req, true); status != 0) {
    return sim_.Handle(req, respond, status, Error(2001, why).dump(), "pagerduty REST " + why);
  }
  auto refuse = [&](int status, int code, const std::string& message, const std::string& why) {
    sim_.Handle(req, respond, status, Error(code, message, {why}).dump(),
                "pagerduty REST responder request REFUSED: " + why);
  };
  std::string incident_id = req.PathParam("id");
  json j = json::parse(req.body, nullptr, false);
  if (req.Header("Content-Type").value_or("").rfind("application/json", 0) != 0 ||
      j.is_discarded() || !j.is_object()) {
    return refuse(400, 2001, "Invalid Input Provided", "the body must be a JSON object");
  }
  std::vector<std::string> targets;
  json answer_targets = json::array();
  Incident snapshot;
  {
    std::lock_guard lock(mu_);
    Incident* inc = FindIncident(incident_id);
    if (!inc) return refuse(404, 2100, "Not Found", "no incident " + incident_id);
    if (inc->status == "resolved") {
      return refuse(400, 2001, "Invalid Input Provided", "the incident is resolved");
    }
    std::string requester = j.value("requester_id", "");
    if (!users_.count(requester)) {
      return refuse(400, 2001, "Invalid Input Provided",
                    "requester_id \"" + requester + "\" is not a user of this account");
    }
    if (!j.contains("responder_request_targets") || !j["responder_request_targets"].is_array() ||
        j["responder_request_targets"].empty()) {
      return refuse(400, 2001, "Invalid Input Provided", "responder_request_targets is empty");
    }
    for (const auto& t : j["responder_request_targets"]) {
      if (!t.is_object() || !t.contains("responder_request_target")) {
        return refuse(400, 2001, "Invalid Input Provided",
                      "each target must be {\"responder_request_target\":{id, type}}");
      }
      const auto& target = t["responder_request_target"];
      std::string type = target.value("type", "");
      std::string id = target.value("id", "");
      if (type != "user_reference") {
        return refuse(400, 2001, "Invalid Input Provided",
                      "this simulator takes user_reference targets, got \"" + type + "\"");
      }
      if (!users_.count(id)) return refuse(404, 2100, "Not Found", "no user " + id);
      targets.push_back(id);
      answer_targets.push_back(
          {{"responder_request_target",
            {{"id", id},
             {"type", "user"},
             {"incident_responders",
              json::array({{{"state", "pending"},
                            {"user", {{"id", id}, {"type", "user_reference"}}}}})}}}});
    }
    snapshot = *inc;
  }
  json body = {{"responder_request",
                {{"incident", {{"id", incident_id}, {"type", "incident_reference"}}},
                 {"requester", {{"id", j.value("requester_id", "")}, {"type", "user_reference"}}},
                 {"requested_at", WallMs()},
                 {"message", j.value("message", "")},
                 {"responder_request_targets", answer_targets}}}};
  sim_.Handle(req, respond, 200, body.dump(),
              fmt::format("pagerduty REST responder request {} -> {}", incident_id,
                          fmt::join(targets, ", ")),
              "application/json", [this, targets, incident_id] {
                std::lock_guard lock(mu_);
                Incident* inc = FindIncident(incident_id);
                if (!inc) return;
                for (const auto& t : targets) {
                  inc->responders.push_back(t);
                  Page(t, *inc, "responder_request");
                }
              });
}

void PagerDutySim::AddRoutes(http::Router& router) {
  router.Add("GET", "/incidents", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { ListIncidents(r, s); });
  router.Add("GET", "/incidents/{id}", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { GetIncident(r, s); });
  router.Add("POST", "/incidents/{id}/responder_requests", http::Access::kPublic,
             [this](const http::Request& r, http::Respond s) { ResponderRequest(r, s); });
  // The account: {"api_token", "users":[{id, email, name}], "services":{routing_key:[ids]}}.
  router.AddSync("POST", "/_sim/pagerduty/account", http::Access::kPublic,
                 [this](const http::Request& r) {
                   json j = json::parse(r.body, nullptr, false);
                   if (j.is_discarded() || !j.is_object()) {
                     return http::Response::Json(400, R"({"error":"body must be a JSON object"})");
                   }
                   // Parsed whole before anything changes: a bad account changes nothing.
                   std::string token;
                   std::map<std::string, User> users;
                   std::map<std::string, std::vector<std::string>> services;
                   try {
                     token = j.value("api_token", "");
                     for (const auto& u : j.value("users", json::array())) {
                       User user{u.at("id"), u.at("email"), u.value("name", "")};
                       users[user.id] = user;
                     }
                     const json listed = j.value("services", json::object());
                     for (const auto& [rk, ids] : listed.items()) {
                       services[rk] = ids.get<std::vector<std::string>>();
                     }
                   } catch (const json::exception& e) {
                     return http::Response::Json(400, json{{"error", e.what()}}.dump());
                   }
                   std::lock_guard lock(mu_);
                   token_ = token;
                   users_ = users;
                   services_ = services;
                   return http::Response::Json(200, R"({"configured":true})");
                 });
  router.AddSync("GET", "/_sim/pagerduty/pages", http::Access::kPublic,
                 [this](const http::Request&) {
                   std::lock_guard lock(mu_);
                   return http::Response::Json(200, pages_.dump());
                 });
  router.AddSync("GET", "/_sim/pagerduty/incidents", http::Access::kPublic,
                 [this](const http::Request&) {
                   std::lock_guard lock(mu_);
                   json out = json::array();
                   for (const auto& i : incidents_) {
                     json x = IncidentJson(i);
                     x["responders"] = i.responders;
                     out.push_back(x);
                   }
                   return http::Response::Json(200, out.dump());
                 });
}

}  // namespace tocsin::sim
