#include "tocsin/app/runtime_config.h"

#include "tocsin/notify/runbook.h"

#include <algorithm>
#include <set>

#include "tocsin/http/api_auth.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "notify/notifier_factory.h"
#include "notify/page_renderer.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/config/yaml_reader.h"
#include "tocsin/oncall/roster_loader.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/panel/panel_config.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::app {

namespace {

// On-call and incidents (issue 5): roster, fairness, policies, incidents, store.
void LoadOncallAndIncidents(RuntimeConfig& rc, RuntimeLoadResult& out) {
  const auto& main = rc.main;
  if (!main.roster_file.empty()) {
    config::Diagnostics roster_diags;
    rc.roster = oncall::LoadRoster(main.roster_file, roster_diags);
    out.diagnostics.Append(roster_diags);
    if (rc.roster) {
      oncall::Schedule schedule(*rc.roster);
      // Only SystemClock reads the wall clock; the check looks ahead from this moment.
      SystemClock clock;
      TimePoint now = clock.Now();
      out.roster_findings =
          oncall::CheckRoster(schedule, now, now + std::chrono::hours(24 * kRosterCheckDays));
      for (const auto& f : out.roster_findings) {
        out.diagnostics.Warning({main.roster_file, 0, 0},
                                fmt::format("[{}] {}", f.rule, f.message));
      }
    }
  }
  rc.policies = incident::LoadEscalationPolicies(main, rc.roster ? &*rc.roster : nullptr,
                                                 notify::ProviderNames(), out.diagnostics);
  rc.incidents = incident::LoadIncidentsConfig(main, out.diagnostics);
  if (rc.roster) {
    auto roles = rc.roster->Roles();
    if (std::find(roles.begin(), roles.end(), rc.incidents.commander_role) == roles.end()) {
      auto it = main.sections.find("incidents");
      config::Position pos{main.file, 0, 0};
      if (it != main.sections.end()) pos = config::PositionOf(main.file, it->second);
      out.diagnostics.Error(pos, fmt::format("incidents.commander_role: no rotation in {} has "
                                             "role \"{}\"",
                                             main.roster_file, rc.incidents.commander_role));
    }
  }
  rc.store = store::LoadStoreConfig(main, out.diagnostics);
  rc.ha = ha::LoadHaConfig(main, out.diagnostics);
  FitSessionTimeoutToLease(rc.store.url, rc.ha.lease);
}

}  // namespace

// The store's PostgreSQL sessions end a transaction left idle for 5 s (store_url.cpp): what
// frees the lease row's FOR SHARE lock that a paused active holds. With a short lease that 5 s
// outlasts the lease and delays the takeover; half the lease frees it before the lease expires
// (the lease runs at least lease - lease/3 past the pause). A value set in store.url wins.
void FitSessionTimeoutToLease(store::StoreUrl& url, Duration lease) {
  constexpr std::string_view kSetting = "idle_in_transaction_session_timeout";
  if (url.dialect != store::Dialect::kPostgres) return;
  const auto half = lease.count() / 2;
  if (half >= 5000) return;
  auto it = url.params.find("options");
  if (it != url.params.end() && it->second.find(kSetting) != std::string::npos) return;
  std::string add = fmt::format("-c {}={}", kSetting, half);
  if (it == url.params.end()) {
    url.params.emplace("options", add);
  } else {
    it->second += " " + add;
  }
}

