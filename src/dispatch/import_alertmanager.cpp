// `tocsin config import --from alertmanager`: an Alertmanager configuration's route tree,
// receivers and inhibit rules as tocsin.yaml sections.
#include "tocsin/dispatch/alertmanager_import.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::dispatch {

namespace {

std::string Quote(std::string_view s) { return DumpJson(nlohmann::json(std::string(s))); }
std::string Scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : ""; }

class Importer {
 public:
  Importer(std::string file, const AlertmanagerImportOptions& options, config::Diagnostics& diags)
      : file_(std::move(file)), options_(options), diags_(diags) {}

  // A warning on stderr and a comment in the output at `indent`.
  void Note(const YAML::Node& at, const std::string& field, const std::string& why,
            const std::string& indent) {
    auto pos = config::PositionOf(file_, at);
    diags_.Warning(pos, "not mapped: " + field + ": " + why);
    out_ += fmt::format("{}# Not mapped: {}:{}: {}: {}\n", indent, file_, pos.line, field, why);
  }

  // Alertmanager matcher ("severity = critical", 'team=~"a|b"') -> tocsin's quoted form.
  std::optional<std::string> Matcher(std::string m) {
    static const std::regex kMatcher(
        R"re(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*)re");
    std::smatch s;
    if (!std::regex_match(m, s, kMatcher)) return std::nullopt;
    // Unescaped as Alertmanager does, then written in tocsin's quoting: \n, \" and \\ are
    // escapes, any other backslash is kept, so the regex db\d+ stays db\d+ (dropping it made
    // "dbd+", and the alerts it routed went to another receiver).
    const std::string raw = s[3].matched ? s[3].str() : s[4].str();
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 == raw.size()) {
        value += raw[i];
        continue;
      }
      const char c = raw[++i];
      if (c == 'n') {
        value += '\n';
      } else if (c == '"' || c == '\\') {
        value += c;
      } else {
        value += '\\';
        value += c;
      }
    }
    return s[1].str() + s[2].str() + Quote(value);
  }

  // matchers, plus the deprecated match / match_re maps, as one list of tocsin matchers.
  std::vector<std::string> Matchers(const YAML::Node& node, const std::string& prefix,
                                    const std::string& field, const std::string& indent) {
    std::vector<std::string> out;
    if (YAML::Node list = node[prefix + "matchers"]; list && list.IsSequence()) {
      for (const auto& item : list) {
        std::string text = Scalar(item);
        if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
          text = text.substr(1, text.size() - 2);
        }
        // Several matchers in one string, comma-separated outside quotes.
        std::vector<std::string> parts;
        std::string cur;
        bool quoted = false;
        for (std::size_t i = 0; i < text.size(); ++i) {
          char c = text[i];
          if (c == '\\' && i + 1 < text.size()) {
            cur += c;
            cur += text[++i];
            continue;
          }
          if (c == '"') quoted = !quoted;
          if (c == ',' && !quoted) {
            parts.push_back(cur);
            cur.clear();
          } else {
            cur += c;
          }
        }
        if (!cur.empty()) parts.push_back(cur);
        for (const auto& p : parts) {
          if (auto m = Matcher(p)) {
            out.push_back(*m);
          } else {
            Note(item, field + "." + prefix + "matchers",
                 "\"" + p + "\" is not a matcher (name, =, !=, =~ or !~, value)", indent);
          }
        }
      }
    }
    for (const char* kind : {"match", "match_re"}) {
      YAML::Node map = node[prefix + kind];
      if (!map || !map.IsMap()) continue;
      for (const auto& kv : map) {
        out.push_back(kv.first.Scalar() + (std::string(kind) == "match" ? "=" : "=~") +
                      Quote(Scalar(kv.second)));
      }
    }
    return out;
  }

  void List(const std::string& indent, const std::string& key,
            const std::vector<std::string>& items) {
    std::string joined;
    for (const auto& i : items) joined += (joined.empty() ? "" : ", ") + Quote(i);
    out_ += fmt::format("{}{}: [{}]\n", indent, key, joined);
  }

  void Route(const YAML::Node& route, const std::string& field, const std::string& indent,
             bool root) {
    ++routes_;
    static const std::set<std::string> kDurations = {"group_wait", "group_interval",
                                                     "repeat_interval"};
    std::string first = indent.substr(0, indent.size() - 2) + (root ? "  " : "- ");
    std::string body;
    // Comments first (they go above the route), then the keys.
    std::string saved;
    saved.swap(out_);
    std::vector<std::string> matchers = Matchers(route, "", field, indent);
    for (const auto& kv : route) {
      std::string key = kv.first.Scalar();
      const std::string f = field + "." + key;
      if (key == "receiver") {
        body += fmt::format("{}receiver: {}\n", indent, Quote(Scalar(kv.second)));
      } else if (key == "group_by") {
        std::vector<std::string> labels;
        for (const auto& l : kv.second) labels.push_back(Scalar(l));
        body += indent;
        std::string list;
        for (const auto& l : labels) list += (list.empty() ? "" : ", ") + Quote(l);
        body += "group_by: [" + list + "]\n";
      } else if (kDurations.count(key)) {
        if (ParseDuration(Scalar(kv.second))) {
          body += fmt::format("{}{}: {}\n", indent, key, Scalar(kv.second));
        } else {
          Note(kv.second, f, "not a duration tocsin reads", indent);
        }
      } else if (key == "continue") {
        if (root) {
          Note(kv.second, f, "the root route cannot continue", indent);
        } else {
          body += fmt::format("{}continue: {}\n", indent, Scalar(kv.second));
        }
      } else if (key == "matchers" || key == "match" || key == "match_re") {
        if (root && kv.second.size() > 0) {
          Note(kv.second, f, "the root route takes every alert: its matchers are dropped", indent);
        }
      } else if (key == "mute_time_intervals" || key == "active_time_intervals") {
        Note(kv.second, f,
             "tocsin has maintenance_windows (docs/routing.md) instead of time intervals on "
             "routes: write the window there",
             indent);
      } else if (key != "routes") {
        Note(kv.second, f, "not a route field tocsin has", indent);
      }
    }
    std::string comments;
    comments.swap(out_);
    out_ = saved + comments;
    if (!root && !matchers.empty()) {
      body = fmt::format("{}", indent) + "matchers: [" +
             [&] {
               std::string l;
               for (const auto& m : matchers) l += (l.empty() ? "" : ", ") + Quote(m);
               return l;
             }() +
             "]\n" + body;
    }
    if (!root && body.empty()) body = indent + "matchers: []\n";
    if (!root) body.replace(0, indent.size(), first);
    out_ += body;
    if (YAML::Node children = route["routes"];
        children && children.IsSequence() && children.size() > 0) {
      out_ += indent + "routes:\n";
      std::size_t i = 0;
      for (const auto& c : children) {
        Route(c, fmt::format("{}.routes[{}]", field, i++), indent + "    ", false);
      }
    }
  }

  void Receiver(const YAML::Node& r, const std::string& field) {
    ++receivers_;
    const std::string in = "    ";
    std::string name = Scalar(r["name"]);
    std::vector<std::string> slack, email, webhook;
    bool pages = false;
    std::string saved;
    saved.swap(out_);
    for (const auto& kv : r) {
      std::string key = kv.first.Scalar();
      const std::string f = field + "." + key;
      if (key == "name") continue;
      std::size_t i = 0;
      for (const auto& cfg : kv.second) {
        std::string cf = fmt::format("{}[{}]", f, i++);
        std::string mapped_key;
        if (key == "slack_configs") {
          if (std::string ch = Scalar(cfg["channel"]); !ch.empty()) {
            slack.push_back(ch);
          } else {
            Note(cfg, cf,
                 "no channel (the webhook's own channel): tocsin posts with a bot token to a "
                 "named channel",
                 in);
          }
          mapped_key = "channel";
        } else if (key == "email_configs") {
          std::string to = Scalar(cfg["to"]);
          std::stringstream ss(to);
          for (std::string a; std::getline(ss, a, ',');) {
            a.erase(0, a.find_first_not_of(' '));
            a.erase(a.find_last_not_of(' ') + 1);
            if (!a.empty()) email.push_back(a);
          }
          mapped_key = "to";
        } else if (key == "webhook_configs") {
          if (std::string url = Scalar(cfg["url"]); !url.empty()) {
            webhook.push_back(url);
          } else {
            Note(cfg, cf, "no url (url_file is not read): write the URL", in);
          }
          mapped_key = "url";
        } else if (key == "pagerduty_configs" || key == "opsgenie_configs") {
          pages = true;
          std::string provider = key == "pagerduty_configs" ? "pagerduty" : "opsgenie";
          for (const auto& c : cfg) {
            std::string k = c.first.Scalar();
            std::string why =
                k == "routing_key" || k == "service_key" || k == "api_key"
                    ? "a secret, not copied: set it once as providers." + provider +
                          " (docs/configuration.md), e.g. from an environment variable"
                    : "tocsin pages through escalation policy \"" + options_.escalation_policy +
                          "\" and builds the " + provider + " event itself";
            Note(c.second, cf + "." + k, why, in);
          }
          continue;
        } else if (key == "msteams_configs" || key == "msteamsv2_configs") {
          Note(cfg, cf,
               "tocsin reaches Microsoft Teams through an escalation policy's channels "
               "([teams], docs/configuration.md), not as a receiver notice",
               in);
          continue;
        } else {
          Note(cfg, cf,
               "tocsin has no " + key.substr(0, key.find("_configs")) +
                   " notifier (receivers notify by Slack, e-mail and webhook, and page through "
                   "escalation policies)",
               in);
          continue;
        }
        for (const auto& c : cfg) {
          std::string k = c.first.Scalar();
          if (k == mapped_key) continue;
          Note(c.second, cf + "." + k,
               k == "api_url" || k == "api_url_file" || k == "auth_password"
                   ? "a credential, not copied: set it once under providers: "
                     "(docs/configuration.md)"
                   : "tocsin's notices have no such setting",
               in);
        }
      }
    }
    if (pages && !(slack.empty() && email.empty() && webhook.empty())) {
      // tocsin sends a paging receiver's messages with its incident (to providers.slack's
      // channel), never its notices: keeping them would promise messages that are not sent.
      Note(r, field,
           "a receiver that pages sends no Slack, e-mail or webhook notices (its incident goes "
           "to providers.slack.channel); move them to a receiver without paging",
           in);
      slack.clear();
      email.clear();
      webhook.clear();
    }
    std::string comments;
    comments.swap(out_);
    out_ = saved + comments;
    out_ += fmt::format("  - name: {}\n", Quote(name));
    if (pages)
      out_ += fmt::format("{}escalation_policy: {}\n", in, Quote(options_.escalation_policy));
    auto list = [&](const char* key, const char* field_name, const std::vector<std::string>& v) {
      if (v.empty()) return;
      std::string items;
      for (const auto& x : v)
        items += fmt::format("{}{{{}: {}}}", items.empty() ? "" : ", ", field_name, Quote(x));
      out_ += fmt::format("{}{}: [{}]\n", in, key, items);
    };
    list("slack", "channel", slack);
    list("email", "to", email);
    list("webhook", "url", webhook);
  }

  void Inhibit(const YAML::Node& rule, const std::string& field) {
    ++inhibit_;
    const std::string in = "    ";
    std::string saved;
    saved.swap(out_);
    auto source = Matchers(rule, "source_", field, in);
    auto target = Matchers(rule, "target_", field, in);
    for (const auto& kv : rule) {
      std::string key = kv.first.Scalar();
      static const std::set<std::string> kKnown = {
          "source_matchers", "target_matchers", "source_match", "source_match_re",
          "target_match",    "target_match_re", "equal"};
      if (!kKnown.count(key)) Note(kv.second, field + "." + key, "not an inhibit rule field", in);
    }
    std::string comments;
    comments.swap(out_);
    out_ = saved + comments;
    std::string src, tgt, eq;
    for (const auto& m : source) src += (src.empty() ? "" : ", ") + Quote(m);
    for (const auto& m : target) tgt += (tgt.empty() ? "" : ", ") + Quote(m);
    for (const auto& l : rule["equal"]) eq += (eq.empty() ? "" : ", ") + Quote(Scalar(l));
    out_ += fmt::format("  - source_matchers: [{}]\n    target_matchers: [{}]\n", src, tgt);
    if (!eq.empty()) out_ += fmt::format("    equal: [{}]\n", eq);
  }

  std::optional<AlertmanagerImport> Run() {
    auto doc = config::LoadYamlFile(file_, diags_);
    if (!doc) return std::nullopt;
    const YAML::Node& root = doc->root;
    if (!root.IsMap() || !root["route"] || !root["route"].IsMap()) {
      diags_.Error(config::PositionOf(file_, root),
                   "not an Alertmanager configuration: no `route` mapping");
      return std::nullopt;
    }
    out_ += fmt::format(
        "# Imported by `tocsin config import --from alertmanager` from {}.\n"
        "# Put these sections in tocsin.yaml (docs/routing.md); fields that could not be mapped\n"
        "# are listed as comments where they were.\n",
        file_);
    for (const auto& kv : root) {
      std::string key = kv.first.Scalar();
      if (key == "route" || key == "receivers" || key == "inhibit_rules") continue;
      std::string why =
          key == "global"
              ? "provider settings and credentials go under providers: (docs/configuration.md); "
                "resolve_timeout is alertmanager.resolve_timeout in tocsin.yaml"
          : key == "templates"
              ? "tocsin renders pages with its own templates (notify.templates_dir)"
          : key == "time_intervals" || key == "mute_time_intervals"
              ? "write them as maintenance_windows (docs/routing.md)"
              : "not a section tocsin has";
      Note(kv.second, key, why, "");
    }
    out_ += "route:\n";
    Route(root["route"], "route", "  ", true);
    if (YAML::Node receivers = root["receivers"]; receivers && receivers.IsSequence()) {
      out_ += "receivers:\n";
      std::size_t i = 0;
      for (const auto& r : receivers) Receiver(r, fmt::format("receivers[{}]", i++));
    }
    if (YAML::Node rules = root["inhibit_rules"]; rules && rules.IsSequence() && rules.size()) {
      out_ += "inhibit_rules:\n";
      std::size_t i = 0;
      for (const auto& r : rules) Inhibit(r, fmt::format("inhibit_rules[{}]", i++));
    }
    return AlertmanagerImport{out_, routes_, receivers_, inhibit_};
  }

 private:
  std::string file_;
  const AlertmanagerImportOptions& options_;
  config::Diagnostics& diags_;
  std::string out_;
  std::size_t routes_ = 0, receivers_ = 0, inhibit_ = 0;
};

}  // namespace

std::optional<AlertmanagerImport> ImportAlertmanagerConfig(const std::string& file,
                                                           const AlertmanagerImportOptions& options,
                                                           config::Diagnostics& diags) {
  // A value of the wrong shape (a scalar where a mapping belongs) stops the conversion with its
  // position; yaml-cpp says it by throwing.
  try {
    return Importer(file, options, diags).Run();
  } catch (const YAML::Exception& e) {
    diags.Error({file, e.mark.line + 1, e.mark.column + 1},
                "not a valid Alertmanager configuration: unexpected structure (" + e.msg + ")");
    return std::nullopt;
  }
}

}  // namespace tocsin::dispatch
