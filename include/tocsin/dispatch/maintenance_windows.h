#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tocsin/dispatch/dispatch_config.h"
#include "tocsin/dispatch/muter.h"

namespace tocsin::dispatch {

struct TimeInterval {
  TimePoint start{};
  TimePoint end{};  // exclusive
  std::string window;
  friend bool operator==(const TimeInterval&, const TimeInterval&) = default;
};

// The configured maintenance windows: mutes matching alerts while one is open (a Muter) and
// tells SLA reports which time to exclude. Local times are converted with the window's IANA
// zone for each occurrence, so "Tuesday 02:00-03:00 Europe/Kyiv" stays 02:00 local across
// DST changes; a start that falls into a DST gap begins at the transition. Immutable after
// construction except for a per-`now` cache; loop thread only.
class MaintenanceWindows final : public Muter {
 public:
  explicit MaintenanceWindows(std::vector<MaintenanceWindowConfig> windows);

  std::vector<std::string> MutedBy(const Labels& labels, TimePoint now) const override;

  // Occurrences of windows excluded from SLA reports that overlap [from, to) and apply to
  // `scope` (windows whose matchers match these labels; empty labels: windows without
  // matchers and every window when `any_scope`), clipped to [from, to), sorted.
  std::vector<TimeInterval> ExcludedIntervals(TimePoint from, TimePoint to, const Labels& scope,
                                              bool any_scope = false) const;
  // Whether [from, to) lies entirely inside excluded maintenance time for `scope`.
  bool IsExcluded(TimePoint from, TimePoint to, const Labels& scope) const;

  const std::vector<MaintenanceWindowConfig>& windows() const { return windows_; }

 private:
  std::vector<TimeInterval> Occurrences(const MaintenanceWindowConfig& w, TimePoint from,
                                        TimePoint to) const;

  std::vector<MaintenanceWindowConfig> windows_;
  mutable TimePoint cached_now_{};
  mutable bool cache_valid_ = false;
  mutable std::vector<const MaintenanceWindowConfig*> open_;
};

}  // namespace tocsin::dispatch