namespace {

void CheckReachable(const RuntimeConfig& rc, config::Diagnostics& diags);

// A receiver's slack, email or webhook notices whose provider is not configured are never sent:
// say so at the notice, while it can still be fixed.
void CheckNoticeProviders(const RuntimeConfig& rc, config::Diagnostics& diags) {
  auto section = rc.main.sections.find("receivers");
  if (section == rc.main.sections.end() || !section->second.IsSequence()) return;
  const auto& p = rc.main.providers;
  const std::pair<const char*, bool> kinds[] = {{"slack", p.slack.has_value()},
                                                {"email", p.email.has_value()},
                                                {"webhook", p.webhook.has_value()}};
  std::size_t i = 0;
  for (const auto& receiver : section->second) {
    for (const auto& [kind, configured] : kinds) {
      if (configured || !receiver.IsMap() || !receiver[kind]) continue;
      diags.Warning(config::PositionOf(rc.main.file, receiver[kind]),
                    fmt::format("receivers[{}].{}: no providers.{} is configured, so these "
                                "notices are never sent (configure providers.{}, or remove them)",
                                i, kind, kind, kind));
    }
    ++i;
  }
}

// Checks that need more than one module's configuration.
void CrossCheck(const RuntimeConfig& rc, config::Diagnostics& diags) {
  // Every paging rule's runbook has the six sections of the template: the person woken at
  // 3 a.m. must find Detect, Quick checks, ... in it, not a stub.
  auto check_runbook = [&](const rules::AlertTemplateFields& alert, const std::string& file,
                           int line) {
    if (alert.runbook.empty()) return;  // the rules loader already demands one for paging rules
    notify::ValidateRunbook(notify::RunbookPath(rc.main.runbook_dir, alert.runbook),
                            {file, line, 0}, diags);
  };
  for (const auto& group : rc.rules.groups) {
    for (const auto& slo : group.slos) {
      bool pages = false;
      for (const auto& tier : slo.tiers) {
        pages = pages || (tier.enabled && tier.severity == Severity::kCritical);
      }
      if (pages) check_runbook(slo.alert, slo.file, slo.line);
    }
    for (const auto& rule : group.rules) {
      if (rule.severity == Severity::kCritical) check_runbook(rule.alert, rule.file, rule.line);
    }
  }
  // Incidents with nowhere to page are silent: say so before 3 a.m. does.
  const auto& prov = rc.main.providers;
  bool can_page =
      prov.pagerduty || prov.opsgenie || prov.jsm || (prov.slack && !prov.slack->bot_token.empty());
  bool pages = std::any_of(rc.dispatch.receivers.begin(), rc.dispatch.receivers.end(),
                           [](const auto& r) { return !r.escalation_policy.empty(); });
  if (pages && !can_page) {
    diags.Warning({rc.main.file, 0, 0},
                  "receivers open incidents but no paging provider is configured: nobody will be "
                  "paged (configure providers.pagerduty, providers.opsgenie, providers.jsm or "
                  "providers.slack "
                  "with a bot_token)");
  }
  if (pages && can_page) CheckReachable(rc, diags);
  CheckNoticeProviders(rc, diags);
  // A receiver that pages reaches people through its incident (PagerDuty, Opsgenie and the
  // incident's Slack message); extra notices on it would post the same thing twice.
  for (const auto& r : rc.dispatch.receivers) {
    if (!r.escalation_policy.empty() && !r.notices.empty()) {
      diags.Warning({rc.main.file, 0, 0},
                    "receiver \"" + r.name +
                        "\" has an escalation policy and notices: its groups "
                        "open incidents, whose Slack message goes to providers.slack.channel; the "
                        "notices are not sent (remove them, or move them to a receiver without a "
                        "policy)");
    }
  }
}

// Whether a rotation's role fills a policy target's role ("l2-{domain}" fills any "l2-...").
bool RoleMatches(const std::string& target, const std::string& role) {
  auto pos = target.find("{domain}");
  if (pos == std::string::npos) return target == role;
  std::string prefix = target.substr(0, pos);
  std::string suffix = target.substr(pos + 8);
  return role.size() > prefix.size() + suffix.size() && role.starts_with(prefix) &&
         role.ends_with(suffix);
}

// Everyone a policy target can page: the members of its rotations (and who covers for them),
// the team, or the person, with the newcomers who shadow any of them.
std::set<std::string> PeopleOf(const oncall::Roster& roster, const incident::EscalationTarget& t) {
  std::set<std::string> out;
  auto add_rotation = [&](const oncall::Rotation& r) {
    for (const auto& group : r.member_groups) out.insert(group.begin(), group.end());
    for (const auto& o : roster.overrides) {
      if (o.rotation == r.name && !o.person.empty()) out.insert(o.person);
    }
  };
  if (!t.person.empty()) out.insert(t.person);
  for (const auto& r : roster.rotations) {
    if ((!t.role.empty() && RoleMatches(t.role, r.role)) ||
        (!t.rotation.empty() && r.name == t.rotation)) {
      add_rotation(r);
    }
  }
  if (!t.team.empty()) {
    if (const auto* team = roster.FindTeam(t.team)) {
      out.insert(team->members.begin(), team->members.end());
    }
  }
  for (const auto& s : roster.shadows) {
    if (out.count(s.buddy)) out.insert(s.newcomer);
  }
  return out;
}

// A person a policy step may page whom none of the step's configured channels can reach is
// never paged: tocsin would only record "not paged" at 3 a.m. Say it now.
void CheckReachable(const RuntimeConfig& rc, config::Diagnostics& diags) {
  if (!rc.roster) return;
  const auto configured = notify::ConfiguredChannels(rc.main.providers);
  if (configured.empty()) return;  // reported above: nothing can page at all
  std::set<std::string> reported;
  // "pagerduty_user_id, opsgenie_username, slack_user_id or email": every provider's field.
  std::string identity_fields;
  std::vector<std::string_view> fields;
  for (const auto& p : notify::Providers()) {
    if (!p.identity_field.empty()) fields.push_back(p.identity_field);
  }
  for (std::size_t k = 0; k < fields.size(); ++k) {
    identity_fields += k == 0 ? "" : (k + 1 == fields.size() ? " or " : ", ");
    identity_fields += fields[k];
  }
  for (const auto& [name, policy] : rc.policies.policies) {
    for (std::size_t i = 0; i < policy.steps.size(); ++i) {
      const auto& step = policy.steps[i];
      for (const auto& target : step.targets) {
        for (const auto& id : PeopleOf(*rc.roster, target)) {
          const auto* person = rc.roster->FindPerson(id);
          if (!person || reported.count(id)) continue;
          std::string tried;
          bool reachable = false;
          for (auto c : step.channels) {
            bool on = std::find(configured.begin(), configured.end(), c) != configured.end();
            const auto* provider = notify::FindProvider(c);
            reachable = reachable || (on && provider && provider->Reaches(*person));
            if (on)
              tried += fmt::format("{}{}", tried.empty() ? "" : ", ", incident::ChannelName(c));
          }
          if (reachable) continue;
          reported.insert(id);
          config::Position where{rc.roster->file, 0, 0};
          if (auto src = rc.roster->person_sources.find(id);
              src != rc.roster->person_sources.end()) {
            where.line = src->second.line;
            where.column = src->second.column;
          }
          diags.Warning(
              where,
              fmt::format("person \"{}\" may be paged by step {} of escalation policy \"{}\" "
                          "but no configured channel of that step can reach them ({}): they "
                          "will not be paged. Give them the identity of one of those channels in "
                          "{} ({})",
                          id, i + 1, name, tried.empty() ? "none configured" : "tried " + tried,
                          rc.roster->file, identity_fields));
        }
      }
    }
  }
}

}  // namespace

