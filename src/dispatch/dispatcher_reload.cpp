// The reload half of the Dispatcher: flushing what the old config owes, then re-routing every
// alert under the new one while announced alerts keep their groups (dispatcher.h says what
// a reload keeps).
#include "tocsin/dispatch/dispatcher.h"

#include <algorithm>
#include <iterator>

namespace tocsin::dispatch {

bool Dispatcher::HoldsResolve(const Group& g, TimePoint now) const {
  return std::any_of(g.members.begin(), g.members.end(),
                     [&](const Fingerprint& fp) { return alerts_.at(fp)->alert.ResolvedAt(now); });
}

void Dispatcher::FlushNow(const std::vector<std::string>& keys, TimePoint now) {
  for (const auto& key : keys) {
    Group& g = groups_.at(key);
    if (g.timer) scheduler_.Cancel(g.timer);
    g.timer = 0;
    Flush(key, now);
  }
}

void Dispatcher::FlushResolves(TimePoint now) {
  std::vector<std::string> due;
  for (const auto& [key, g] : groups_) {
    if (!g.members.empty() && g.notification.notified && HoldsResolve(g, now)) due.push_back(key);
  }
  FlushNow(due, now);
}

void Dispatcher::FlushBeforeReload(const Route& next, TimePoint now) {
  std::vector<std::string> due;
  std::vector<std::string> ended;
  for (const auto& [key, g] : groups_) {
    // A group its receiver never heard from has nothing to take back.
    if (g.members.empty() || !g.notification.notified) continue;
    bool survives = false;
    for (const auto& fp : g.members) {
      Labels labels = alerts_.at(fp)->alert.labels();
      for (const Route* r : next.Match(labels)) {
        if (GroupKey(*r, labels) == key) survives = true;
      }
      if (survives) break;
    }
    if (!survives || HoldsResolve(g, now)) due.push_back(key);
    if (!survives) ended.push_back(key);
  }
  FlushNow(due, now);
  // Reroute drops these (no route of the new config produces them): no timer may outlive them.
  // Those with alerts still firing after the flush are kept for them (see Reroute), timer and
  // all.
  for (const auto& key : ended) {
    Group& g = groups_.at(key);
    if (!g.members.empty()) continue;
    if (g.timer) scheduler_.Cancel(g.timer);
    g.timer = 0;
    g.next_flush.reset();
  }
}

void Dispatcher::Reroute(TimePoint now, const std::shared_ptr<const Route>& previous) {
  // Groups are identified by (route path, group labels); routes that survive the reload
  // produce the same keys, so their groups keep timers and notification state.
  //
  // An alert a group announced as firing (FlushBeforeReload left only firing ones in it)
  // stays in that group whatever the new routes say: its incident is the group's until it
  // resolves. One that joined after the group's last notice is regrouped freely.
  struct Announced {
    Group* group;
    const Route* route;             // in `previous` or in the group's kept_tree
    std::string receiver;           // as it was: AddToGroup may rename the group's below
    std::vector<Fingerprint> held;  // sorted
  };
  std::vector<Announced> announced;
  for (auto& [key, g] : groups_) {
    std::vector<Fingerprint> held;
    if (g.notification.notified && g.route != nullptr) {
      std::set_intersection(g.members.begin(), g.members.end(), g.notification.firing.begin(),
                            g.notification.firing.end(), std::back_inserter(held));
    }
    if (!held.empty()) {
      announced.push_back({&g, g.route, g.receiver, std::move(held)});
      // The routes `g.route` lives in, should no new route take the group over.
      if (!g.kept_tree) g.kept_tree = previous;
    } else {
      g.kept_tree.reset();
    }
    g.members.clear();
    g.route = nullptr;
  }
  // (alert, index in `announced`), sorted: the announced groups that hold each alert.
  std::vector<std::pair<Fingerprint, std::size_t>> held;
  for (std::size_t i = 0; i < announced.size(); ++i) {
    for (const auto& fp : announced[i].held) held.emplace_back(fp, i);
  }
  std::sort(held.begin(), held.end());
  for (auto& [fp, e] : alerts_) e->groups = 0;
  group_index_.clear();
  // Receiver lists are re-interned from scratch: names may have changed.
  receiver_lists_.clear();
  last_routes_.clear();
  last_receivers_ = nullptr;
  for (auto& [fp, e] : alerts_) {
    Alert a = e->alert.Expand();
    auto routes = route_->Match(a.labels);
    e->receivers = ReceiversOf(routes);
    // FlushBeforeReload told every receiver that had heard of it; nobody else needs to know.
    if (a.ResolvedAt(now)) continue;
    auto lo = std::lower_bound(held.begin(), held.end(), std::pair{fp, std::size_t{0}});
    auto hi = lo;
    while (hi != held.end() && hi->first == fp) ++hi;
    std::vector<std::string> holding;  // a recalled alert's groups' receivers
    for (const Route* r : routes) {
      // A new group of a receiver that already has this alert in an incident would page for
      // it again: the alert stays where it is (below). Its own group, if still produced, and
      // other receivers' groups are joined as usual.
      bool same_group = false;
      bool same_receiver = false;
      for (auto it = lo; it != hi; ++it) {
        const Announced& x = announced[it->second];
        if (r->path() == x.route->path() && r->InGroup(x.group->labels, a.labels)) {
          same_group = true;
        }
        if (x.receiver == r->receiver().name) same_receiver = true;
      }
      // A recalled alert (Recall) stays in the groups it was recalled into until its source
      // sends it again: it may have resolved while tocsin was down.
      if (!same_group && (same_receiver || e->recalled)) continue;
      AddToGroup(*r, a, fp, *e, now);
      if (e->recalled) holding.push_back(r->receiver().name);
    }
    if (e->recalled) {
      // Its receivers are those of the groups that hold it (Insert reads them when its source
      // sends it again): the ones joined here and the announced ones it stays in.
      for (auto it = lo; it != hi; ++it) holding.push_back(announced[it->second].group->receiver);
      std::sort(holding.begin(), holding.end());
      holding.erase(std::unique(holding.begin(), holding.end()), holding.end());
      e->receivers = &*receiver_lists_.insert(std::move(holding)).first;
    }
  }
  for (auto& x : announced) {
    Group& g = *x.group;
    if (g.route == nullptr) {
      // No new route produces it: kept under the routes it was announced with.
      g.route = x.route;
    } else {
      g.kept_tree.reset();  // taken over by a new route of the same path and labels
    }
    for (const auto& fp : x.held) {
      if (!std::binary_search(g.members.begin(), g.members.end(), fp)) ++alerts_.at(fp)->groups;
    }
    std::vector<Fingerprint> members;
    members.reserve(g.members.size() + x.held.size());
    std::set_union(g.members.begin(), g.members.end(), x.held.begin(), x.held.end(),
                   std::back_inserter(members));
    g.members = std::move(members);
  }
  std::erase_if(groups_, [&](auto& kv) {
    if (kv.second.route != nullptr) return false;
    if (kv.second.timer) scheduler_.Cancel(kv.second.timer);
    return true;
  });
  boost::unordered::erase_if(alerts_, [](const auto& kv) { return kv.second->groups == 0; });
}

}  // namespace tocsin::dispatch
