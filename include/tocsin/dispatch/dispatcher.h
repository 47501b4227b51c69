#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "tocsin/common/clock.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/dispatch/dispatch_config.h"
#include "tocsin/dispatch/inhibitor.h"
#include "tocsin/dispatch/maintenance_windows.h"
#include "tocsin/dispatch/muter.h"
#include "tocsin/dispatch/route.h"
#include "tocsin/dispatch/stage.h"
#include "tocsin/dispatch/stored_alert.h"
#include "tocsin/rules/alert.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace tocsin::dispatch {

// Why an alert does not notify right now, as GET /api/v2/alerts reports it.
struct MuteStatus {
  std::vector<std::string> silenced_by;   // silence ids
  std::vector<std::string> inhibited_by;  // fingerprints of inhibiting alerts
  std::vector<std::string> muted_by;      // maintenance window names
  bool suppressed() const {
    return !silenced_by.empty() || !inhibited_by.empty() || !muted_by.empty();
  }
};

// Introspection of one group (GET /api/v1/groups).
struct GroupInfo {
  std::string key;
  std::string route;
  std::string receiver;
  Labels labels;
  std::size_t alerts = 0;
  bool flushed = false;
  std::optional<TimePoint> next_flush;
  std::optional<TimePoint> last_notified;  // none while `recalled`
  // Its alerts were recalled at start (Dispatcher::Recall) and nothing was told since.
  bool recalled = false;
  // Held under the routes of an earlier config: a reload regrouped its announced alerts, and
  // they stay here (with their incident) until they resolve.
  bool kept_from_reload = false;
};

// The one pipeline every alert goes through: route, group, and at flush inhibit, silence,
// maintenance mute and dedup; groups that need telling go to the GroupSink. Keeps the active
// alerts (for the Alertmanager API) and the groups with their timers on the Scheduler, so
// tests drive group_wait / group_interval / repeat_interval on a SimulatedScheduler.
// Reload (ApplyConfig) swaps routes, inhibit rules and maintenance windows and re-routes the
// alerts; first, groups holding a resolve not yet told and groups the new config no longer
// produces are flushed under the old config, so no update received before the reload is lost.
// Groups that still exist keep their timers and notification state; silences live outside.
// An alert a group announced as firing stays in that group until it resolves, even when the
// new config groups it differently (its incident follows it, and the group is told when it
// resolves); it joins no new group of that receiver meanwhile, only groups of other receivers.
// A group the new routes no longer produce is kept, with the routes and timings it was
// announced under (its receiver's targets are the running config's), while such alerts are
// in it.
// Thread-safety: loop thread only.
class Dispatcher final : public AlertSink {
 public:
  // `silences` outlives the dispatcher; `registry` receives the dispatch metrics.
  Dispatcher(Scheduler& scheduler, GroupSink& sink, const Muter& silences,
             prometheus::Registry& registry, const DispatchConfig& config);
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void OnAlerts(const std::vector<Alert>& alerts, TimePoint now) override;
  // Same as OnAlerts, taking the alerts over instead of copying them (bulk ingest).
  void Ingest(std::vector<Alert>&& alerts, TimePoint now);
  // Same, moving out of a slice of a larger batch (bulk ingest applies big batches in chunks).
  void Ingest(std::span<Alert> alerts, TimePoint now);
  // Returns how many groups are held under an earlier config's routes afterwards (see the
  // class comment): the caller logs them.
  std::size_t ApplyConfig(const DispatchConfig& config);

  // Alerts not yet resolved at `now`, each with its receivers: fn(fingerprint, stored
  // alert, receivers). The references stay valid until the next change to the dispatcher.
  template <typename Fn>
  void ForEachActiveAlert(TimePoint now, Fn&& fn) const {
    for (const auto& [fp, entry] : alerts_) {
      if (!entry->alert.ResolvedAt(now)) fn(fp, entry->alert, *entry->receivers);
    }
  }
  std::size_t alert_count() const { return alerts_.size(); }
  std::size_t group_count() const { return groups_.size(); }
  // Fingerprints the groups remember (members, and what each last announced as firing or
  // resolved, with the firing notices kept for flap suppression): what must stay flat while
  // distinct alerts come and go.
  std::size_t remembered_fingerprints() const;
  MuteStatus StatusOf(const Labels& labels, TimePoint now) const;
  std::vector<GroupInfo> Groups() const;

  // Flushes at once every notified group that holds a resolve not yet told (a graceful stop:
  // tocsin's own rules forget a series once they hand over its resolve, so a resolve still
  // waiting for group_interval would never be told after the restart, and its incident would
  // escalate on).
  void FlushResolves(TimePoint now);

