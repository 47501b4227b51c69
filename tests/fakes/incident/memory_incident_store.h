#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tocsin/incident/incident_store.h"

namespace tocsin::testing {

// IncidentStore in memory, for unit tests. `fail_commits` injects a store outage. Survives a
// "restart" when the test keeps the instance and builds a new IncidentManager on it.
class MemoryIncidentStore final : public incident::IncidentStore {
 public:
  bool fail_commits = false;
  // Every change committed, in order, and how many intents MarkHandedOff marked on its own.
  std::vector<incident::IncidentChange> committed;
  int separate_marks = 0;

  Result<std::int64_t> NextIncidentNumber() override { return next_++; }
  Result<std::int64_t> PeekNextIncidentNumber() override { return next_; }

  Result<void> Commit(const incident::IncidentChange& change) override {
    if (fail_commits) return Fail(Error::Io("injected store failure"));
    // As strict as SQLite: a stale change or a recorded delivery refuses the whole change.
    if (!change.events.empty()) {
      const auto& first = change.events.front();
      const auto& stored = timeline_[first.incident_id];
      if (!stored.empty() && first.seq <= stored.back().seq) {
        return Fail(Error::Conflict("incident " + first.incident_id + " changed since"));
      }
    }
    if (change.delivery && deliveries_.count(DeliveryKey(*change.delivery))) {
      return Fail(Error::Conflict("delivery already processed"));
    }
    if (change.delivery) deliveries_.insert(DeliveryKey(*change.delivery));
    incidents_[change.incident.id] = change.incident;
    // As SQLite: an incident's first change moves the counter past its number.
    if (!change.events.empty() && change.events.front().seq == 1) {
      next_ = std::max(next_, change.incident.number + 1);
    }
    for (const auto& e : change.events) timeline_[e.incident_id].push_back(e);
    for (const auto& p : change.pages) {
      if (intents_.count(p.idempotency_key)) continue;
      intents_[p.idempotency_key] = {p, false};
      order_.push_back(p.idempotency_key);
    }
    // As SQLite's UPDATE: a key never stored marks nothing.
    for (const auto& key : change.handed_off) {
      if (auto it = intents_.find(key); it != intents_.end()) it->second.handed_off = true;
    }
    committed.push_back(change);
    return {};
  }

  Result<std::optional<incident::Incident>> Get(const std::string& id) override {
    auto it = incidents_.find(id);
    if (it == incidents_.end()) return std::optional<incident::Incident>();
    return std::optional<incident::Incident>(it->second);
  }

  Result<std::vector<incident::Incident>> List(const incident::IncidentFilter& f) override {
    std::vector<incident::Incident> out;
    for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
      const auto& inc = it->second;
      if (f.open_only && !inc.open()) continue;
      if (!f.open_only && f.state && inc.state != *f.state) continue;
      if (f.opened_from && inc.opened_at < *f.opened_from) continue;
      if (f.opened_before && inc.opened_at >= *f.opened_before) continue;
      if (f.limit > 0 && static_cast<int>(out.size()) >= f.limit) break;
      out.push_back(inc);
    }
    return out;
  }

  Result<std::vector<incident::TimelineEvent>> Timeline(const std::string& id) override {
    // A write committed by the store thread while the loop reads lands here, between a read
    // of the incident and this read of its timeline.
    if (auto hook = std::exchange(before_timeline_read, nullptr)) hook();
    return timeline_[id];
  }
  // Tests only: runs once, at the start of the next Timeline() read.
  std::function<void()> before_timeline_read;

  Result<std::vector<incident::PageIntent>> PendingPages() override {
    std::vector<incident::PageIntent> out;
    for (const auto& k : order_) {
      if (!intents_[k].handed_off) out.push_back(intents_[k]);
    }
    return out;
  }

  Result<void> MarkHandedOff(const std::string& key) override {
    ++separate_marks;
    if (auto it = intents_.find(key); it != intents_.end()) it->second.handed_off = true;
    return {};
  }

  Result<std::vector<std::string>> PageKeys(const std::string& incident_id) override {
    std::vector<std::string> out;
    for (const auto& k : order_) {
      if (intents_[k].request.incident_id == incident_id) out.push_back(k);
    }
    return out;
  }

  Result<bool> HasDelivery(const std::string& source, const std::string& id) override {
    return deliveries_.count(source + "\n" + id) > 0;
  }

  Result<void> RecordDelivery(const incident::InboundDelivery& d) override {
    if (fail_commits) return Fail(Error::Io("injected store failure"));
    if (!deliveries_.insert(DeliveryKey(d)).second) {
      return Fail(Error::Conflict("delivery already processed"));
    }
    return {};
  }

  // Direct access for tamper tests.
  std::vector<incident::TimelineEvent>& timeline(const std::string& id) { return timeline_[id]; }

 private:
  std::int64_t next_ = 1;
  std::map<std::string, incident::Incident> incidents_;
  std::map<std::string, std::vector<incident::TimelineEvent>> timeline_;
  std::map<std::string, incident::PageIntent> intents_;
  std::vector<std::string> order_;
  std::set<std::string> deliveries_;

  static std::string DeliveryKey(const incident::InboundDelivery& d) {
    return d.source + "\n" + d.id;
  }
};

}  // namespace tocsin::testing
