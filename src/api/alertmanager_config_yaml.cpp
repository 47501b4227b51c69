// tocsin's dispatch config written as an Alertmanager configuration, for
// /api/v2/status config.original: amtool (`config routes show`, `config routes test`) parses
// that text with Alertmanager's own config loader, so it must be valid Alertmanager YAML and
// describe the same routing tree. What Alertmanager cannot express (escalation policies,
// tocsin's notice channels, maintenance windows) is said in comments.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"

namespace tocsin::dispatch {

namespace {

void EmitStrings(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : items) out << YAML::DoubleQuoted << s;
  out << YAML::EndSeq;
}

void EmitMatchers(YAML::Emitter& out, const char* key, const Matchers& matchers) {
  std::vector<std::string> texts;
  for (const auto& m : matchers) texts.push_back(m.ToString());
  EmitStrings(out, key, texts);
}

void EmitRoute(YAML::Emitter& out, const RouteConfig& r, bool root) {
  out << YAML::BeginMap;
  out << YAML::Key << "receiver" << YAML::Value << YAML::DoubleQuoted << r.receiver;
  if (!root && !r.matchers.empty()) EmitMatchers(out, "matchers", r.matchers);
  if (!r.group_by.empty()) EmitStrings(out, "group_by", r.group_by);
  if (!root && r.continue_matching) out << YAML::Key << "continue" << YAML::Value << true;
  out << YAML::Key << "group_wait" << YAML::Value << FormatDuration(r.group_wait);
  out << YAML::Key << "group_interval" << YAML::Value << FormatDuration(r.group_interval);
  out << YAML::Key << "repeat_interval" << YAML::Value << FormatDuration(r.repeat_interval);
  if (!r.routes.empty()) {
    out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
    for (const auto& child : r.routes) EmitRoute(out, child, false);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

std::string ReceiverComment(const Receiver& r) {
  std::string what = r.escalation_policy.empty()
                         ? "notices only"
                         : "opens incidents with escalation policy " + r.escalation_policy;
  for (const auto& n : r.notices) {
    what += "; " + n.type + (n.target.empty() ? "" : " " + n.target);
  }
  return "in tocsin: " + what;
}

}  // namespace

std::string AlertmanagerConfigYaml(const DispatchConfig& config) {
  YAML::Emitter out;
  out << YAML::Comment(
      "tocsin's route, receivers and inhibit_rules in Alertmanager's format. Receivers "
      "deliver through tocsin (see the comment on each); maintenance windows are not shown.");
  out << YAML::BeginMap;
  out << YAML::Key << "global" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "resolve_timeout" << YAML::Value
      << FormatDuration(config.alertmanager.resolve_timeout);
  out << YAML::EndMap;
  out << YAML::Key << "route" << YAML::Value;
  EmitRoute(out, config.route, true);
  out << YAML::Key << "receivers" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : config.receivers) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << r.name
        << YAML::Comment(ReceiverComment(r)) << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!config.inhibit_rules.empty()) {
    out << YAML::Key << "inhibit_rules" << YAML::Value << YAML::BeginSeq;
    for (const auto& rule : config.inhibit_rules) {
      out << YAML::BeginMap;
      EmitMatchers(out, "source_matchers", rule.source_matchers);
      EmitMatchers(out, "target_matchers", rule.target_matchers);
      if (!rule.equal.empty()) EmitStrings(out, "equal", rule.equal);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tocsin::dispatch
