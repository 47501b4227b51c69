#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"
#include "tocsin/incident/page.h"
#include "tocsin/oncall/roster.h"

namespace tocsin::incident {

// Whom a step reaches. Exactly one of the fields is set. A role may contain "{domain}", which
// becomes the alert's `domain` label (role "l2-{domain}" -> "l2-payments").
struct EscalationTarget {
  std::string role;
  std::string person;
  std::string team;
  std::string rotation;
  friend bool operator==(const EscalationTarget&, const EscalationTarget&) = default;
};

struct EscalationStep {
  Duration after{0};  // since the ladder started (T0)
  std::vector<EscalationTarget> targets;
  std::vector<Channel> channels;
  friend bool operator==(const EscalationStep&, const EscalationStep&) = default;
};

enum class ResolveMode { kAuto, kManual };

struct EscalationPolicy {
  std::string name;
  std::vector<EscalationStep> steps;
  // Times the whole ladder runs again when nobody acknowledges, `repeat_after` after its last
  // step.
  int repeat = 0;
  Duration repeat_after = std::chrono::minutes(5);
  // Unset: the incidents section decides.
  std::optional<Duration> ack_timeout;
  std::optional<ResolveMode> resolve;
  // Domain used for "{domain}" when the alerts carry none.
  std::string default_domain = "sre-platform";
  friend bool operator==(const EscalationPolicy&, const EscalationPolicy&) = default;
};

// The `incidents` section.
struct IncidentsConfig {
  Duration reminder_interval = std::chrono::minutes(15);  // SEV-1/2 status update reminders
  ResolveMode resolve = ResolveMode::kAuto;
  Duration ack_timeout{0};  // 0: an ack holds until resolve
  // A group firing again within this time of its incident's resolve reopens it.
  Duration reopen_window = std::chrono::minutes(30);
  std::string commander_role = oncall::kRoleL1;
  friend bool operator==(const IncidentsConfig&, const IncidentsConfig&) = default;
};

struct PolicySet {
  std::map<std::string, EscalationPolicy> policies;
  const EscalationPolicy* Find(const std::string& name) const;
  friend bool operator==(const PolicySet&, const PolicySet&) = default;
};

// Validates `escalation_policies` and `incidents` from the main config's module sections
// (positions point into the config file). Every role, person, team and rotation is checked
// against the roster with a "did you mean". Without an `escalation_policies` section the
// built-in default ladder is used. A step's channels must be among
// `channel_names` (the notify module's provider registry, passed in by the caller so that the
// incident module needs no list of providers).
PolicySet LoadEscalationPolicies(const config::Config& cfg, const oncall::Roster* roster,
                                 const std::vector<std::string>& channel_names,
                                 config::Diagnostics& diags);
IncidentsConfig LoadIncidentsConfig(const config::Config& cfg, config::Diagnostics& diags);
// The default ladder: T0 L1; +5m L2 of the domain and Comms; +10m Duty Manager.
EscalationPolicy DefaultPolicy();

}  // namespace tocsin::incident
