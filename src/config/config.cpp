#include "tocsin/config/config.h"

#include <filesystem>

#include <fmt/format.h>

#include "tocsin/common/log.h"
#include "tocsin/common/url.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::config {

// Kept as a grid by hand: clang-format would put one name per line.
// clang-format off
const std::vector<std::string> kModuleSections = {
    "evaluation",          "route",        "receivers", "inhibit_rules",
    "maintenance_windows", "alertmanager", "store",     "escalation_policies",
    "incidents",           "notify",       "api",       "providers_sla",
    "panel",               "ha"};
// clang-format on

bool ParseListenAddress(const std::string& text, std::string* host, unsigned short* port,
                        std::string* error) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    *error = "invalid listen address \"" + text +
             "\" (expected host:port, e.g. 127.0.0.1:9095 or :9095)";
    return false;
  }
  std::string h = text.substr(0, colon);
  std::string p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  char* end = nullptr;
  long v = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end != '\0' || v < 0 || v > 65535) {
    *error = "invalid port \"" + p + "\" in listen address \"" + text + "\" (expected 0..65535)";
    return false;
  }
  *host = h.empty() ? "0.0.0.0" : h;
  *port = static_cast<unsigned short>(v);
  return true;
}

namespace {

void ReadServer(MapReader& r, ServerConfig& s) {
  if (r.String("listen", s.listen)) {
    std::string host, err;
    unsigned short port;
    if (!ParseListenAddress(s.listen, &host, &port, &err)) r.Error("listen", err);
  }
  r.Url("external_url", s.external_url);
  r.DurationValue("read_timeout", s.read_timeout);
  r.DurationValue("idle_timeout", s.idle_timeout);
  r.DurationValue("shutdown_timeout", s.shutdown_timeout);
  r.Int("max_header_bytes", s.max_header_bytes, false, 1024, 1 << 20);
  r.Int("max_body_bytes", s.max_body_bytes, false, 1024, 256LL << 20);
  r.Int("max_connections", s.max_connections, false, 1, 1000000);
}

void ReadLog(MapReader& r, LogConfig& l) {
  std::string format;
  if (r.Enum("format", format, {"text", "json"})) {
    l.format = format == "json" ? LogFormat::kJson : LogFormat::kText;
  }
  r.Enum("level", l.level, {"debug", "info", "warn", "error"});
}

void ReadSource(MapReader& r, SourceConfig& s, const std::string& base_dir) {
  r.String("name", s.name, true);
  r.Enum("type", s.type, {"prometheus"});
  r.Url("url", s.url, true);
  r.Url("external_url", s.external_url);
  r.DurationValue("timeout", s.timeout);
  r.Secret("bearer_token", s.bearer_token, base_dir);
  if (r.Has("basic_auth")) {
    MapReader b(r.file(), r.Node("basic_auth"), r.diags(), r.what() + ".basic_auth");
    BasicAuth auth;
    b.String("username", auth.username, true);
    b.Secret("password", auth.password, base_dir, true);
    s.basic_auth = auth;
  } else {
    r.Node("basic_auth");
  }
  if (!s.bearer_token.empty() && s.basic_auth) {
    r.Error("basic_auth", "give either bearer_token or basic_auth, not both");
  }
  if (r.String("tls_ca_file", s.tls_ca_file)) {
    s.tls_ca_file = ResolvePath(base_dir, s.tls_ca_file);
    if (!std::filesystem::exists(s.tls_ca_file)) {
      r.Error("tls_ca_file", "file " + s.tls_ca_file + " does not exist");
    }
  }
  r.Bool("tls_insecure_skip_verify", s.tls_insecure_skip_verify);
  r.StringMap("headers", s.headers);
  r.Int("down_after_failures", s.down_after_failures, false, 1, 1000);
}

void ReadProviders(MapReader& r, ProvidersConfig& p, const std::string& base_dir) {
  if (r.Has("pagerduty")) {
    MapReader m(r.file(), r.Node("pagerduty"), r.diags(), "providers.pagerduty");
    PagerDutyConfig c;
    m.Url("events_url", c.events_url);
    if (m.Secret("routing_key", c.routing_key, base_dir, true) && c.routing_key.size() != 32) {
      m.Error("routing_key", fmt::format("a PagerDuty integration key has 32 characters, this "
                                         "one has {}",
                                         c.routing_key.size()));
    }
    m.Secret("webhook_secret", c.webhook_secret, base_dir);
    m.Url("api_url", c.api_url);
    m.Secret("api_token", c.api_token, base_dir);
    m.String("from", c.from);
    m.String("requester_id", c.requester_id);
    if (m.StringMap("role_routing_keys", c.role_routing_keys)) {
      for (auto& [role, key] : c.role_routing_keys) {
        log::AddSecret(key);
        if (key.size() != 32) {
          m.Error("role_routing_keys",
                  fmt::format("the routing key of role \"{}\" has {} characters; a PagerDuty "
                              "integration key has 32",
                              role, key.size()));
        }
      }
    }
    p.pagerduty = c;
  } else {
    r.Node("pagerduty");
  }
  if (r.Has("opsgenie")) {
    MapReader m(r.file(), r.Node("opsgenie"), r.diags(), "providers.opsgenie");
    OpsgenieConfig c;
    m.Url("api_url", c.api_url);
    m.Secret("api_key", c.api_key, base_dir, true);
    m.String("heartbeat_name", c.heartbeat_name);
    if (m.Secret("webhook_token", c.webhook_token, base_dir) && c.webhook_token.size() < 16) {
      m.Error("webhook_token", "use at least 16 random characters (e.g. openssl rand -hex 16)");
    }
    p.opsgenie = c;
  } else {
    r.Node("opsgenie");
  }
  if (r.Has("slack")) {
    MapReader m(r.file(), r.Node("slack"), r.diags(), "providers.slack");
    SlackConfig c;
    m.Url("api_url", c.api_url);
    m.Secret("bot_token", c.bot_token, base_dir);
    m.Secret("signing_secret", c.signing_secret, base_dir);
    m.String("channel", c.channel);
    if (m.Secret("webhook_url", c.webhook_url, base_dir)) {
      // Validate the shape without echoing the secret URL.
      if (!IsAbsoluteHttpUrl(c.webhook_url)) {
        m.Error("webhook_url", "expected an http:// or https:// URL");
      }
    }
    if (m.String("slash_command", c.slash_command) && c.slash_command.rfind('/', 0) != 0) {
      m.Error("slash_command", "a slash command starts with \"/\", e.g. /tocsin");
    }
    // Presence, not value: a bot_token whose ${ENV} is unset is already one error.
    bool credentials = false;
    for (const char* k : {"bot_token", "bot_token_file", "webhook_url", "webhook_url_file"}) {
      credentials = credentials || m.Has(k);
    }
    if (!credentials) {
      r.diags().Error(m.Here(),
                      "providers.slack: give bot_token (Web API) or webhook_url "
                      "(incoming webhook), or both");
    }
    p.slack = c;
  } else {
    r.Node("slack");
  }
  if (r.Has("email")) {
    MapReader m(r.file(), r.Node("email"), r.diags(), "providers.email");
    EmailConfig c;
    if (m.String("smtp_url", c.smtp_url, true) && c.smtp_url.rfind("smtp://", 0) != 0 &&
        c.smtp_url.rfind("smtps://", 0) != 0) {
      m.Error("smtp_url", "expected smtp://host:port or smtps://host:port");
    }
    m.String("from", c.from, true);
    m.String("username", c.username);
    m.Secret("password", c.password, base_dir);
    std::string starttls;
    if (m.Enum("starttls", starttls, {"required", "opportunistic", "off"})) {
      c.starttls = starttls == "required"        ? SmtpStartTls::kRequired
                   : starttls == "opportunistic" ? SmtpStartTls::kOpportunistic
                                                 : SmtpStartTls::kOff;
    }
    if (m.String("tls_ca_file", c.tls_ca_file)) {
      c.tls_ca_file = ResolvePath(base_dir, c.tls_ca_file);
      if (!std::filesystem::exists(c.tls_ca_file)) {
        m.Error("tls_ca_file", "file " + c.tls_ca_file + " does not exist");
      }
    }
    p.email = c;
  } else {
    r.Node("email");
  }
  if (r.Has("jsm")) {
    MapReader m(r.file(), r.Node("jsm"), r.diags(), "providers.jsm");
    JsmConfig c;
    m.Url("api_url", c.api_url);
    m.Secret("api_key", c.api_key, base_dir, true);
    if (m.Secret("webhook_token", c.webhook_token, base_dir) && c.webhook_token.size() < 16) {
      m.Error("webhook_token", "use at least 16 random characters (e.g. openssl rand -hex 16)");
    }
    p.jsm = c;
  } else {
    r.Node("jsm");
  }
  if (r.Has("teams")) {
    MapReader m(r.file(), r.Node("teams"), r.diags(), "providers.teams");
    TeamsConfig c;
    // Checked for its shape without echoing it: the URL is the credential.
    if (m.Secret("webhook_url", c.webhook_url, base_dir, true) &&
        !IsAbsoluteHttpUrl(c.webhook_url)) {
      m.Error("webhook_url", "expected the https:// URL the Teams Workflows app gave");
    }
    p.teams = c;
  } else {
    r.Node("teams");
  }
  if (r.Has("webhook")) {
    MapReader m(r.file(), r.Node("webhook"), r.diags(), "providers.webhook");
    WebhookConfig c;
    m.Url("url", c.url, true);
    m.Secret("secret", c.secret, base_dir);
    p.webhook = c;
  } else {
    r.Node("webhook");
  }
  if (r.Has("twilio")) {
    MapReader m(r.file(), r.Node("twilio"), r.diags(), "providers.twilio");
    TwilioConfig c;
    m.Url("api_url", c.api_url);
    m.String("account_sid", c.account_sid, true);
    m.Secret("auth_token", c.auth_token, base_dir, true);
    m.String("from", c.from, true);
    m.Url("public_url", c.public_url, true);
    p.twilio = c;
  } else {
    r.Node("twilio");
  }
}

LoadResult LoadFromDocument(std::optional<Document> doc, Diagnostics diags, const std::string& file,
                            const Overrides& overrides) {
  LoadResult result;
  result.diagnostics = std::move(diags);
  if (!doc) return result;
  Config cfg;
  cfg.file = file;
  cfg.base_dir = std::filesystem::path(file).parent_path().string();
  cfg.runbook_dir = ResolvePath(cfg.base_dir, "runbooks");
  Diagnostics& d = result.diagnostics;
  {
    MapReader top(file, doc->root, d, "config");
    if (top.ok()) {
      if (top.Has("server")) {
        MapReader r(file, top.Node("server"), d, "server");
        ReadServer(r, cfg.server);
      } else {
        top.Node("server");
      }
      if (top.String("data_dir", cfg.data_dir)) {
        cfg.data_dir = ResolvePath(cfg.base_dir, cfg.data_dir);
      }
      if (top.Has("log")) {
        MapReader r(file, top.Node("log"), d, "log");
        ReadLog(r, cfg.log);
      } else {
        top.Node("log");
      }
      if (top.Has("runbooks")) {
        MapReader r(file, top.Node("runbooks"), d, "runbooks");
        r.Url("base_url", cfg.runbook_base_url);
        std::string dir;
        if (r.String("dir", dir)) cfg.runbook_dir = ResolvePath(cfg.base_dir, dir);
      } else {
        top.Node("runbooks");
      }
      if (top.StringList("rule_files", cfg.rule_files)) {
        for (auto& f : cfg.rule_files) f = ResolvePath(cfg.base_dir, f);
      }
      if (top.String("roster_file", cfg.roster_file)) {
        cfg.roster_file = ResolvePath(cfg.base_dir, cfg.roster_file);
      }
      ForEachMap(top, "sources", "sources", [&](MapReader& r, std::size_t) {
        SourceConfig s;
        ReadSource(r, s, cfg.base_dir);
        for (const auto& other : cfg.sources) {
          if (!s.name.empty() && other.name == s.name) {
            r.Error("name", "duplicate source name \"" + s.name + "\"");
          }
        }
        cfg.sources.push_back(std::move(s));
      });
      if (top.Has("providers")) {
        MapReader r(file, top.Node("providers"), d, "providers");
        ReadProviders(r, cfg.providers, cfg.base_dir);
      } else {
        top.Node("providers");
      }
      for (const auto& section : kModuleSections) {
        YAML::Node n = top.Node(section);
        if (n && n.IsDefined() && !n.IsNull()) cfg.sections[section] = n;
      }
    }
  }
  if (overrides.listen) {
    std::string host, err;
    unsigned short port;
    if (!ParseListenAddress(*overrides.listen, &host, &port, &err)) {
      d.Error({"--listen", 0, 0}, err);
    }
    cfg.server.listen = *overrides.listen;
  }
  if (overrides.data_dir) cfg.data_dir = *overrides.data_dir;
  if (cfg.server.external_url.empty()) {
    std::string host, err;
    unsigned short port = 0;
    if (ParseListenAddress(cfg.server.listen, &host, &port, &err)) {
      if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
      cfg.server.external_url = fmt::format("http://{}:{}", host, port);
    }
  }
  if (!d.has_errors()) result.config = cfg;
  result.parsed = std::move(cfg);
  return result;
}

}  // namespace

LoadResult LoadConfig(const std::string& path, const Overrides& overrides) {
  Diagnostics diags;
  bool readable = std::filesystem::is_regular_file(path);
  auto doc = LoadYamlFile(path, diags);
  LoadResult r = LoadFromDocument(std::move(doc), std::move(diags), path, overrides);
  r.io_error = !readable;
  return r;
}

LoadResult LoadConfigString(const std::string& file_label, const std::string& text,
                            const Overrides& overrides) {
  Diagnostics diags;
  auto doc = LoadYamlString(file_label, text, diags);
  return LoadFromDocument(std::move(doc), std::move(diags), file_label, overrides);
}

}  // namespace tocsin::config
