// The simulator's Slack: chat.postMessage and chat.update (Web API answers: HTTP 200 with
// "ok": false and an error name) and incoming webhooks (plain-text errors), each checking a
// message's Block Kit the way Slack refuses it.
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "provider_sim.h"

namespace tocsin::sim {

using nlohmann::json;

namespace {

// The checks Slack applies to Block Kit; returns an error or "".
std::string CheckBlocks(const json& blocks) {
  if (!blocks.is_array()) return "blocks must be an array";
  if (blocks.size() > 50) return "more than 50 blocks";
  for (const auto& b : blocks) {
    std::string type = b.value("type", "");
    if (type == "header") {
      auto text = b.at("text").value("text", "");
      if (b.at("text").value("type", "") != "plain_text") return "header text must be plain_text";
      if (CodePoints(text) > 150) return "header text longer than 150";
    } else if (type == "section") {
      if (b.contains("text") && CodePoints(b["text"].value("text", "")) > 3000) {
        return "section text longer than 3000";
      }
      if (b.contains("fields")) {
        if (b["fields"].size() > 10) return "more than 10 fields";
        for (const auto& f : b["fields"]) {
          if (CodePoints(f.value("text", "")) > 2000) return "field longer than 2000";
        }
      }
      if (!b.contains("text") && !b.contains("fields")) return "section without text or fields";
    } else if (type == "actions") {
      if (b.at("elements").size() > 25) return "more than 25 elements";
      std::set<std::string> ids;
      for (const auto& e : b["elements"]) {
        if (e.value("type", "") != "button") continue;
        if (CodePoints(e.at("text").value("text", "")) > 75) return "button text longer than 75";
        std::string id = e.value("action_id", "");
        if (id.size() > 255) return "action_id longer than 255";
        if (!id.empty() && !ids.insert(id).second) return "duplicate action_id " + id;
        if (e.contains("value") && e["value"].get<std::string>().size() > 2000) {
          return "button value longer than 2000";
        }
        if (e.contains("style") && e["style"] != "primary" && e["style"] != "danger") {
          return "bad button style";
        }
        if (e.contains("url")) {
          // Block Kit: an absolute URL of at most 3,000 characters, or the message is refused.
          std::string url = e["url"].get<std::string>();
          if (url.size() > 3000) return "button url longer than 3000";
          if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
            return "button url must be an absolute http(s) URL: " + url;
          }
        }
      }
    } else if (type == "context") {
      if (b.at("elements").size() > 10) return "more than 10 context elements";
    } else if (type != "divider") {
      return "unknown block type " + type;
    }
  }
  return "";
}

}  // namespace

void ProviderSim::SlackApi(const http::Request& req, http::Respond respond, bool update) {
  std::string method = update ? "chat.update" : "chat.postMessage";
  auto fail = [&](const std::string& error) {
    Handle(req, respond, 200, json{{"ok", false}, {"error", error}}.dump(),
           fmt::format("slack {} ok=false error={}", method, error));
  };
  auto auth = req.Header("Authorization").value_or("");
  if (auth.rfind("Bearer ", 0) != 0 || auth.size() <= 7) return fail("not_authed");
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    return fail("invalid_json");
  }
  std::string channel = j.value("channel", "");
  if (channel.empty()) return fail("channel_not_found");
  if (j.value("text", "").empty() && !j.contains("blocks")) return fail("no_text");
  if (j.contains("blocks")) {
    if (auto e = CheckBlocks(j["blocks"]); !e.empty()) {
      spdlog::info("slack invalid_blocks: {}", e);
      return fail("invalid_blocks");
    }
  }
  if (channel[0] == '#')
    channel = fmt::format("C{:08X}", std::hash<std::string>{}(channel)&0xffffffff);
  std::string ts;
  std::string thread = j.value("thread_ts", "");
  if (update) {
    ts = j.value("ts", "");
    std::lock_guard lock(mu_);
    if (!slack_messages_.count(channel + " " + ts)) {
      // fallthrough below with the lock released
      ts.clear();
    }
  }
  if (update && ts.empty()) return fail("message_not_found");
  if (!update) {
    std::lock_guard lock(mu_);
    ts = fmt::format("{}.{:06d}", WallMs() / 1000, ++slack_counter_ % 1000000);
    slack_messages_[channel + " " + ts] = j.value("text", "");
  }
  json ok = {{"ok", true}, {"channel", channel}, {"ts", ts}};
  Handle(req, respond, 200, ok.dump(),
         fmt::format("slack {} channel={} ts={}{} \"{}\"", method, channel, ts,
                     thread.empty() ? "" : " thread=" + thread, Short(j.value("text", ""))));
}

void ProviderSim::SlackWebhook(const http::Request& req, http::Respond respond) {
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    return Handle(req, respond, 400, "invalid_payload", "slack webhook invalid_payload",
                  "text/plain");
  }
  if (j.value("text", "").empty() && !j.contains("blocks")) {
    return Handle(req, respond, 400, "no_text", "slack webhook no_text", "text/plain");
  }
  if (j.contains("blocks")) {
    if (auto e = CheckBlocks(j["blocks"]); !e.empty()) {
      return Handle(req, respond, 400, "invalid_blocks", "slack webhook invalid_blocks: " + e,
                    "text/plain");
    }
  }
  Handle(req, respond, 200, "ok", "slack webhook \"" + Short(j.value("text", "")) + "\"",
         "text/plain");
}

}  // namespace tocsin::sim
