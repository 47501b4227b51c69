#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "tocsin/common/clock.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::config {

enum class LogFormat { kText, kJson };

struct ServerConfig {
  std::string listen = "127.0.0.1:9095";
  // URL people use to reach tocsin (links in pages, Slack buttons); defaults from `listen`.
  std::string external_url;
  Duration read_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  long long max_header_bytes = 16 * 1024;
  long long max_body_bytes = 4 * 1024 * 1024;
  long long max_connections = 1024;
  Duration shutdown_timeout = std::chrono::seconds(10);
};

struct LogConfig {
  LogFormat format = LogFormat::kText;
  std::string level = "info";
};

struct BasicAuth {
  std::string username;
  std::string password;
};

// One SLI source. Only Prometheus for now; `type` leaves room for others.
struct SourceConfig {
  std::string name;
  std::string type = "prometheus";
  std::string url;
  // Where people open this Prometheus (query links in pages); empty: `url`. Set it when tocsin
  // reaches Prometheus on an internal address that a phone cannot open.
  std::string external_url;
  Duration timeout = std::chrono::seconds(10);
  std::string bearer_token;
  std::optional<BasicAuth> basic_auth;
  std::string tls_ca_file;
  bool tls_insecure_skip_verify = false;
  std::vector<std::pair<std::string, std::string>> headers;
  // Failed evaluations in a row before the source-down alert fires.
  long long down_after_failures = 3;
};

struct PagerDutyConfig {
  std::string events_url = "https://events.pagerduty.com";
  std::string routing_key;
  std::string webhook_secret;  // v3 webhook signing secret
  // REST API (people added to the incident by responder requests). Every field defaults, so
  // that a config without them keeps the Events-only behaviour.
  std::string api_url = "https://api.pagerduty.com";  // EU: https://api.eu.pagerduty.com
  std::string api_token = {};     // empty: no REST calls, people only named in the event
  std::string from = {};          // e-mail of a PagerDuty user (the From header)
  std::string requester_id = {};  // that user's id, the responder requests' requester
  // One routing key per roster role ("comms" -> its own PagerDuty service): a target whose
  // role has one is paged by a trigger on that key instead of a responder request.
  std::vector<std::pair<std::string, std::string>> role_routing_keys = {};
};

struct OpsgenieConfig {
  std::string api_url = "https://api.opsgenie.com";
  std::string api_key;
  std::string heartbeat_name;
  // Shared token the Opsgenie outgoing webhook must send (X-Tocsin-Token header or ?token=).
  std::string webhook_token;
};

// Jira Service Management Operations, Opsgenie's successor: its integration API (an "API"
// integration's key, sent as `Authorization: GenieKey <key>`).
struct JsmConfig {
  std::string api_url = "https://api.atlassian.com";
  std::string api_key;
  // Shared token JSM's outgoing webhook integration must send as the custom header
  // X-Tocsin-Token.
  std::string webhook_token;
};

// Microsoft Teams through a channel's Workflows webhook (Adaptive Cards). The URL carries its
// own signature (`sig=`), so the whole URL is a secret.
struct TeamsConfig {
  std::string webhook_url;
};

struct SlackConfig {
  std::string api_url = "https://slack.com";
  std::string bot_token;
  std::string signing_secret;
  std::string channel;      // incident channel, e.g. "#incidents" or a channel id
  std::string webhook_url;  // incoming webhook for plain notices
  std::string slash_command = "/tocsin";
};

// How an smtp:// URL uses STARTTLS (smtps:// is TLS from the first byte).
enum class SmtpStartTls {
  kRequired,       // no STARTTLS offered, or a certificate that does not verify: nothing is sent
  kOpportunistic,  // TLS when the server offers it (and it verifies), clear text otherwise
  kOff,            // never TLS; only for a server on this host (loopback)
};

struct EmailConfig {
  std::string smtp_url;  // smtp://host:587 or smtps://host:465
  std::string from;
  std::string username;
  std::string password;
  // Unset: kRequired when username/password are set, kOpportunistic otherwise. Anything weaker
  // than that is accepted only for a loopback server (checked with the provider).
  std::optional<SmtpStartTls> starttls;
  std::string tls_ca_file;  // verify the server against this CA bundle instead of the system's
};

struct WebhookConfig {
  std::string url;
  std::string secret;  // HMAC-SHA256 key for the X-Tocsin-Signature header
};

// Twilio Programmable Messaging and Voice: SMS and phone calls straight to the roster's phone.
struct TwilioConfig {
  std::string api_url = "https://api.twilio.com";
  std::string account_sid;  // "AC" + 32 hex digits
  std::string auth_token;   // also the key of X-Twilio-Signature on Twilio's callbacks
  std::string from;         // the Twilio number pages come from, E.164
  // Base URL at which Twilio reaches tocsin (behind a proxy: the public one), for the keypress
  // callback and for checking signatures, which cover the URL exactly as Twilio called it.
  std::string public_url;
};

struct ProvidersConfig {
  std::optional<PagerDutyConfig> pagerduty;
  std::optional<OpsgenieConfig> opsgenie;
  std::optional<SlackConfig> slack;
  std::optional<EmailConfig> email;
  std::optional<WebhookConfig> webhook;
  std::optional<TwilioConfig> twilio;
  std::optional<JsmConfig> jsm;
  std::optional<TeamsConfig> teams;
};

// The whole of tocsin.yaml, validated. Paths in it are already resolved against the config
// file's directory.
struct Config {
  std::string file;      // where it was loaded from
  std::string base_dir;  // directory of `file`
  ServerConfig server;
  std::string data_dir = "/var/lib/tocsin";
  LogConfig log;
  std::string runbook_base_url;
  std::string runbook_dir;              // resolved; default <base_dir>/runbooks
  std::vector<std::string> rule_files;  // glob patterns, resolved
  std::string roster_file;              // resolved; empty when none
  std::vector<SourceConfig> sources;
  ProvidersConfig providers;
  // Sections that belong to other modules, kept as parsed YAML for them to validate (their
  // positions still point into `file`). See kModuleSections.
  std::map<std::string, YAML::Node> sections;
};

// Top-level keys of tocsin.yaml owned by modules rather than by the config module:
//   evaluation                           rules engine (default interval, ...)
//   route, receivers, inhibit_rules,
//   maintenance_windows, alertmanager    dispatch
//   store, escalation_policies, incidents  store / incident
//   notify                               notify (outbox, rate limits, fail-over, templates)
//   api                                  HTTP API (tokens, rate limits)
//   providers_sla                        report (provider SLIs, maintenance windows)
extern const std::vector<std::string> kModuleSections;

// What the command line overrides (Prometheus-style per-host flags).
struct Overrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
};

struct LoadResult {
  std::optional<Config> config;  // set only when there are no errors
  // Whatever could be read, errors or not (unset only when the YAML did not parse), so that the
  // module sections are still checked and one run reports every error of every file.
  std::optional<Config> parsed;
  Diagnostics diagnostics;
  bool io_error = false;  // the file could not be read at all (exit code 2, not 1)
};

// Loads and validates the main config file and applies the overrides. Registers every secret
// with the log redactor.
LoadResult LoadConfig(const std::string& path, const Overrides& overrides = {});
LoadResult LoadConfigString(const std::string& file_label, const std::string& text,
                            const Overrides& overrides = {});

// Validates a listen address "host:port" or ":port".
bool ParseListenAddress(const std::string& text, std::string* host, unsigned short* port,
                        std::string* error);

}  // namespace tocsin::config
