#include "teams_sim.h"

#include <functional>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tocsin::sim {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxMessageBytes = 28 * 1024;

struct TeamsState {
  std::mutex mu;
  json messages = json::array();
};

json WorkflowsError(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

// The first problem Teams would find in one card element, or "".
std::string CheckElement(const json& e) {
  if (!e.is_object() || !e.contains("type")) return "card element without a type";
  std::string type = e["type"];
  if (type == "TextBlock") {
    if (!e.contains("text") || !e["text"].is_string()) return "TextBlock without text";
  } else if (type == "FactSet") {
    if (!e.contains("facts") || !e["facts"].is_array()) return "FactSet without facts";
    for (const auto& f : e["facts"]) {
      if (!f.contains("title") || !f.contains("value") || !f["title"].is_string() ||
          !f["value"].is_string())
        return "Fact needs string title and value";
    }
  } else if (type == "Container") {
    if (!e.contains("items") || !e["items"].is_array()) return "Container without items";
    for (const auto& i : e["items"]) {
      if (auto err = CheckElement(i); !err.empty()) return err;
    }
  } else if (type != "ColumnSet" && type != "Image" && type != "ActionSet" &&
             type != "RichTextBlock") {
    return "unknown card element type " + type;
  }
  return "";
}

std::string CheckMessage(const json& j) {
  if (!j.is_object() || j.value("type", "") != "message") return "type must be \"message\"";
  if (!j.contains("attachments") || !j["attachments"].is_array() || j["attachments"].empty())
    return "attachments must be a non-empty array";
  for (const auto& a : j["attachments"]) {
    if (a.value("contentType", "") != "application/vnd.microsoft.card.adaptive")
      return "attachment contentType must be application/vnd.microsoft.card.adaptive";
    const json& c = a.contains("content") ? a["content"] : json();
    if (!c.is_object() || c.value("type", "") != "AdaptiveCard")
      return "attachment content must be an AdaptiveCard";
    if (!c.contains("version") || !c["version"].is_string()) return "AdaptiveCard without version";
    if (!c.contains("body") || !c["body"].is_array()) return "AdaptiveCard without body";
    for (const auto& e : c["body"]) {
      if (auto err = CheckElement(e); !err.empty()) return err;
    }
    if (c.contains("actions")) {
      for (const auto& act : c["actions"]) {
        std::string type = act.value("type", "");
        if (type == "Action.Submit" || type == "Action.Execute")
          return type + " is not supported by Workflows webhooks";
        std::string url = act.value("url", "");
        if (type == "Action.OpenUrl" && url.rfind("http://", 0) != 0 &&
            url.rfind("https://", 0) != 0)
          return "Action.OpenUrl needs an absolute http(s) url";
      }
    }
  }
  return "";
}

// What a person sees in the channel: the card's texts and facts.
json Shown(const std::string& workflow, const json& j) {
  json texts = json::array(), facts = json::object(), links = json::array();
  std::string color;
  std::function<void(const json&)> walk = [&](const json& e) {
    std::string type = e.value("type", "");
    if (type == "TextBlock") {
      texts.push_back(e["text"]);
      if (color.empty() && e.contains("color")) color = e["color"];
    } else if (type == "FactSet") {
      for (const auto& f : e["facts"]) facts[f["title"].get<std::string>()] = f["value"];
    } else if (type == "Container") {
      for (const auto& i : e["items"]) walk(i);
    }
  };
  const json& c = j["attachments"][0]["content"];
  for (const auto& e : c["body"]) walk(e);
  for (const auto& a : c.value("actions", json::array())) {
    links.push_back({{"title", a.value("title", "")}, {"url", a.value("url", "")}});
  }
  return {{"workflow", workflow}, {"title", texts.empty() ? "" : texts[0]},
          {"texts", texts},       {"color", color},
          {"facts", facts},       {"links", links}};
}

}  // namespace

void RegisterTeams(ProviderSim& sim, http::Router& router) {
  auto st = std::make_shared<TeamsState>();
  router.Add("POST", "/workflows/{rest...}", http::Access::kPublic,
             [&sim, st](const http::Request& req, http::Respond respond) {
               std::string sig = req.Query("sig").value_or("");
               if (sig.empty() || sig == "invalid" || !req.Query("api-version")) {
                 return sim.Handle(
                     req, respond, 401,
                     WorkflowsError("DirectApiAuthorizationRequired",
                                    "The request must be authenticated only by Shared Access "
                                    "scheme.")
                         .dump(),
                     "teams UNAUTHORIZED (sig)");
               }
               if (req.body.size() > kMaxMessageBytes) {
                 return sim.Handle(req, respond, 413,
                                   WorkflowsError("MessageSizeTooBig", "over 28 KB").dump(),
                                   "teams TOO BIG");
               }
               json j;
               std::string error;
               try {
                 j = json::parse(req.body);
                 error = CheckMessage(j);
               } catch (const json::exception&) {
                 error = "the body is not JSON";
               }
               if (!error.empty()) {
                 return sim.Handle(req, respond, 400,
                                   WorkflowsError("InvalidRequestContent", error).dump(),
                                   "teams INVALID: " + error);
               }
               json shown = Shown(req.PathParam("rest"), j);
               std::string summary =
                   fmt::format("teams card \"{}\"", shown["title"].get<std::string>());
               // Only what Workflows accepted reaches the channel (a fault answers first).
               auto accepted = [st, shown, respond](http::Response res) {
                 if (res.status == 202) {
                   std::lock_guard lock(st->mu);
                   st->messages.push_back(shown);
                 }
                 respond(std::move(res));
               };
               sim.Handle(req, accepted, 202, "", summary, "text/plain");
             });
  router.AddSync("GET", "/_sim/teams/messages", http::Access::kPublic, [st](const http::Request&) {
    std::lock_guard lock(st->mu);
    return http::Response::Json(200, st->messages.dump());
  });
  router.AddSync("DELETE", "/_sim/teams/messages", http::Access::kPublic,
                 [st](const http::Request&) {
                   std::lock_guard lock(st->mu);
                   st->messages = json::array();
                   return http::Response::Json(200, R"({"cleared":true})");
                 });
}

}  // namespace tocsin::sim
