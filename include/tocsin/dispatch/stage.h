#pragma once

#include <map>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/rules/alert.h"

namespace tocsin::dispatch {

// What a group last told its receiver: the notification log entry that dedup compares with
// (Alertmanager's nflog entry), plus when each alert was last announced as firing so that a
// flapping alert does not page again within repeat_interval.
struct NotificationState {
  bool notified = false;
  TimePoint last_notified{};
  std::vector<Fingerprint> firing;    // sorted
  std::vector<Fingerprint> resolved;  // sorted
  std::map<Fingerprint, TimePoint> last_firing_notice;
};

// One flush of one group travelling through the stages. Stages drop alerts from `alerts`,
// attach `causes`, or clear `notify`; counters feed the metrics.
struct FlushContext {
  std::string group_key;
  TimePoint now{};
  Duration repeat_interval{};
  std::vector<Alert> alerts;
  std::vector<Alert> causes;
  NotificationState* state = nullptr;
  bool notify = true;
  std::size_t inhibited = 0;
  std::size_t silenced = 0;
  std::size_t maintenance_muted = 0;
  // The firing alerts the stages above took out (silenced, in a window, inhibited).
  std::vector<Fingerprint> muted;
};

// One step of the flush pipeline (Alertmanager's notify.Stage): inhibit, silence, maintenance,
// dedup. Stages run in order on the loop thread and hold no per-flush state.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual void Run(FlushContext& ctx) const = 0;
};

}  // namespace tocsin::dispatch
