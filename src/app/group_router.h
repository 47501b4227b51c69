#pragma once

#include <map>
#include <string>

#include "tocsin/dispatch/alert_group.h"

namespace tocsin::app {

// Sends each flushed group where its receiver says: receivers with an escalation policy open
// incidents (whose pages and Slack message carry the group), the others only send notices.
// One place decides, so a paging group is never also posted as a plain notice. A group whose
// receiver a reload left without an escalation policy is a notice, and also goes to the
// incidents, which update (or resolve) its incident if one is open and open nothing: else its
// resolve never reached the incident, which escalated on, under its stored policy, and never
// resolved itself.
//
// High availability: a standby takes alert intake too (Prometheus sends to every instance), so
// its dispatcher holds the same groups as the active's, but only the active opens incidents
// and sends. While standby, the router keeps the latest flush of each paging group (and of a
// group it keeps whose receiver a reload then left without a policy) instead;
// on becoming active it hands them all to the incidents, which update the incident a group
// already has (opened by the previous active) or open the one the previous active did not
// live to commit. Notices of a standby are dropped: the active sends its own. Loop thread.
class GroupRouter final : public dispatch::GroupSink {
 public:
  // `active`: whether this instance pages now (false for a standby of a cluster until it takes
  // the lease). No default: a router built active on a standby opened incidents and queued
  // notices from the standby.
  GroupRouter(dispatch::GroupSink& incidents, dispatch::GroupSink& notices, bool active)
      : incidents_(incidents), notices_(notices), active_(active) {}
  void OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) override;
  // Standby -> active replays the held groups at `now`.
  void SetActive(bool active, TimePoint now);
  std::size_t held() const { return held_.size(); }
  // Whether a standby holds a flush of the group `key` (it replays it on becoming active).
  bool holds(const std::string& key) const { return held_.contains(key); }

 private:
  void PruneHeld(TimePoint now);

  dispatch::GroupSink& incidents_;
  dispatch::GroupSink& notices_;
  bool active_;
  std::map<std::string, dispatch::AlertGroup> held_;
  std::size_t held_after_prune_ = 0;
};

}  // namespace tocsin::app
