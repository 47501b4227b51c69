#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/rules/alert.h"

namespace tocsin::dispatch {

// Where a route sends its groups. A receiver with an escalation policy opens incidents (a
// person is paged); one without only sends notices (Slack channel, e-mail, webhook).
struct Receiver {
  std::string name;
  std::string escalation_policy;  // empty: no incident, notices only
  struct Notice {
    std::string type;    // "slack" | "email" | "webhook"
    std::string target;  // channel, address, or empty for the provider's default
    friend bool operator==(const Notice&, const Notice&) = default;
  };
  std::vector<Notice> notices;
  friend bool operator==(const Receiver&, const Receiver&) = default;
};

// What the dispatcher hands on when a group flushes: the alerts of one (route, group labels)
// pair that survived inhibition, silences, maintenance windows and dedup, plus the causes that
// inhibition folded into it. `key` is stable for the group's life and is the natural incident
// key for its receiver.
struct AlertGroup {
  std::string key;    // e.g. "{}/{severity=\"critical\"}:{alertname=\"X\", region=\"eu\"}"
  std::string route;  // route path, for introspection
  Receiver receiver;
  Labels group_labels;        // the group_by labels' values
  std::vector<Alert> alerts;  // firing and recently resolved
  std::vector<Alert> causes;  // cause candidates attached by inhibition
  TimePoint flushed_at{};

  bool AllResolved() const;
  Severity HighestSeverity() const;  // of the firing alerts; kInfo when none fire
  friend bool operator==(const AlertGroup&, const AlertGroup&) = default;
};

// Receives flushed groups. Implemented by the incident manager (receivers with a policy) and
// by the notice sender (receivers without one). Called on the loop thread.
class GroupSink {
 public:
  virtual ~GroupSink() = default;
  virtual void OnGroupFlush(const AlertGroup& group, TimePoint now) = 0;
};

}  // namespace tocsin::dispatch
