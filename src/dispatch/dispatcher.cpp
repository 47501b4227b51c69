#include "tocsin/dispatch/dispatcher.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <string_view>

#include "tocsin/dispatch/dedup_stage.h"
#include "tocsin/dispatch/inhibit_stage.h"
#include "tocsin/dispatch/mute_stage.h"

namespace tocsin::dispatch {

namespace {

// Resolved alerts stay visible to groups that have not flushed them yet; once no group holds
// them they are dropped at the next sweep.
constexpr Duration kGcInterval = std::chrono::minutes(1);

}  // namespace

struct Dispatcher::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : received(prometheus::BuildCounter()
                     .Name("tocsin_dispatch_alerts_received_total")
                     .Help("Alerts received by the dispatcher (rules engine and push API).")
                     .Register(r)
                     .Add({})),
        deduplicated(prometheus::BuildCounter()
                         .Name("tocsin_dispatch_alerts_deduplicated_total")
                         .Help("Received alerts that updated an alert already known (same "
                               "fingerprint) instead of adding one.")
                         .Register(r)
                         .Add({})),
        inhibited(prometheus::BuildCounter()
                      .Name("tocsin_dispatch_alerts_inhibited_total")
                      .Help("Firing alerts held back at flush by inhibition (configured rules "
                            "or symptom/cause).")
                      .Register(r)
                      .Add({})),
        muted_family(prometheus::BuildCounter()
                         .Name("tocsin_dispatch_alerts_silenced_total")
                         .Help("Firing alerts held back at flush by a silence or a maintenance "
                               "window.")
                         .Register(r)),
        silenced(muted_family.Add({{"by", "silence"}})),
        maintenance(muted_family.Add({{"by", "maintenance_window"}})),
        grouped(prometheus::BuildCounter()
                    .Name("tocsin_dispatch_alerts_grouped_total")
                    .Help("Alerts added to an aggregation group (one per route they match).")
                    .Register(r)
                    .Add({})),
        notified(prometheus::BuildCounter()
                     .Name("tocsin_dispatch_notifications_total")
                     .Help("Group flushes handed on to incidents and notices.")
                     .Register(r)
                     .Add({})),
        dedup_skipped(prometheus::BuildCounter()
                          .Name("tocsin_dispatch_flushes_deduplicated_total")
                          .Help("Group flushes with nothing new for the receiver, not handed on.")
                          .Register(r)
                          .Add({})),
        groups(prometheus::BuildGauge()
                   .Name("tocsin_dispatch_groups")
                   .Help("Aggregation groups currently held.")
                   .Register(r)
                   .Add({})),
        alerts(prometheus::BuildGauge()
                   .Name("tocsin_dispatch_alerts")
                   .Help("Alerts currently held (firing and not yet flushed as resolved).")
                   .Register(r)
                   .Add({})) {}

  prometheus::Counter& received;
  prometheus::Counter& deduplicated;
  prometheus::Counter& inhibited;
  prometheus::Family<prometheus::Counter>& muted_family;
  prometheus::Counter& silenced;
  prometheus::Counter& maintenance;
  prometheus::Counter& grouped;
  prometheus::Counter& notified;
  prometheus::Counter& dedup_skipped;
  prometheus::Gauge& groups;
  prometheus::Gauge& alerts;
};

Dispatcher::Dispatcher(Scheduler& scheduler, GroupSink& sink, const Muter& silences,
                       prometheus::Registry& registry, const DispatchConfig& config)
    : scheduler_(scheduler),
      sink_(sink),
      silences_(silences),
      metrics_(std::make_unique<Metrics>(registry)) {
  ApplyConfig(config);
  ScheduleGc();
}

Dispatcher::~Dispatcher() {
  for (auto& [key, g] : groups_) {
    if (g.timer) scheduler_.Cancel(g.timer);
  }
  if (gc_timer_) scheduler_.Cancel(gc_timer_);
}

