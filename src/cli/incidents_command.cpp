// tocsin incidents list|show|ack|resolve|note|escalate|update|verify|postmortem and tocsin
// drill start|stop: talk to the running daemon's API v1 (postmortem's draft reads the store
// instead), with a bearer token from --token-file or $TOCSIN_TOKEN when given.
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/config/config.h"
#include "tocsin/report/drill_scenarios.h"

namespace tocsin::cli {

namespace {

using nlohmann::json;

struct IncidentsOptions {
  std::string config;  // FindConfigPath
  std::string url;
  std::string output = "table";
  std::string actor;
  std::string token_file;
};

// The bearer token: --token-file wins over $TOCSIN_TOKEN; none means the daemon must trust
// this host (loopback without configured tokens). Never taken from the command line itself,
// where other users could read it in the process list.
std::optional<std::string> Token(const IncidentsOptions& o, std::string* error) {
  std::string token;
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in) {
      *error = fmt::format("cannot read the token file {}", o.token_file);
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    token = ss.str();
  } else if (const char* env = std::getenv("TOCSIN_TOKEN"); env != nullptr) {
    token = env;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.pop_back();
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
    token.erase(0, 1);
  }
  if (token.empty() && !o.token_file.empty()) {
    *error = fmt::format("the token file {} is empty", o.token_file);
    return std::nullopt;
  }
  return token;
}

// What to tell the user for an authentication answer, beyond the daemon's own message.
// A 403 also answers an actor who is not in the roster; the daemon's message says so, and a hint
// about token roles would then be wrong, so the role hint follows only the guard's answer.
std::string AuthHint(long status, const std::string& message) {
  switch (status) {
    case 401:
      return "not authenticated: give a token with --token-file FILE or TOCSIN_TOKEN (its "
             "SHA-256 must be in the daemon's api.tokens)";
    case 403:
      if (message.find("role") == std::string::npos) return {};
      return "forbidden: this token's role may not do this (viewer reads; responder also "
             "acknowledges, resolves, escalates and adds notes; admin also reloads)";
    case 429:
      return "rate limited: this token's requests_per_minute is spent; try again in a minute";
    default:
      return {};
  }
}

std::string BaseUrl(const IncidentsOptions& o) { return DaemonUrl(o.url, o.config); }

std::string DefaultActor() {
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "";
}

// Calls the API; prints errors; returns the JSON body on 2xx.
std::optional<json> Call(const IncidentsOptions& o, const std::string& method,
                         const std::string& path, const json* body, int& exit_code) {
  CurlHttpClient client;
  HttpClientRequest req;
  req.method = method;
  std::string base = BaseUrl(o);
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path;
  req.timeout = std::chrono::seconds(10);
  std::string token_error;
  auto token = Token(o, &token_error);
  if (!token) {
    fmt::print(stderr, "tocsin: {}\n", token_error);
    exit_code = kExitUsage;
    return std::nullopt;
  }
  if (!token->empty()) req.headers.emplace_back("Authorization", "Bearer " + *token);
  if (body != nullptr) {
    req.body = DumpJson(*body);
    req.headers.emplace_back("Content-Type", "application/json");
  }
  auto resp = client.Send(req);
  if (!resp) {
    fmt::print(stderr, "cannot reach tocsin at {}: {}\n", base, resp.error().message());
    exit_code = kExitUnreachable;
    return std::nullopt;
  }
  auto j = json::parse(resp->body, nullptr, false);
  if (resp->status < 200 || resp->status >= 300) {
    std::string msg =
        !j.is_discarded() && j.contains("error") ? j["error"].get<std::string>() : resp->body;
    fmt::print(stderr, "{} {}: {} {}\n", method, path, resp->status, msg);
    if (auto hint = AuthHint(resp->status, msg); !hint.empty()) fmt::print(stderr, "{}\n", hint);
    exit_code = resp->status == 404 || resp->status == 409 || resp->status == 403 ? kExitFailure
                                                                                  : kExitUsage;
    return std::nullopt;
  }
  if (j.is_discarded()) {
    fmt::print(stderr, "{} {}: the answer is not JSON\n", method, path);
    exit_code = kExitUsage;
    return std::nullopt;
  }
  return j;
}

void PrintIncidents(const json& incidents) {
  Table table({"ID", "SEV", "STATE", "COMMANDER", "OPENED", "TITLE"});
  for (const auto& i : incidents) {
    table.AddRow({JsonString(i, "id"), JsonString(i, "sev"), JsonString(i, "state"),
                  JsonString(i, "commander"), JsonString(i, "opened_at"), JsonString(i, "title")});
  }
  table.Print();
}

// The answer of a call that acted on one incident: as JSON, or its summary row.
void PrintIncidentAnswer(const IncidentsOptions& o, const json& answer) {
  if (o.output == "json") {
    fmt::print("{}\n", DumpJson(answer, 2));
  } else {
    PrintIncidents(json::array({answer["incident"]}));
  }
}

}  // namespace

void AddIncidentsCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("incidents",
                                    "List, show and act on incidents (needs the "
                                    "daemon)");
  cmd->require_subcommand(1);
  cmd->fallthrough();  // -c and --url may follow the subcommand too
  auto o = std::make_shared<IncidentsOptions>();
  AddConfigOption(*cmd, o->config, " (for server.external_url)");
  cmd->add_option("--url", o->url, "tocsin's URL (default: server.external_url)");
  cmd->add_option("--token-file", o->token_file,
                  "File holding the API bearer token (default: $TOCSIN_TOKEN)");
  cmd->add_option("-o,--output", o->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  auto id = std::make_shared<std::string>();

  auto list = cmd->add_subcommand("list", "Incidents, newest first");
  auto state = std::make_shared<std::string>("open");
  list->add_option("--state", *state, "open, triggered, acknowledged, resolved or all");
  list->callback([&exit_code, o, state] {
    auto j = Call(*o, "GET", "/api/v1/incidents?state=" + UrlEncode(*state), nullptr, exit_code);
    if (!j) return;
    if (o->output == "json") {
      fmt::print("{}\n", DumpJson((*j)["incidents"], 2));
    } else {
      PrintIncidents((*j)["incidents"]);
    }
    exit_code = kExitOk;
  });

  auto show = cmd->add_subcommand("show", "One incident and its timeline");
  show->add_option("id", *id, "Incident id, e.g. INC-42")->required();
  show->callback([&exit_code, o, id] {
    auto j = Call(*o, "GET", "/api/v1/incidents/" + UrlEncode(*id), nullptr, exit_code);
    if (!j) return;
    if (o->output == "json") {
      fmt::print("{}\n", DumpJson(*j, 2));
    } else {
      const auto& i = (*j)["incident"];
      fmt::print("{} {} {}: {}\ncommander: {}  policy: {}  opened: {}\n", JsonString(i, "id"),
                 JsonString(i, "sev"), JsonString(i, "state"), JsonString(i, "title"),
                 JsonString(i, "commander"), JsonString(i, "policy"), JsonString(i, "opened_at"));
      Table timeline({"SEQ", "AT", "KIND", "ACTOR", "TEXT"});
      for (const auto& e : (*j)["timeline"]) {
        timeline.AddRow({std::to_string(e["seq"].get<long long>()), JsonString(e, "at"),
                         JsonString(e, "kind"), JsonString(e, "actor"), JsonString(e, "text")});
      }
      timeline.Print();
    }
    exit_code = kExitOk;
  });

  auto text = std::make_shared<std::string>();
  for (const char* what : {"ack", "resolve", "note", "escalate"}) {
    std::string verb = what;
    auto sub = cmd->add_subcommand(verb, verb == "ack"        ? "Acknowledge: stops the ladder"
                                         : verb == "resolve"  ? "Resolve"
                                         : verb == "escalate" ? "Page the next ladder step now"
                                                              : "Add a timeline note");
    sub->add_option("id", *id, "Incident id")->required();
    sub->add_option("--actor", o->actor,
                    "Your roster id (default: $USER); ignored when a token names its person");
    if (verb == "note") sub->add_option("text", *text, "The note")->required();
    sub->callback([&exit_code, o, id, text, verb] {
      json body{{"actor", o->actor.empty() ? DefaultActor() : o->actor}};
      if (verb == "note") body["text"] = *text;
      auto j =
          Call(*o, "POST", "/api/v1/incidents/" + UrlEncode(*id) + "/" + verb, &body, exit_code);
      if (!j) return;
      PrintIncidentAnswer(*o, *j);
      exit_code = kExitOk;
    });
  }

  auto draft = std::make_shared<PostmortemDraftOptions>();
  auto done_url = std::make_shared<std::string>();
  auto postmortem = cmd->add_subcommand(
      "postmortem", "Draft the post-mortem in Markdown (from the store), or record where it is");
  postmortem->add_option("id", *id, "Incident id")->required();
  postmortem->add_option("-o,--out", draft->out, "Write the draft to FILE instead of stdout");
  postmortem->add_option("--database", draft->database,
                         "Database file instead of the config's store.path");
  postmortem->add_option("--done", *done_url,
                         "Record where the post-mortem is (through the daemon); ends reminders");
  postmortem->add_option("--actor", o->actor,
                         "Your roster id (default: $USER); ignored when a token names its person");
  postmortem->callback([&exit_code, o, id, draft, done_url] {
    if (done_url->empty()) {
      draft->config = o->config;
      draft->id = *id;
      exit_code = RunPostmortemDraft(*draft);
      return;
    }
    json body{{"actor", o->actor.empty() ? DefaultActor() : o->actor}, {"url", *done_url}};
    auto j =
        Call(*o, "POST", "/api/v1/incidents/" + UrlEncode(*id) + "/postmortem", &body, exit_code);
    if (!j) return;
    fmt::print("{}: post-mortem recorded: {}\n", *id, *done_url);
    exit_code = kExitOk;
  });

  auto update = cmd->add_subcommand(
      "update", "Post a status update: timeline, war room and status page; resets the reminder");
  auto situation = std::make_shared<std::string>();
  auto measures = std::make_shared<std::string>();
  auto next = std::make_shared<std::string>();
  update->add_option("id", *id, "Incident id")->required();
  update->add_option("--situation", *situation, "What is happening now")->required();
  update->add_option("--measures", *measures, "Temporary measures in place");
  update->add_option("--next", *next, "Next update in, e.g. 30m (default: the reminder interval)");
  update->add_option("--actor", o->actor,
                     "Your roster id (default: $USER); ignored when a token names its person");
  update->callback([&exit_code, o, id, situation, measures, next] {
    json body{{"actor", o->actor.empty() ? DefaultActor() : o->actor},
              {"situation", *situation},
              {"measures", *measures}};
    if (!next->empty()) body["next"] = *next;
    auto j = Call(*o, "POST", "/api/v1/incidents/" + UrlEncode(*id) + "/updates", &body, exit_code);
    if (!j) return;
    if (o->output == "json") {
      fmt::print("{}\n", DumpJson(*j, 2));
    } else {
      const auto& i = (*j)["incident"];
      fmt::print("{}: status update posted; next reminder at {}\n", JsonString(i, "id"),
                 JsonString(i, "next_reminder_at").empty() ? "none (below SEV-2)"
                                                           : JsonString(i, "next_reminder_at"));
    }
    exit_code = kExitOk;
  });

  auto verify = cmd->add_subcommand("verify", "Check the timeline's hash chain");
  verify->add_option("id", *id, "Incident id")->required();
  verify->callback([&exit_code, o, id] {
    auto j = Call(*o, "GET", "/api/v1/incidents/" + UrlEncode(*id) + "/verify", nullptr, exit_code);
    if (!j) return;
    bool ok = (*j)["ok"].get<bool>();
    if (o->output == "json") {
      fmt::print("{}\n", DumpJson(*j, 2));
    } else {
      fmt::print("{}: {}: {}\n", *id, ok ? "ok" : "TAMPERED", JsonString(*j, "message"));
    }
    exit_code = ok ? kExitOk : kExitFailure;
  });
}

void AddDrillCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand(
      "drill", "Run a drill scenario through the real ladder, every message marked DRILL");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  auto o = std::make_shared<IncidentsOptions>();
  AddConfigOption(*cmd, o->config, " (for server.external_url and drills.yaml beside it)");
  cmd->add_option("--url", o->url, "tocsin's URL (default: server.external_url)");
  cmd->add_option("--token-file", o->token_file,
                  "File holding the API bearer token (default: $TOCSIN_TOKEN)");
  cmd->add_option("-o,--output", o->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--actor", o->actor,
                  "Your roster id (default: $USER); ignored when a token names its person");

  auto start = cmd->add_subcommand("start", "Start a drill (opens a DRILL incident)");
  auto scenario = std::make_shared<std::string>();
  auto team = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  start->add_option("--scenario", *scenario, "Scenario name in the scenarios file")->required();
  start->add_option("--team", *team, "Team drilled (recorded, and set as the alerts' team label)");
  start->add_option("--scenarios", *file,
                    "Scenarios file (default: drills.yaml beside the configuration)");
  start->callback([&exit_code, o, scenario, team, file] {
    std::string path = *file;
    if (path.empty()) {
      auto found = FindConfigPath(o->config);
      if (found.path.empty()) {
        fmt::print(stderr, "tocsin: {} (or pass --scenarios FILE)\n", found.error);
        exit_code = kExitUsage;
        return;
      }
      path = (std::filesystem::path(found.path).parent_path() / "drills.yaml").string();
    }
    config::Diagnostics diags;
    auto scenarios = report::LoadDrillScenarios(path, diags);
    if (diags.has_errors()) {
      fmt::print(stderr, "{}", diags.ToString());
      exit_code = kExitUsage;
      return;
    }
    const report::DrillScenario* chosen = nullptr;
    std::string names;
    for (const auto& s : scenarios) {
      if (s.name == *scenario) chosen = &s;
      names += (names.empty() ? "" : ", ") + s.name;
    }
    if (!chosen) {
      fmt::print(stderr, "{}: no scenario \"{}\" (known: {})\n", path, *scenario, names);
      exit_code = kExitUsage;
      return;
    }
    json alerts = json::array();
    for (const auto& a : chosen->alerts) {
      json labels = json::object();
      for (const auto& l : a.labels.items()) labels[l.name] = l.value;
      alerts.push_back({{"labels", labels}, {"annotations", a.annotations}, {"state", "firing"}});
    }
    json body{{"actor", o->actor.empty() ? DefaultActor() : o->actor},
              {"scenario", chosen->name},
              {"team", *team},
              {"runbook", chosen->runbook},
              {"title", chosen->title},
              {"alerts", alerts}};
    if (!chosen->policy.empty()) body["policy"] = chosen->policy;
    auto j = Call(*o, "POST", "/api/v1/drills", &body, exit_code);
    if (!j) return;
    if (o->output == "json") {
      fmt::print("{}\n", DumpJson(*j, 2));
    } else {
      PrintIncidents(json::array({(*j)["incident"]}));
      fmt::print("stop it with: tocsin drill stop {}\n", JsonString((*j)["incident"], "id"));
    }
    exit_code = kExitOk;
  });

  auto stop = cmd->add_subcommand("stop", "Stop a drill now: resolve it everywhere");
  auto id = std::make_shared<std::string>();
  stop->add_option("id", *id, "The drill's incident id")->required();
  stop->callback([&exit_code, o, id] {
    json body{{"actor", o->actor.empty() ? DefaultActor() : o->actor}};
    auto j = Call(*o, "POST", "/api/v1/drills/" + UrlEncode(*id) + "/stop", &body, exit_code);
    if (!j) return;
    PrintIncidentAnswer(*o, *j);
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli
