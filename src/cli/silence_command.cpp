// `tocsin silence add|list|expire`: talks to a running daemon's Alertmanager-compatible API,
// so the same silences can be managed with amtool.
#include <fmt/format.h>

#include <pwd.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <memory>

#include "commands.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json.h"
#include "tocsin/common/system_clock.h"

namespace tocsin::cli {

namespace {

struct SilenceOptions {
  std::string url;     // DaemonUrl
  std::string config;  // FindConfigPath, for server.external_url
  Duration timeout = std::chrono::seconds(10);
  std::string output = "table";
  // add
  std::vector<std::string> matchers;
  std::string author;
  std::string comment;
  std::string duration = "1h";
  std::string start;
  std::string end;
  // list
  bool expired = false;
  // expire
  std::vector<std::string> ids;
};

// The server's answer to a failed request: Alertmanager sends a JSON string.
std::string ErrorText(const HttpClientResponse& r) {
  auto body = r.body;
  if (body.size() >= 2 && body.front() == '"') body = body.substr(1, body.size() - 2);
  return fmt::format("HTTP {}: {}", r.status, body);
}

int Send(const SilenceOptions& o, const std::string& method, const std::string& path,
         const std::string& body, HttpClientResponse* out) {
  CurlHttpClient client;
  HttpClientRequest req;
  req.method = method;
  const std::string base = DaemonUrl(o.url, o.config);
  req.url = base + path;
  req.body = body;
  req.timeout = o.timeout;
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  auto r = client.Send(req);
  if (!r) {
    fmt::print(stderr, "cannot reach tocsin at {}: {}\n", base, r.error().message());
    return kExitUnreachable;
  }
  *out = *r;
  if (r->status / 100 != 2) {
    fmt::print(stderr, "{} {}: {}\n", method, path, ErrorText(*r));
    return kExitFailure;
  }
  return kExitOk;
}

int Add(const SilenceOptions& o) {
  SystemClock clock;
  TimePoint now = clock.Now();
  dispatch::Silence s;
  for (const auto& text : o.matchers) {
    auto ms = dispatch::ParseMatchers(text);
    if (!ms) {
      fmt::print(stderr, "matcher \"{}\": {}\n", text, ms.error().message());
      return kExitUsage;
    }
    for (auto& m : *ms) s.matchers.push_back(std::move(m));
  }
  s.starts_at = now;
  if (!o.start.empty()) {
    auto t = ParseTime(o.start);
    if (!t) {
      fmt::print(stderr, "--start: {}\n", t.error().message());
      return kExitUsage;
    }
    s.starts_at = *t;
  }
  if (!o.end.empty()) {
    auto t = ParseTime(o.end);
    if (!t) {
      fmt::print(stderr, "--end: {}\n", t.error().message());
      return kExitUsage;
    }
    s.ends_at = *t;
  } else {
    auto d = ParseDuration(o.duration);
    if (!d) {
      fmt::print(stderr, "--duration: {}\n", d.error().message());
      return kExitUsage;
    }
    s.ends_at = s.starts_at + *d;
  }
  s.created_by = o.author;
  if (s.created_by.empty()) {
    // Services and cron jobs often run without $USER; the account name still says who.
    const char* user = std::getenv("USER");
    if (user && *user) {
      s.created_by = user;
    } else if (const passwd* pw = ::getpwuid(::getuid())) {
      s.created_by = pw->pw_name;
    }
  }
  s.comment = o.comment;
  // Checked here too so that a typo is explained before anything is sent.
  if (auto v = s.Validate(now); !v) {
    fmt::print(stderr, "silence not created: {}\n", v.error().message());
    return kExitUsage;
  }
  HttpClientResponse r;
  int rc = Send(o, "POST", "/api/v2/silences", dispatch::SilenceToJson(s, now), &r);
  if (rc != kExitOk) return rc;
  // {"silenceID":"..."}
  auto pos = r.body.find("\"silenceID\":\"");
  if (pos == std::string::npos) {
    fmt::print(stderr, "unexpected answer: {}\n", r.body);
    return kExitFailure;
  }
  pos += 13;
  const std::string id = r.body.substr(pos, r.body.find('"', pos) - pos);
  if (o.output == "json") {
    fmt::print("{}\n", DumpJson(nlohmann::json{{"silenceID", id}}));
  } else {
    fmt::print("{}\n", id);
  }
  return kExitOk;
}

int List(const SilenceOptions& o) {
  std::string query;
  for (const auto& m : o.matchers)
    query += (query.empty() ? "?" : "&") + ("filter=" + UrlEncode(m));
  HttpClientResponse r;
  int rc = Send(o, "GET", "/api/v2/silences" + query, "", &r);
  if (rc != kExitOk) return rc;
  if (o.output == "json") {
    fmt::print("{}\n", r.body);
    return kExitOk;
  }
  auto list = dispatch::ParseSilenceListJson(r.body);
  if (!list) {
    fmt::print(stderr, "unexpected answer from tocsin: {}\n", list.error().message());
    return kExitFailure;
  }
  SystemClock clock;
  TimePoint now = clock.Now();
  Table table({"ID", "STATE", "STARTS", "ENDS", "CREATED BY", "MATCHERS", "COMMENT"});
  for (const auto& s : *list) {
    auto state = s.StateAt(now);
    if (state == dispatch::SilenceState::kExpired && !o.expired) continue;
    table.AddRow({s.id, std::string(dispatch::SilenceStateName(state)), FormatRfc3339(s.starts_at),
                  FormatRfc3339(s.ends_at), s.created_by, dispatch::MatchersToString(s.matchers),
                  s.comment});
  }
  table.Print();
  return kExitOk;
}

int Expire(const SilenceOptions& o) {
  int worst = kExitOk;
  nlohmann::json results = nlohmann::json::array();  // for -o json: what happened to each id
  for (const auto& id : o.ids) {
    HttpClientResponse r;
    // DELETE answers 200 for a silence that was already expired (as Alertmanager does), so
    // ask first: "expired" is printed only for a silence this command expired.
    int rc = Send(o, "GET", "/api/v2/silence/" + UrlEncode(id), "", &r);
    if (rc == kExitOk) {
      auto current = dispatch::ParseSilenceJson(r.body);
      if (current && current->StateAt(SystemClock().Now()) == dispatch::SilenceState::kExpired) {
        fmt::print(stderr, "silence {} already expired; nothing changed\n", id);
        results.push_back({{"id", id}, {"result", "already expired"}});
        worst = std::max(worst, kExitFailure);
        continue;
      }
      rc = Send(o, "DELETE", "/api/v2/silence/" + UrlEncode(id), "", &r);
    }
    if (o.output == "json") {
      results.push_back({{"id", id},
                         {"result", rc == kExitOk            ? "expired"
                                    : rc == kExitUnreachable ? "unreachable"
                                                             : "refused"}});
    } else if (rc == kExitOk) {
      fmt::print("expired {}\n", id);
    }
    worst = std::max(worst, rc);  // unreachable (3) outranks refused (1)
  }
  if (o.output == "json") fmt::print("{}\n", DumpJson(results, 2));
  return worst;
}

}  // namespace

void AddSilenceCommand(CLI::App& parent, int& exit_code) {
  auto o = std::make_shared<SilenceOptions>();
  auto* cmd = parent.add_subcommand(
      "silence", "Add, list and expire silences on a running tocsin (Alertmanager API)");
  cmd->require_subcommand(1);

  auto* add = cmd->add_subcommand("add", "Silence alerts matching all the given matchers");
  add->add_option("matchers", o->matchers,
                  "Matchers such as alertname=\"DepositErrors\" psp=~\"A|B\"")
      ->required();
  add->add_option("-a,--author", o->author, "Who silences (default: $USER)");
  add->add_option("-c,--comment", o->comment, "Why")->required();
  add->add_option("-d,--duration", o->duration, "How long, e.g. 2h")->default_val("1h");
  add->add_option("--start", o->start, "Start (RFC 3339; default now)");
  add->add_option("--end", o->end, "End (RFC 3339; overrides --duration)");
  add->add_option("--url", o->url, "tocsin's URL (default: server.external_url)");
  AddConfigOption(*add, o->config, " (for server.external_url)", false);
  add->add_option("-o,--output", o->output, "text (the new silence's id) or json")
      ->check(CLI::IsMember({"text", "json"}));
  add->callback([o, &exit_code] { exit_code = Add(*o); });

  auto* list = cmd->add_subcommand("list", "List silences (active and pending; --expired too)");
  list->add_option("matchers", o->matchers, "Only silences matching these label matchers");
  list->add_flag("--expired", o->expired, "Include expired silences (kept for audit)");
  list->add_option("-o,--output", o->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  list->add_option("--url", o->url, "tocsin's URL (default: server.external_url)");
  AddConfigOption(*list, o->config, " (for server.external_url)", false);
  list->callback([o, &exit_code] { exit_code = List(*o); });

  auto* expire = cmd->add_subcommand("expire", "Expire silences by id");
  expire->add_option("ids", o->ids, "Silence ids")->required();
  expire->add_option("--url", o->url, "tocsin's URL (default: server.external_url)");
  AddConfigOption(*expire, o->config, " (for server.external_url)", false);
  expire->add_option("-o,--output", o->output, "text or json (the result for each id)")
      ->check(CLI::IsMember({"text", "json"}));
  expire->callback([o, &exit_code] { exit_code = Expire(*o); });
}

}  // namespace tocsin::cli