std::size_t Dispatcher::ApplyConfig(const DispatchConfig& config) {
  // One reading of the clock for the whole reload.
  TimePoint now = scheduler_.clock().Now();
  std::shared_ptr<const Route> route = Route::Build(config.route, config.receivers);
  // Every update received before the reload reaches the receivers that heard of the alert,
  // under the config they heard it with: a resolve waiting for its group's next flush would
  // otherwise be dropped by Reroute (or vanish with a group the new routes no longer produce)
  // and its incident keep escalating.
  if (route_) FlushBeforeReload(*route, now);
  config_ = config;
  std::shared_ptr<const Route> previous = std::exchange(route_, std::move(route));
  inhibitor_ = std::make_unique<Inhibitor>(config_.inhibit_rules);
  maintenance_ = std::make_unique<MaintenanceWindows>(config_.maintenance_windows);
  stages_.clear();
  stages_.push_back(std::make_unique<InhibitStage>(*inhibitor_));
  stages_.push_back(std::make_unique<MuteStage>(silences_, MuteStage::Kind::kSilence));
  stages_.push_back(std::make_unique<MuteStage>(*maintenance_, MuteStage::Kind::kMaintenance));
  stages_.push_back(std::make_unique<DedupStage>());
  inhibitor_dirty_ = true;
  Reroute(now, previous);
  metrics_->groups.Set(static_cast<double>(groups_.size()));
  metrics_->alerts.Set(static_cast<double>(alerts_.size()));
  return static_cast<std::size_t>(std::count_if(groups_.begin(), groups_.end(), [](const auto& kv) {
    return kv.second.kept_tree != nullptr && !kv.second.members.empty();
  }));
}

std::string Dispatcher::GroupKey(const Route& route, const Labels& labels) {
  return route.path() + ":" + route.GroupLabels(labels).ToString();
}

void Dispatcher::OnAlerts(const std::vector<Alert>& alerts, TimePoint now) {
  Ingest(std::vector<Alert>(alerts), now);
}

void Dispatcher::Ingest(std::vector<Alert>&& alerts, TimePoint now) {
  Ingest(std::span<Alert>(alerts), now);
}

void Dispatcher::Ingest(std::span<Alert> alerts, TimePoint now) {
  for (auto& a : alerts) {
    // Pending (not yet `for` long enough) and inactive alerts must not page; the rules engine
    // may still report them.
    if (a.state == AlertState::kPending || a.state == AlertState::kInactive) continue;
    Insert(std::move(a), now);
  }
  metrics_->received.Increment(static_cast<double>(alerts.size()));
  metrics_->groups.Set(static_cast<double>(groups_.size()));
  metrics_->alerts.Set(static_cast<double>(alerts_.size()));
}

void Dispatcher::Insert(Alert&& incoming, TimePoint now) {
  Fingerprint fp = incoming.fingerprint();
  auto it = alerts_.find(fp);
  const bool fresh = it == alerts_.end();
  // The entry first: a slot never exists without one.
  if (fresh) it = alerts_.emplace(fp, std::make_unique<Entry>()).first;
  Entry& e = *it->second;
  incoming.updated_at = now;
  if (!fresh) {
    const StoredAlert& old = e.alert;
    // Alertmanager's merge: the same alert seen again keeps its earliest start as long as
    // the two overlap; a new occurrence after a resolution starts over.
    bool overlaps = (incoming.ends_at == TimePoint{} || incoming.ends_at > old.starts_at()) &&
                    (old.ends_at() == TimePoint{} || incoming.starts_at <= old.ends_at());
    if (overlaps && old.starts_at() < incoming.starts_at) incoming.starts_at = old.starts_at();
    bool changed_state = old.ResolvedAt(now) != incoming.ResolvedAt(now);
    e.alert = StoredAlert(incoming);
    metrics_->deduplicated.Increment();
    if (changed_state || e.groups == 0) inhibitor_dirty_ = true;
    // Already in its groups: the update is picked up at their next flush. A recalled alert is
    // in its incident's groups only: sent firing again, it joins its other routes' too.
    if (e.groups > 0 && (!e.recalled || incoming.ResolvedAt(now))) return;
    e.recalled = false;
    // Resolved again while waiting for the sweep: nothing to group.
    if (incoming.ResolvedAt(now)) return;
  } else {
    // A resolved alert nobody knows about pages nobody: keep it out of the groups.
    if (incoming.ResolvedAt(now)) {
      alerts_.erase(it);
      return;
    }
    e.alert = StoredAlert(incoming);
    inhibitor_dirty_ = true;
  }
  auto routes = route_->Match(incoming.labels);
  if (e.groups > 0) {
    // Recalled, sent firing again: its other routes' groups take it. Not a receiver that has
    // it already (`receivers` of a recalled alert: those of the groups holding it; a reload
    // since the restart may group it under another key, and a second group of that receiver
    // would open a second incident), as a reload's re-routing does.
    const std::vector<std::string>* holding = e.receivers;
    for (const Route* r : routes) {
      const auto& name = r->receiver().name;
      if (holding && std::find(holding->begin(), holding->end(), name) != holding->end()) continue;
      AddToGroup(*r, incoming, fp, e, now);
    }
    e.receivers = ReceiversOf(routes);
    return;
  }
  for (const Route* r : routes) AddToGroup(*r, incoming, fp, e, now);
  e.receivers = ReceiversOf(routes);
}

