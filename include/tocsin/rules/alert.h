#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"

namespace tocsin {

enum class Severity { kCritical, kError, kWarning, kInfo };
std::string_view SeverityName(Severity s);  // "critical", "error", "warning", "info"
std::optional<Severity> ParseSeverity(std::string_view s);

// Symptoms page; causes ride inside a symptom's page, never paging alone. kUnspecified for alerts
// pushed from outside that do not say.
enum class AlertKind { kUnspecified, kSymptom, kCause };
std::string_view AlertKindName(AlertKind k);  // "", "symptom", "cause"

enum class AlertState { kInactive, kPending, kFiring, kResolved };
std::string_view AlertStateName(AlertState s);

struct Link {
  std::string href;
  std::string text;
  friend bool operator==(const Link&, const Link&) = default;
};

// One alert: a label set and what is known about it now. The same value type carries alerts
// raised by tocsin's own rules and alerts pushed through the Alertmanager API. Plain value:
// copy freely, compare with ==.
//
// Well-known labels: `alertname` (always), `severity`, `service`, `domain`, `region`,
// `market`, `psp`, `kind`. Well-known annotations: `summary`, `description`, `runbook`
// (file name under runbooks/ or a URL), `dashboard`, `query`.
struct Alert {
  Labels labels;
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kFiring;
  TimePoint starts_at{};
  // When the alert stops being firing unless refreshed (Alertmanager semantics); for rule
  // alerts, set once resolved.
  TimePoint ends_at{};
  TimePoint updated_at{};
  std::string generator_url;

  // Filled by tocsin's rules; empty for pushed alerts unless their annotations say.
  std::string rule;  // rule or SLO name
  AlertKind kind = AlertKind::kUnspecified;
  Severity severity = Severity::kWarning;
  std::optional<double> value;            // the SLI or expression value that violated
  std::optional<double> threshold;        // what it was compared against / the objective
  std::optional<double> burn_rate;        // SLO alerts: burn rate over the long window
  std::optional<double> budget_consumed;  // SLO alerts: fraction of the error budget in window
  std::vector<Link> links;                // dashboards, query, runbook (resolved URLs)

  Fingerprint fingerprint() const { return labels.fingerprint(); }
  std::string_view Name() const { return labels.GetOr("alertname"); }
  std::string Annotation(std::string_view name) const;
  bool firing() const { return state == AlertState::kFiring; }
  // Alertmanager's notion: resolved when ends_at is set and not after `now`.
  bool ResolvedAt(TimePoint now) const;

  friend bool operator==(const Alert&, const Alert&) = default;
};

// Receives alerts from a producer: tocsin's rules engine after each evaluation, and the
// Alertmanager-compatible push API. Implemented by the dispatcher. A producer sends every alert
// whose state it knows, firing and resolved; the sink dedups by fingerprint. Loop thread only.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void OnAlerts(const std::vector<Alert>& alerts, TimePoint now) = 0;
};

// A sink that drops what it gets: for evaluations whose alerts are read elsewhere (a backtest,
// `tocsin rules test`).
class DiscardingSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>&, TimePoint) override {}
};

}  // namespace tocsin
