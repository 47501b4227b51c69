#include "jsm_sim.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "tocsin/common/http_client.h"

namespace tocsin::sim {

namespace {

using nlohmann::json;

constexpr const char* kBase = "/jsm/ops/integration/v2/alerts";

// Characters as JSM counts them (code points).
std::size_t Length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

struct Alert {
  std::string id;
  int tiny_id = 0;
  std::string alias;
  std::string message;
  std::string priority;
  std::string status = "open";  // open | closed
  bool acknowledged = false;
  std::string acknowledged_by;
  std::string closed_by;
  int count = 1;
  json responders = json::array();
  json notes = json::array();
  std::int64_t created_ms = 0;
  std::int64_t updated_ns = 0;
};

struct JsmState {
  std::mutex mu;
  std::vector<Alert> alerts;
  json received = json::array();
  std::map<std::string, json> requests;  // requestId -> status data
  int next_tiny = 1;

  Alert* Open(const std::string& alias) {
    for (auto& a : alerts) {
      if (a.alias == alias && a.status == "open") return &a;
    }
    return nullptr;
  }
  Alert* Latest(const std::string& alias) {
    for (auto it = alerts.rbegin(); it != alerts.rend(); ++it) {
      if (it->alias == alias) return &*it;
    }
    return nullptr;
  }
};

// JSM issues integration API keys as UUIDs; anything else is refused before it is looked up.
bool KeyLooksValid(std::string_view auth) {
  static const std::regex kUuid(
      "GenieKey [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  return std::regex_match(auth.begin(), auth.end(), kUuid);
}

json Unprocessable(ProviderSim& sim, const std::string& field, const std::string& error) {
  return {{"message", "Request body is not processable. Please check the errors."},
          {"errors", {{field, error}}},
          {"took", 0.001},
          {"requestId", sim.NewRequestId()}};
}

// The checks JSM applies to a create; {field, error} of the first failure, or empty.
std::pair<std::string, std::string> CheckCreate(const json& j) {
  if (!j.is_object()) return {"body", "must be a JSON object"};
  if (!j.contains("message") || !j["message"].is_string() ||
      j["message"].get<std::string>().empty())
    return {"message", "Message can not be empty."};
  if (Length(j["message"].get<std::string>()) > 130)
    return {"message", "Message can not be longer than 130 characters."};
  if (j.contains("alias") &&
      (!j["alias"].is_string() || j["alias"].get<std::string>().size() > 512))
    return {"alias", "Alias can not be longer than 512 characters."};
  if (j.contains("description") && Length(j["description"].get<std::string>()) > 15000)
    return {"description", "Description can not be longer than 15000 characters."};
  if (j.contains("priority")) {
    std::string p = j["priority"].is_string() ? j["priority"].get<std::string>() : "";
    if (p.size() != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '5')
      return {"priority", "Priority should be one of [P1, P2, P3, P4, P5]."};
  }
  if (j.contains("tags")) {
    if (!j["tags"].is_array() || j["tags"].size() > 20)
      return {"tags", "Tags can not be more than 20."};
    for (const auto& t : j["tags"]) {
      if (!t.is_string() || Length(t.get<std::string>()) > 50)
        return {"tags", "Tag can not be longer than 50 characters."};
    }
  }
  if (j.contains("details")) {
    if (!j["details"].is_object()) return {"details", "Details must be a map of strings."};
    for (const auto& [k, v] : j["details"].items()) {
      if (!v.is_string()) return {"details." + k, "Details values must be strings."};
    }
  }
  if (j.contains("responders")) {
    if (!j["responders"].is_array() || j["responders"].size() > 50)
      return {"responders", "Responders can not be more than 50."};
    for (const auto& r : j["responders"]) {
      std::string type = r.value("type", "");
      if (type != "team" && type != "user" && type != "escalation" && type != "schedule")
        return {"responders.type",
                "Responder type should be one of [team, user, escalation, schedule]."};
      bool named =
          r.contains("id") || r.contains("name") || (type == "user" && r.contains("username"));
      if (!named) return {"responders", "Responder should have one of id, name or username."};
    }
  }
  return {};
}

void Create(ProviderSim& sim, JsmState& st, const http::Request& req, http::Respond respond) {
  if (!KeyLooksValid(req.Header("Authorization").value_or(""))) {
    return sim.Handle(req, respond, 401,
                      R"({"message":"Could not authenticate","took":0.0,"requestId":"sim"})",
                      "jsm create UNAUTHORIZED");
  }
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    return sim.Handle(req, respond, 400, Unprocessable(sim, "body", "Invalid JSON").dump(),
                      "jsm create MALFORMED");
  }
  auto [field, error] = CheckCreate(j);
  if (!error.empty()) {
    return sim.Handle(req, respond, 422, Unprocessable(sim, field, error).dump(),
                      "jsm create INVALID: " + field + ": " + error);
  }
  std::string request_id = sim.NewRequestId();
  std::string alias = j.value("alias", "");
  // JSM processes only what it accepted: a request answered by an injected fault (429, 5xx)
  // changes nothing and notifies nobody.
  auto apply = [&st, j, alias, request_id] {
    std::lock_guard lock(st.mu);
    Alert* open = alias.empty() ? nullptr : st.Open(alias);
    if (open) {
      // Deduplicated: the open alert's count goes up; nobody is notified again.
      ++open->count;
      st.requests[request_id] = {{"success", true},
                                 {"action", "Create"},
                                 {"status", "Alert is deduplicated"},
                                 {"alertId", open->id},
                                 {"alias", alias}};
      return;
    }
    Alert a;
    a.tiny_id = st.next_tiny++;
    a.id = fmt::format("sim-alert-{:04d}-{}", a.tiny_id, WallMs());
    a.alias = alias.empty() ? a.id : alias;
    a.message = j["message"];
    a.priority = j.value("priority", "P3");
    a.responders = j.value("responders", json::array());
    a.created_ms = WallMs();
    a.updated_ns = a.created_ms * 1000000;
    for (const auto& r : a.responders) {
      if (r.value("type", "") != "user") continue;
      st.received.push_back({{"username", r.value("username", r.value("id", ""))},
                             {"alias", a.alias},
                             {"priority", a.priority},
                             {"message", a.message},
                             {"time_ms", a.created_ms}});
    }
    st.requests[request_id] = {{"success", true},
                               {"action", "Create"},
                               {"status", "Created alert"},
                               {"alertId", a.id},
                               {"alias", a.alias}};
    st.alerts.push_back(std::move(a));
  };
  json ok = {{"result", "Request will be processed"}, {"took", 0.01}, {"requestId", request_id}};
  sim.Handle(
      req,
      [apply, respond](http::Response res) {
        if (res.status == 202) apply();
        respond(std::move(res));
      },
      202, ok.dump(),
      fmt::format("jsm create alias={} {} responders={} \"{}\"", alias, j.value("priority", "P3"),
                  j.value("responders", json::array()).size(),
                  j["message"].get<std::string>().substr(0, 60)));
}

void Action(ProviderSim& sim, JsmState& st, const http::Request& req, http::Respond respond) {
  if (!KeyLooksValid(req.Header("Authorization").value_or(""))) {
    return sim.Handle(req, respond, 401,
                      R"({"message":"Could not authenticate","took":0.0,"requestId":"sim"})",
                      "jsm action UNAUTHORIZED");
  }
  // From the raw target: an alias holds an encoded "/" (tocsin%2FINC-1%2Fstep-2).
  std::string raw = req.target.substr(0, req.target.find('?'));
  raw = raw.substr(std::string(kBase).size() + 1);
  auto slash = raw.rfind('/');
  std::string action = slash == std::string::npos ? "" : raw.substr(slash + 1);
  if (action != "acknowledge" && action != "close" && action != "notes") {
    return sim.Handle(req, respond, 404, R"({"message":"No handler found","took":0.0})",
                      "jsm unknown path");
  }
  std::string alias = http::PercentDecode(raw.substr(0, slash), false).value_or("");
  if (req.Query("identifierType").value_or("id") != "alias") {
    // By id, the alias is no alert's id: JSM answers 202 and the request fails later; tocsin
    // must never rely on that, so the simulator refuses it outright.
    return sim.Handle(req, respond, 400,
                      R"({"message":"identifierType=alias expected by this simulator"})",
                      "jsm action without identifierType=alias");
  }
  json j = json::object();
  if (!req.body.empty()) {
    try {
      j = json::parse(req.body);
    } catch (const json::exception&) {
      return sim.Handle(req, respond, 400, Unprocessable(sim, "body", "Invalid JSON").dump(),
                        "jsm action MALFORMED");
    }
  }
  if (action == "notes" && j.value("note", "").empty()) {
    return sim.Handle(req, respond, 422,
                      Unprocessable(sim, "note", "Note can not be empty.").dump(),
                      "jsm notes INVALID");
  }
  std::string request_id = sim.NewRequestId();
  auto apply = [&st, j, alias, action, request_id] {
    std::lock_guard lock(st.mu);
    Alert* a = st.Latest(alias);
    std::string user = j.value("user", "");
    std::string outcome;
    if (!a) {
      outcome = "Alert does not exist";
    } else if (action == "acknowledge") {
      if (a->status == "open" && !a->acknowledged) {
        a->acknowledged = true;
        a->acknowledged_by = user;
      }
      outcome = "Acknowledged";
    } else if (action == "close") {
      if (a->status == "open") {
        a->status = "closed";
        a->closed_by = user;
      }
      outcome = "Closed";
    } else {
      a->notes.push_back({{"user", user}, {"note", j.value("note", "")}});
      outcome = "Added note";
    }
    st.requests[request_id] = {
        {"success", a != nullptr}, {"action", action}, {"status", outcome}, {"alias", alias}};
  };
  json ok = {{"result", "Request will be processed"}, {"took", 0.01}, {"requestId", request_id}};
  sim.Handle(
      req,
      [apply, respond](http::Response res) {
        if (res.status == 202) apply();
        respond(std::move(res));
      },
      202, ok.dump(), fmt::format("jsm {} alias={}", action, alias));
}

json AlertJson(const Alert& a) {
  return {{"id", a.id},
          {"tinyId", std::to_string(a.tiny_id)},
          {"alias", a.alias},
          {"message", a.message},
          {"priority", a.priority},
          {"status", a.status},
          {"acknowledged", a.acknowledged},
          {"acknowledgedBy", a.acknowledged_by},
          {"closedBy", a.closed_by},
          {"count", a.count},
          {"responders", a.responders},
          {"notes", a.notes}};
}

// Does what a person does in JSM's app, then sends the outgoing webhook as JSM does.
void Act(ProviderSim& sim, JsmState& st, const http::Request& req, http::Respond respond) {
  json in;
  try {
    in = json::parse(req.body);
  } catch (const json::exception&) {
    return respond(http::Response::Json(400, R"({"error":"body must be JSON"})"));
  }
  std::string url = in.value("url", ""), alias = in.value("alias", "");
  std::string action = in.value("action", ""), username = in.value("username", "");
  if (url.empty() || alias.empty() || username.empty() ||
      (action != "Acknowledge" && action != "Close" && action != "AddNote")) {
    return respond(http::Response::Json(
        400,
        R"({"error":"url, alias, username and action (Acknowledge|Close|AddNote) are required"})"));
  }
  json payload;
  {
    std::lock_guard lock(st.mu);
    Alert* a = st.Latest(alias);
    if (!a) return respond(http::Response::Json(404, R"({"error":"no such alert"})"));
    a->updated_ns = WallMs() * 1000000 + 1;
    if (action == "Acknowledge") {
      a->acknowledged = true;
      a->acknowledged_by = username;
    } else if (action == "Close") {
      a->status = "closed";
      a->closed_by = username;
    } else {
      a->notes.push_back({{"user", username}, {"note", in.value("note", "")}});
    }
    json alert = {{"updatedAt", a->updated_ns},
                  {"tags", json::array()},
                  {"message", a->message},
                  {"username", username},
                  {"alertId", a->id},
                  {"source", username},
                  {"alias", a->alias},
                  {"tinyId", std::to_string(a->tiny_id)},
                  {"createdAt", a->created_ms},
                  {"userId", "sim-user-" + username},
                  {"entity", ""}};
    if (action == "AddNote") alert["note"] = in.value("note", "");
    payload = {{"source", {{"name", ""}, {"type", "web"}}},
               {"alert", alert},
               {"action", action},
               {"integrationId", "sim-integration"},
               {"integrationName", "tocsin"}};
  }
  HttpClientRequest out;
  out.method = "POST";
  out.url = url;
  out.body = payload.dump();
  out.timeout = std::chrono::seconds(10);
  out.headers = {{"Content-Type", "application/json"}};
  if (in.contains("token"))
    out.headers.emplace_back("X-Tocsin-Token", in["token"].get<std::string>());
  int retries = in.value("retries", 0);
  sim.Record({0,
              "SEND",
              "/_sim/jsm/act",
              "",
              {},
              out.body,
              WallMs(),
              0,
              fmt::format("jsm {} of {} by {} -> webhook {}", action, alias, username, url)});
  // Off the loop: the target may be slow, or may even be this simulator.
  std::thread([&sim, out, retries, respond]() {
    CurlHttpClient client;
    json attempts = json::array();
    for (int i = 0; i <= retries; ++i) {
      auto r = client.Send(out);
      attempts.push_back(r ? json{{"status", r->status}, {"body", r->body}}
                           : json{{"status", 0}, {"error", r.error().message()}});
      if (r && r->status < 500) break;
    }
    json answer = {{"attempts", attempts}, {"status", attempts.back()["status"]}};
    boost::asio::post(sim.io(),
                      [respond, answer] { respond(http::Response::Json(200, answer.dump())); });
  }).detach();
}

}  // namespace

void RegisterJsm(ProviderSim& sim, http::Router& router) {
  auto st = std::make_shared<JsmState>();
  router.Add("POST", kBase, http::Access::kPublic,
             [&sim, st](const http::Request& r, http::Respond s) { Create(sim, *st, r, s); });
  router.Add("GET", std::string(kBase) + "/requests/{id}", http::Access::kPublic,
             [&sim, st](const http::Request& r, http::Respond s) {
               json data;
               {
                 std::lock_guard lock(st->mu);
                 auto it = st->requests.find(r.PathParam("id"));
                 if (it != st->requests.end()) data = it->second;
               }
               if (data.is_null()) {
                 return sim.Handle(r, s, 404, R"({"message":"Request not found","took":0.0})",
                                   "jsm request status: unknown id");
               }
               sim.Handle(
                   r, s, 200,
                   json{{"data", data}, {"took", 0.01}, {"requestId", sim.NewRequestId()}}.dump(),
                   "jsm request status " + r.PathParam("id"));
             });
  router.Add("POST", std::string(kBase) + "/{rest...}", http::Access::kPublic,
             [&sim, st](const http::Request& r, http::Respond s) { Action(sim, *st, r, s); });
  router.AddSync("GET", "/_sim/jsm/alerts", http::Access::kPublic, [st](const http::Request&) {
    std::lock_guard lock(st->mu);
    json out = json::array();
    for (const auto& a : st->alerts) out.push_back(AlertJson(a));
    return http::Response::Json(200, out.dump());
  });
  router.AddSync("DELETE", "/_sim/jsm/alerts", http::Access::kPublic, [st](const http::Request&) {
    std::lock_guard lock(st->mu);
    st->alerts.clear();
    st->received = json::array();
    return http::Response::Json(200, R"({"cleared":true})");
  });
  router.AddSync("GET", "/_sim/jsm/received", http::Access::kPublic, [st](const http::Request&) {
    std::lock_guard lock(st->mu);
    return http::Response::Json(200, st->received.dump());
  });
  router.Add("POST", "/_sim/jsm/act", http::Access::kPublic,
             [&sim, st](const http::Request& r, http::Respond s) { Act(sim, *st, r, s); });
}

}  // namespace tocsin::sim