const std::vector<std::string>* Dispatcher::ReceiversOf(const std::vector<const Route*>& routes) {
  // A burst mostly takes one route after another: the last answer, without building names.
  if (last_receivers_ != nullptr && routes == last_routes_) return last_receivers_;
  std::vector<std::string> names;
  for (const Route* r : routes) {
    if (std::find(names.begin(), names.end(), r->receiver().name) == names.end()) {
      names.push_back(r->receiver().name);
    }
  }
  last_routes_ = routes;
  last_receivers_ = &*receiver_lists_.insert(std::move(names)).first;
  return last_receivers_;
}

Dispatcher::Group& Dispatcher::AddToGroup(const Route& route, const Alert& alert, Fingerprint fp,
                                          Entry& entry, TimePoint now, bool announced) {
  // Most alerts join a group that exists: found by hash, without building its key and labels.
  std::uint64_t hash = route.GroupHash(alert.labels);
  Group* known = nullptr;
  if (auto hit = group_index_.find(hash); hit != group_index_.end()) {
    Group* candidate = hit->second;
    if (candidate->route == &route && route.InGroup(candidate->labels, alert.labels)) {
      known = candidate;
    }
  }
  if (known == nullptr) {
    Labels group_labels = route.GroupLabels(alert.labels);
    std::string key = route.path() + ":" + group_labels.ToString();
    auto [it, created] = groups_.try_emplace(key);
    known = &it->second;
    if (created) {
      known->key = std::move(key);
      known->labels = std::move(group_labels);
    }
    group_index_.insert_or_assign(hash, known);
  }
  Group& g = *known;
  g.route = &route;
  g.kept_tree.reset();  // `route` is the running config's, whatever the group was kept under
  if (g.receiver != route.receiver().name) {
    // A reload gave the group another receiver, which has heard nothing of it yet: its next
    // flush tells it (as a repeat would). What was announced stays known, so that a resolve
    // before then is still told.
    g.receiver = route.receiver().name;
    g.notification.last_notified = {};
  }
  auto pos = std::lower_bound(g.members.begin(), g.members.end(), fp);
  if (pos != g.members.end() && *pos == fp) return g;
  g.members.insert(pos, fp);
  ++entry.groups;
  metrics_->grouped.Increment();
  if (g.timer) return g;
  const auto& rc = route.config();
  if (announced) {
    // Recalled (Recall): announced, its next flush is a group_interval away, as after a notice.
    g.flushed = true;
    g.next_flush = now + rc.group_interval;
    g.timer = scheduler_.ScheduleAt(*g.next_flush,
                                    [this, key = g.key] { Flush(key, scheduler_.clock().Now()); });
    return g;
  }
  // First alert of a new (or emptied) group waits group_wait so that its siblings join
  // before the first page; an alert that already started longer ago than that flushes now,
  // as in Alertmanager (e.g. after a restart).
  TimePoint at = now + rc.group_wait;
  if (g.flushed && g.notification.last_notified + rc.group_interval > at) {
    at = g.notification.last_notified + rc.group_interval;
  }
  if (!g.flushed && alert.starts_at != TimePoint{} && alert.starts_at + rc.group_wait < now) {
    at = now;
  }
  g.next_flush = at;
  g.timer =
      scheduler_.ScheduleAt(at, [this, key = g.key] { Flush(key, scheduler_.clock().Now()); });
  return g;
}

