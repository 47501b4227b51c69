#include "tocsin/incident/escalation_policy.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tocsin/common/duration.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::incident {

namespace {

using config::Diagnostics;
using config::MapReader;

void CheckRole(MapReader& r, const std::string& role, const EscalationPolicy& policy,
               const oncall::Roster* roster) {
  if (roster == nullptr) return;
  auto roles = roster->Roles();
  auto pos = role.find("{domain}");
  if (pos != std::string::npos) {
    std::string prefix = role.substr(0, pos);
    std::string suffix = role.substr(pos + 8);
    std::string fallback = prefix + policy.default_domain + suffix;
    if (std::find(roles.begin(), roles.end(), fallback) == roles.end()) {
      r.Error("role", fmt::format("role \"{}\" falls back to \"{}\" for alerts without a domain "
                                  "label, and no rotation has that role; add one to the roster "
                                  "or set default_domain",
                                  role, fallback));
    }
    return;
  }
  if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
    std::string hint = config::Suggest(role, roles);
    r.Error("role",
            fmt::format("unknown role \"{}\": no rotation in {} has it{}", role, roster->file,
                        hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
  }
}

template <typename Names>
void CheckName(MapReader& r, std::string_view key, std::string_view what, const std::string& name,
               const Names& names, const oncall::Roster& roster) {
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string hint = config::Suggest(name, names);
  r.Error(key, fmt::format("unknown {} \"{}\" (not in {}){}", what, name, roster.file,
                           hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
}

EscalationPolicy LoadPolicy(const std::string& name, MapReader& r, const oncall::Roster* roster,
                            const std::vector<std::string>& channel_names) {
  EscalationPolicy p;
  p.name = name;
  long long repeat = 0;
  if (r.Int("repeat", repeat, false, 0, 10)) p.repeat = static_cast<int>(repeat);
  r.DurationValue("repeat_after", p.repeat_after);
  Duration ack{0};
  if (r.DurationValue("ack_timeout", ack)) p.ack_timeout = ack;
  std::string resolve;
  if (r.Enum("resolve", resolve, {"auto", "manual"})) {
    p.resolve = resolve == "auto" ? ResolveMode::kAuto : ResolveMode::kManual;
  }
  r.String("default_domain", p.default_domain);
  std::vector<std::string> people, teams, rotations;
  if (roster != nullptr) {
    for (const auto& [id, person] : roster->people) people.push_back(id);
    for (const auto& t : roster->teams) teams.push_back(t.name);
    for (const auto& rot : roster->rotations) rotations.push_back(rot.name);
  }
  bool has_steps = r.Has("steps");
  Duration last{0};
  config::ForEachMap(
      r, "steps", fmt::format("policy \"{}\" step", name), [&](MapReader& s, std::size_t i) {
        EscalationStep step;
        s.DurationValue("after", step.after, true);
        if (i > 0 && step.after < last) {
          s.Error("after", fmt::format("steps must be in order: `after` {} is before the previous "
                                       "step's {}",
                                       FormatDuration(step.after), FormatDuration(last)));
        }
        last = step.after;
        std::vector<std::string> channels = {"pagerduty", "slack"};
        s.StringList("channels", channels);
        for (const auto& c : channels) {
          if (std::find(channel_names.begin(), channel_names.end(), c) != channel_names.end()) {
            step.channels.push_back(Channel::Named(c));
            continue;
          }
          std::string hint = config::Suggest(c, channel_names);
          s.Error("channels", fmt::format("unknown channel \"{}\"{}", c,
                                          hint.empty() ? fmt::format(" (known: {})",
                                                                     fmt::join(channel_names, ", "))
                                                       : "; did you mean \"" + hint + "\"?"));
        }
        config::ForEachMap(s, "targets", s.what() + " target", [&](MapReader& t, std::size_t) {
          EscalationTarget target;
          int set = 0;
          if (t.String("role", target.role)) {
            ++set;
            CheckRole(t, target.role, p, roster);
          }
          if (t.String("person", target.person)) {
            ++set;
            if (roster) CheckName(t, "person", "person", target.person, people, *roster);
          }
          if (t.String("team", target.team)) {
            ++set;
            if (roster) CheckName(t, "team", "team", target.team, teams, *roster);
          }
          if (t.String("rotation", target.rotation)) {
            ++set;
            if (roster) CheckName(t, "rotation", "rotation", target.rotation, rotations, *roster);
          }
          if (set != 1) {
            t.diags().Error(t.Here(), fmt::format("{}: set exactly one of role, person, team, "
                                                  "rotation",
                                                  t.what()));
          }
          step.targets.push_back(target);
          t.Finish();
        });
        if (step.targets.empty()) s.Error("targets", "a step needs at least one target");
        p.steps.push_back(step);
        s.Finish();
      });
  if (!has_steps) {
    r.diags().Error(r.Here(), r.what() + ": `steps` is required: the ladder, first step first");
  }
  if (roster == nullptr && has_steps) {
    r.Warning("steps",
              "no roster_file is configured: roles and people cannot be checked and "
              "nobody will be paged");
  }
  return p;
}

}  // namespace

const EscalationPolicy* PolicySet::Find(const std::string& name) const {
  auto it = policies.find(name);
  return it == policies.end() ? nullptr : &it->second;
}

EscalationPolicy DefaultPolicy() {
  EscalationPolicy p;
  p.name = "default";
  const std::vector<Channel> page = {Channel::kPagerDuty, Channel::kSlack};
  auto role = [](std::string r) {
    EscalationTarget t;
    t.role = std::move(r);
    return t;
  };
  p.steps.push_back({Duration(0), {role(oncall::kRoleL1)}, page});
  p.steps.push_back(
      {std::chrono::minutes(5), {role("l2-{domain}"), role(oncall::kRoleComms)}, page});
  p.steps.push_back({std::chrono::minutes(10), {role(oncall::kRoleDutyManager)}, page});
  return p;
}

PolicySet LoadEscalationPolicies(const config::Config& cfg, const oncall::Roster* roster,
                                 const std::vector<std::string>& channel_names,
                                 Diagnostics& diags) {
  PolicySet set;
  auto it = cfg.sections.find("escalation_policies");
  if (it == cfg.sections.end()) {
    set.policies["default"] = DefaultPolicy();
    return set;
  }
  const YAML::Node& node = it->second;
  if (!node.IsMap()) {
    diags.Error(config::PositionOf(cfg.file, node),
                "escalation_policies must be a mapping from policy name to policy");
    return set;
  }
  for (auto p = node.begin(); p != node.end(); ++p) {
    std::string name = p->first.as<std::string>("");
    MapReader r(cfg.file, p->second, diags, fmt::format("escalation policy \"{}\"", name));
    if (!r.ok()) {
      diags.Error(config::PositionOf(cfg.file, p->second),
                  fmt::format("escalation policy \"{}\" must be a mapping", name));
      continue;
    }
    set.policies[name] = LoadPolicy(name, r, roster, channel_names);
    r.Finish();
  }
  if (set.policies.count("default") == 0) {
    diags.Error(config::PositionOf(cfg.file, node),
                "escalation_policies has no policy named \"default\": it is used by manual "
                "incidents and receivers that name none");
  }
  return set;
}

IncidentsConfig LoadIncidentsConfig(const config::Config& cfg, Diagnostics& diags) {
  IncidentsConfig out;
  auto it = cfg.sections.find("incidents");
  if (it == cfg.sections.end()) return out;
  MapReader r(cfg.file, it->second, diags, "incidents");
  if (!r.ok()) {
    diags.Error(config::PositionOf(cfg.file, it->second), "incidents must be a mapping");
    return out;
  }
  if (r.DurationValue("reminder_interval", out.reminder_interval) &&
      out.reminder_interval < std::chrono::minutes(1)) {
    r.Error("reminder_interval", "reminder_interval must be at least 1m");
  }
  std::string resolve;
  if (r.Enum("resolve", resolve, {"auto", "manual"})) {
    out.resolve = resolve == "auto" ? ResolveMode::kAuto : ResolveMode::kManual;
  }
  r.DurationValue("ack_timeout", out.ack_timeout);
  r.DurationValue("reopen_window", out.reopen_window);
  r.String("commander_role", out.commander_role);
  r.Finish();
  return out;
}

}  // namespace tocsin::incident