namespace {

RuntimeLoadResult LoadUnguarded(const std::string& path, const config::Overrides& overrides) {
  RuntimeLoadResult out;
  auto main = config::LoadConfig(path, overrides);
  out.diagnostics = std::move(main.diagnostics);
  out.io_error = main.io_error;
  // Errors in the main file (server, log, ...) do not stop the modules' sections from being
  // checked: every error of every file comes out of one run.
  if (!main.parsed) return out;
  RuntimeConfig rc;
  rc.main = std::move(*main.parsed);
  // Module loaders run here, each adding to out.diagnostics, then the cross checks.
  rc.api = http::LoadApiConfig(rc.main, out.diagnostics);
  rc.panel = panel::LoadPanelConfig(rc.main, out.diagnostics);
  LoadOncallAndIncidents(rc, out);
  if (auto rules = rules::LoadRules(rc.main, out.diagnostics)) rc.rules = std::move(*rules);
  if (auto d = dispatch::LoadDispatchConfig(rc.main, out.diagnostics)) rc.dispatch = std::move(*d);
  rc.notify = notify::ParseNotifyConfig(rc.main, out.diagnostics);
  notify::ValidateProviders(rc.main, out.diagnostics);
  rc.sla = report::LoadSlaConfig(rc.main, out.diagnostics);
  if (!rc.notify.templates_dir.empty()) {
    // A template that does not parse is a config error now, not a blank page at 3 a.m.
    notify::RenderOptions templates;
    templates.templates_dir = rc.notify.templates_dir;
    if (auto r = notify::PageRenderer::Create(templates); !r) {
      out.diagnostics.Error({rc.main.file, 0, 0}, "notify.templates_dir: " + r.error().message());
    }
  }
  if (!out.diagnostics.has_errors()) CrossCheck(rc, out.diagnostics);
  if (out.diagnostics.has_errors()) return out;
  out.config = std::move(rc);
  return out;
}

}  // namespace

RuntimeLoadResult LoadRuntimeConfig(const std::string& path, const config::Overrides& overrides) {
  // A loader that throws on a shape it did not expect is a defect, but its cost must stay a
  // refused config: `tocsin check` reporting it, a reload keeping the running config (an
  // exception out of the SIGHUP handler left every later signal unanswered).
  try {
    return LoadUnguarded(path, overrides);
  } catch (const YAML::Exception& e) {
    RuntimeLoadResult out;
    out.diagnostics.Error(
        {path, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1},
        "cannot read the configuration (" + e.msg + ")");
    return out;
  } catch (const std::exception& e) {
    RuntimeLoadResult out;
    out.diagnostics.Error({path, 0, 0},
                          std::string("cannot read the configuration (") + e.what() + ")");
    return out;
  }
}

}  // namespace tocsin::app