Dispatcher::Recalled Dispatcher::Recall(const std::vector<RecalledGroup>& groups, TimePoint until,
                                        TimePoint now) {
  // Each alert once, with the keys of the incidents that hold it (nearly always one).
  struct Wanted {
    const Alert* alert = nullptr;
    std::vector<const std::string*> keys;
  };
  boost::unordered_flat_map<Fingerprint, Wanted, std::hash<Fingerprint>> wanted;
  for (const auto& g : groups) {
    if (groups_.contains(*g.key)) continue;  // a standby's, promoted: it knows the group
    for (const auto& a : *g.alerts) {
      if (!a.firing()) continue;
      const Fingerprint fp = a.fingerprint();
      if (alerts_.contains(fp)) continue;  // heard of since the start: that is the news
      Wanted& w = wanted[fp];
      if (!w.alert) w.alert = &a;
      w.keys.push_back(g.key);
    }
  }
  auto announce = [&](Group& g, Fingerprint fp) {
    NotificationState& st = g.notification;
    if (!st.notified) {
      st.notified = true;
      st.last_notified = now;
    }
    auto pos = std::lower_bound(st.firing.begin(), st.firing.end(), fp);
    if (pos == st.firing.end() || *pos != fp) st.firing.insert(pos, fp);
    st.last_firing_notice[fp] = now;
    g.recalled = true;
  };
  std::size_t recalled = 0;
  std::set<std::string_view> of;  // the keys of the incidents recalled from
  for (auto& [fp, w] : wanted) {
    auto routes = route_->Match(w.alert->labels);
    std::vector<const Route*> own;  // the routes that group it under one of its incidents' keys
    for (const Route* r : routes) {
      const std::string key = GroupKey(*r, w.alert->labels);
      if (std::any_of(w.keys.begin(), w.keys.end(), [&](const auto* k) { return *k == key; })) {
        own.push_back(r);
      }
    }
    if (own.empty()) continue;
    for (const auto* k : w.keys) of.insert(*k);
    Alert a = *w.alert;
    // The endsAt its source promised, if still ahead; one that passed while tocsin was down is
    // as long again from now (the source had no chance to send it again).
    TimePoint ends = std::max(until, a.ends_at);
    if (a.ends_at <= now && a.ends_at != TimePoint{} && a.updated_at != TimePoint{} &&
        a.ends_at > a.updated_at) {
      ends = std::max(ends, now + (a.ends_at - a.updated_at));
    }
    a.ends_at = ends;
    a.updated_at = now;
    Entry& e = *alerts_.emplace(fp, std::make_unique<Entry>()).first->second;
    e.alert = StoredAlert(a);
    e.recalled = own.size() < routes.size();
    for (const Route* r : own) announce(AddToGroup(*r, a, fp, e, now, true), fp);
    e.receivers = ReceiversOf(own);
    ++recalled;
  }
  inhibitor_dirty_ = true;
  metrics_->groups.Set(static_cast<double>(groups_.size()));
  metrics_->alerts.Set(static_cast<double>(alerts_.size()));
  return {recalled, of.size()};
}

void Dispatcher::EnsureInhibitorFresh(TimePoint now) const {
  if (!inhibitor_dirty_ && !inhibitor_->StaleAt(now)) return;
  // One alert expanded at a time: holding all of them expanded would double the memory.
  inhibitor_->Reset();
  for (const auto& [fp, e] : alerts_) {
    if (e->alert.ResolvedAt(now)) continue;
    Labels labels = e->alert.labels();
    if (Inhibitor::IsCause(labels)) {
      Alert cause = e->alert.Expand();
      inhibitor_->Add(labels, e->alert.ends_at(), &cause);
    } else {
      inhibitor_->Add(labels, e->alert.ends_at(), nullptr);
    }
  }
  inhibitor_dirty_ = false;
}