  // One open incident's group as the incident kept it: the group key and its alerts (both
  // owned by the caller, read during the call only).
  struct RecalledGroup {
    const std::string* key = nullptr;
    const std::vector<Alert>* alerts = nullptr;
  };
  // At start: the groups open incidents were announced for. A resolved alert the dispatcher
  // has not seen firing is dropped (it pages nobody), and after a restart it had seen none:
  // an incident whose alerts all resolved before their source sent them again (Prometheus
  // re-sends the resolve; tocsin's rules forget a series once they hand its resolve over)
  // stayed open. Each firing alert not yet known joins the group of its incident's key as
  // announced (nobody is told again); its other routes' groups take it as a new alert once its
  // source sends it again (a `continue` route's notice is not posted for an alert that resolved
  // meanwhile). It fires until `until` (or the endsAt its source promised, if later; one that
  // passed while tocsin was down counts its length again from now) unless sent again. A
  // resolve, or `until` passing without news, is then told at the group's next flush. Not
  // recalled: a group the dispatcher already has (a standby's, promoted), an alert no route
  // groups under its incident's key (the routes changed). The incident kept only the alerts not
  // muted at its last change, so an alert silenced after its page joins as new (see
  // docs/routing.md). Returns how many alerts were recalled, and of how many incidents.
  struct Recalled {
    std::size_t alerts = 0;
    std::size_t incidents = 0;
  };
  Recalled Recall(const std::vector<RecalledGroup>& groups, TimePoint until, TimePoint now);

  const DispatchConfig& config() const { return config_; }
  const MaintenanceWindows& maintenance() const { return *maintenance_; }
  const Route& route() const { return *route_; }

 private:
  struct Entry {
    StoredAlert alert;
    // Interned: 100,000 alerts share a handful of receiver lists.
    const std::vector<std::string>* receivers = nullptr;
    std::uint32_t groups = 0;  // how many groups hold it (with `recalled`: one word)
    // Recalled at start (Recall) into its incidents' groups only: sent firing again by its
    // source, it joins its other routes' groups too, as a new alert.
    bool recalled = false;
  };
  struct Group {
    std::string key;
    const Route* route = nullptr;
    std::string receiver;  // a reload that changes it re-announces the group to the new one
    Labels labels;
    std::vector<Fingerprint> members;  // sorted
    TimerId timer = 0;
    std::optional<TimePoint> next_flush;
    bool flushed = false;
    NotificationState notification;
    // The routes `route` belongs to, while they are an earlier config's (see the class).
    std::shared_ptr<const Route> kept_tree;
    // Announced before a restart (Recall) and told nothing since: its `notification` says when
    // it was recalled, not when anyone was told.
    bool recalled = false;
  };
  struct Metrics;

  void Insert(Alert&& alert, TimePoint now);
  const std::vector<std::string>* ReceiversOf(const std::vector<const Route*>& routes);
  // `fp` is the alert's fingerprint and `entry` its place in alerts_ (both known to callers).
  // `announced`: recalled at start (Recall); a group it opens flushes a group_interval on.
  Group& AddToGroup(const Route& route, const Alert& alert, Fingerprint fp, Entry& entry,
                    TimePoint now, bool announced = false);
  void Flush(const std::string& key, TimePoint now);
  static std::string GroupKey(const Route& route, const Labels& labels);
  // Before a reload swaps routes `next` in: flushes at once, under the running config, every
  // notified group that holds a resolve not yet told or that `next` no longer produces.
  void FlushBeforeReload(const Route& next, TimePoint now);
  bool HoldsResolve(const Group& g, TimePoint now) const;
  void FlushNow(const std::vector<std::string>& keys, TimePoint now);
  void EnsureInhibitorFresh(TimePoint now) const;
  void ScheduleGc();
  void CollectGarbage(TimePoint now);
  // `previous`: the routes before the swap (null at construction).
  void Reroute(TimePoint now, const std::shared_ptr<const Route>& previous);

  Scheduler& scheduler_;
  GroupSink& sink_;
  const Muter& silences_;
  DispatchConfig config_;
  std::shared_ptr<const Route> route_;
  std::unique_ptr<Inhibitor> inhibitor_;
  std::unique_ptr<MaintenanceWindows> maintenance_;
  std::vector<std::unique_ptr<Stage>> stages_;
  // Open addressing over pointers: a burst of 100,000 new alerts grows it without walking
  // nodes, and an Entry stays where it is while the table grows.
  boost::unordered_flat_map<Fingerprint, std::unique_ptr<Entry>, std::hash<Fingerprint>> alerts_;
  // By key: GET /api/v1/groups and reload flushes list groups in this order.
  std::map<std::string, Group> groups_;
  // Group lookup without building the key: Route::GroupHash -> the group last seen with it
  // (checked with Route::InGroup; a collision takes the keyed path). Cleared when groups go.
  boost::unordered_flat_map<std::uint64_t, Group*> group_index_;
  std::set<std::vector<std::string>> receiver_lists_;
  // ReceiversOf's last answer and the routes it was for (reset with receiver_lists_).
  std::vector<const Route*> last_routes_;
  const std::vector<std::string>* last_receivers_ = nullptr;
  mutable bool inhibitor_dirty_ = true;
  TimerId gc_timer_ = 0;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace tocsin::dispatch
