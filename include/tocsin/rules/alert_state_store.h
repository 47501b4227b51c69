#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/common/result.h"
#include "tocsin/rules/alert.h"

namespace tocsin::rules {

// The evaluator's memory of one series of one rule, as persisted: enough to continue a
// pending count or a firing alert after a restart instead of starting from zero.
struct PersistedAlertState {
  std::string rule_key;               // "slo/<name>/<tier>", "rule/<name>", "absent/<name>", ...
  std::uint64_t definition_hash = 0;  // state is dropped when the rule changed meanwhile
  Labels labels;                      // the alert's labels (fingerprint = labels.fingerprint())
  AlertState state = AlertState::kInactive;
  long long bad = 0;   // violating evaluations in a row
  long long good = 0;  // good evaluations in a row while firing
  TimePoint active_since{};
  TimePoint fired_at{};
  TimePoint updated_at{};
  double value = 0;

  friend bool operator==(const PersistedAlertState&, const PersistedAlertState&) = default;
};

// Durable alert state of the rules engine. Writes arrive in evaluation order from one writer;
// implementations may block (call from an Executor, not the loop). Thread-safety: calls are
// serialised by the caller.
class AlertStateStore {
 public:
  virtual ~AlertStateStore() = default;
  virtual Result<std::vector<PersistedAlertState>> Load() = 0;
  // Upserts `changed` and deletes `removed` (rule_key, fingerprint) in one transaction.
  virtual Result<void> Apply(const std::vector<PersistedAlertState>& changed,
                             const std::vector<std::pair<std::string, Fingerprint>>& removed) = 0;
};

}  // namespace tocsin::rules