void Dispatcher::Flush(const std::string& key, TimePoint now) {
  auto it = groups_.find(key);
  if (it == groups_.end()) return;
  Group& g = it->second;
  g.timer = 0;
  g.next_flush.reset();
  // `now` is read once for the whole flush: every stage sees the same instant.
  EnsureInhibitorFresh(now);

  FlushContext ctx;
  ctx.group_key = key;
  ctx.now = now;
  ctx.repeat_interval = g.route->config().repeat_interval;
  ctx.state = &g.notification;
  ctx.alerts.reserve(g.members.size());
  for (const auto& fp : g.members) ctx.alerts.push_back(alerts_.at(fp)->alert.Expand());
  for (const auto& stage : stages_) {
    stage->Run(ctx);
    if (!ctx.notify) break;
  }
  metrics_->inhibited.Increment(static_cast<double>(ctx.inhibited));
  metrics_->silenced.Increment(static_cast<double>(ctx.silenced));
  metrics_->maintenance.Increment(static_cast<double>(ctx.maintenance_muted));
  g.flushed = true;

  if (ctx.notify) {
    g.recalled = false;
    AlertGroup out;
    out.key = key;
    out.route = g.route->path();
    out.receiver = g.route->receiver();
    if (g.kept_tree) {
      // Kept under an earlier config's routes: its receiver's targets are today's.
      auto r = std::find_if(config_.receivers.begin(), config_.receivers.end(),
                            [&](const auto& x) { return x.name == out.receiver.name; });
      if (r != config_.receivers.end()) out.receiver = *r;
    }
    out.group_labels = g.labels;
    out.alerts = std::move(ctx.alerts);
    out.causes = std::move(ctx.causes);
    out.flushed_at = now;
    metrics_->notified.Increment();
    sink_.OnGroupFlush(out, now);
  } else {
    metrics_->dedup_skipped.Increment();
  }

  // Resolved alerts have been told (or never needed telling); they leave the group.
  std::erase_if(g.members, [&](const Fingerprint& fp) {
    auto a = alerts_.find(fp);
    if (!a->second->alert.ResolvedAt(now)) return false;
    --a->second->groups;
    return true;
  });
  if (!g.members.empty()) {
    TimePoint at = now + g.route->config().group_interval;
    g.next_flush = at;
    g.timer = scheduler_.ScheduleAt(at, [this, key] { Flush(key, scheduler_.clock().Now()); });
  }
  // An empty group stays (without a timer) until repeat_interval after its last notice so a
  // flapping alert that comes back finds its notification state; the GC drops it later.
}

void Dispatcher::ScheduleGc() {
  gc_timer_ = scheduler_.ScheduleAfter(kGcInterval, [this] {
    CollectGarbage(scheduler_.clock().Now());
    ScheduleGc();
  });
}

void Dispatcher::CollectGarbage(TimePoint now) {
  boost::unordered::erase_if(alerts_, [&](const auto& kv) {
    return kv.second->groups == 0 && kv.second->alert.ResolvedAt(now);
  });
  auto dropped = std::erase_if(groups_, [&](const auto& kv) {
    const Group& g = kv.second;
    return g.members.empty() && g.timer == 0 &&
           g.notification.last_notified + g.route->config().repeat_interval <= now;
  });
  if (dropped > 0) group_index_.clear();
  inhibitor_dirty_ = true;
  metrics_->groups.Set(static_cast<double>(groups_.size()));
  metrics_->alerts.Set(static_cast<double>(alerts_.size()));
}

MuteStatus Dispatcher::StatusOf(const Labels& labels, TimePoint now) const {
  EnsureInhibitorFresh(now);
  MuteStatus s;
  s.silenced_by = silences_.MutedBy(labels, now);
  s.inhibited_by = inhibitor_->MutedBy(labels, now);
  s.muted_by = maintenance_->MutedBy(labels, now);
  return s;
}

std::size_t Dispatcher::remembered_fingerprints() const {
  std::size_t n = 0;
  for (const auto& [key, g] : groups_) {
    const NotificationState& st = g.notification;
    n += g.members.size() + st.firing.size() + st.resolved.size() + st.last_firing_notice.size();
  }
  return n;
}

std::vector<GroupInfo> Dispatcher::Groups() const {
  std::vector<GroupInfo> out;
  for (const auto& [key, g] : groups_) {
    if (g.members.empty()) continue;
    GroupInfo info;
    info.key = key;
    info.route = g.route->path();
    info.receiver = g.route->receiver().name;
    info.labels = g.labels;
    info.alerts = g.members.size();
    info.flushed = g.flushed;
    info.kept_from_reload = g.kept_tree != nullptr;
    info.next_flush = g.next_flush;
    info.recalled = g.recalled;
    if (g.notification.notified && !g.recalled) info.last_notified = g.notification.last_notified;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace tocsin::dispatch
