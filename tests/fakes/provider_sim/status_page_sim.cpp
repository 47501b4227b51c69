#include "status_page_sim.h"

#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

namespace tocsin::sim {

namespace {

using nlohmann::json;

struct StatusPageState {
  std::mutex mu;
  std::set<std::string> seen_keys;
  json published = json::array();
};

bool IsStringArray(const json& j) {
  if (!j.is_array()) return false;
  for (const auto& x : j) {
    if (!x.is_string()) return false;
  }
  return true;
}

// The first thing wrong with the body, or "".
std::string CheckUpdate(const json& j, const std::string& idempotency_key) {
  if (!j.is_object()) return "the body must be a JSON object";
  static const std::set<std::string> kFields = {
      "version",       "update_id", "incident_id", "severity", "title",    "state",
      "posted_by",     "posted_at", "situation",   "affected", "measures", "next_update_in_minutes",
      "next_update_at"};
  for (const auto& [k, v] : j.items()) {
    if (!kFields.count(k)) return "unknown field " + k;
  }
  for (const auto& k : kFields) {
    if (!j.contains(k)) return "missing field " + k;
  }
  for (const char* k : {"version", "update_id", "incident_id", "severity", "title", "state",
                        "posted_by", "posted_at", "situation", "measures", "next_update_at"}) {
    if (!j[k].is_string()) return std::string(k) + " must be a string";
  }
  if (j["version"] != "1") return "version must be \"1\"";
  if (j["situation"].get<std::string>().empty()) return "situation must not be empty";
  static const std::set<std::string> kSev = {"SEV-1", "SEV-2", "SEV-3", "SEV-4"};
  if (!kSev.count(j["severity"].get<std::string>())) return "severity must be SEV-1..SEV-4";
  if (j["state"] != "triggered" && j["state"] != "acknowledged") {
    return "state must be triggered or acknowledged (an update of an open incident)";
  }
  const json& a = j["affected"];
  if (!a.is_object() || a.size() != 2 || !a.contains("markets") || !a.contains("brands") ||
      !IsStringArray(a["markets"]) || !IsStringArray(a["brands"])) {
    return "affected must be {markets: [string], brands: [string]}";
  }
  if (!j["next_update_in_minutes"].is_number_integer() || j["next_update_in_minutes"] < 1) {
    return "next_update_in_minutes must be an integer >= 1";
  }
  if (idempotency_key != j["update_id"]) return "X-Tocsin-Idempotency-Key must equal update_id";
  return "";
}

}  // namespace

void RegisterStatusPage(ProviderSim& sim, http::Router& router) {
  auto st = std::make_shared<StatusPageState>();
  router.Add(
      "POST", "/statuspage/updates", http::Access::kPublic,
      [&sim, st](const http::Request& req, http::Respond respond) {
        if (req.Header("Authorization").value_or("") != std::string("Bearer ") + kStatusPageToken) {
          return sim.Handle(req, respond, 401, R"({"error":"bad or missing bearer token"})",
                            "status_page UNAUTHORIZED");
        }
        if (req.Header("Content-Type").value_or("").rfind("application/json", 0) != 0) {
          return sim.Handle(req, respond, 415, R"({"error":"Content-Type must be JSON"})",
                            "status_page BAD CONTENT TYPE");
        }
        json j = json::parse(req.body, nullptr, false);
        std::string key = req.Header("X-Tocsin-Idempotency-Key").value_or("");
        std::string error = j.is_discarded() ? "the body is not JSON" : CheckUpdate(j, key);
        if (!error.empty()) {
          return sim.Handle(req, respond, 400, json{{"error", error}}.dump(),
                            "status_page INVALID: " + error);
        }
        auto accepted = [st, j, key, respond](http::Response res) {
          if (res.status == 200) {
            std::lock_guard lock(st->mu);
            if (st->seen_keys.insert(key).second) st->published.push_back(j);
          }
          respond(std::move(res));
        };
        sim.Handle(req, accepted, 200, R"({"ok":true})", "status_page update " + key);
      });
  router.AddSync("GET", "/_sim/status_page/updates", http::Access::kPublic,
                 [st](const http::Request&) {
                   std::lock_guard lock(st->mu);
                   return http::Response::Json(200, st->published.dump());
                 });
}

}  // namespace tocsin::sim
