#include "notify/outbox_queue.h"

#include "tocsin/incident/incident.h"

namespace tocsin::notify {

void OutboxQueue::Add(OutboxItem item) {
  const std::int64_t id = item.id;
  Key key = KeyOf(item);
  depth_[item.original_channel]++;
  if (!item.coalesce_key.empty()) coalesce_[item.coalesce_key].insert(id);
  keys_of_incident_[item.request.incident_id].insert(key);
  items_.insert_or_assign(id, std::move(item));
  meta_[id] = Meta{};
  auto& ids = keys_[key];
  // An item older than the filed head (rows loaded out of order) takes its place.
  if (!ids.empty() && *ids.begin() > id) {
    auto& old = meta_[*ids.begin()];
    if (old.where == Where::kWaiting || old.where == Where::kReady) {
      Unfile(*ids.begin());
      old.where = Where::kBehind;
    }
  }
  ids.insert(id);
  FileHead(key);
}

std::optional<OutboxItem> OutboxQueue::Remove(std::int64_t id) {
  auto it = items_.find(id);
  if (it == items_.end()) return std::nullopt;
  Unfile(id);
  const OutboxItem& item = it->second;
  Key key = KeyOf(item);
  if (auto d = depth_.find(item.original_channel); d != depth_.end()) d->second--;
  if (!item.coalesce_key.empty()) {
    auto c = coalesce_.find(item.coalesce_key);
    if (c != coalesce_.end()) {
      c->second.erase(id);
      if (c->second.empty()) coalesce_.erase(c);
    }
  }
  auto k = keys_.find(key);
  if (k != keys_.end()) {
    k->second.erase(id);
    if (k->second.empty()) {
      keys_.erase(k);
      auto inc = keys_of_incident_.find(std::get<1>(key));
      if (inc != keys_of_incident_.end()) {
        inc->second.erase(key);
        if (inc->second.empty()) keys_of_incident_.erase(inc);
      }
    }
  }
  meta_.erase(id);
  OutboxItem removed = std::move(it->second);
  items_.erase(it);
  FileHead(key);
  return removed;
}

OutboxItem* OutboxQueue::Find(std::int64_t id) {
  auto it = items_.find(id);
  return it == items_.end() ? nullptr : &it->second;
}

void OutboxQueue::TakeOut(std::int64_t id) {
  auto m = meta_.find(id);
  if (m == meta_.end()) return;
  Unfile(id);
  m->second.where = Where::kOut;
}

void OutboxQueue::Requeue(std::int64_t id) {
  auto m = meta_.find(id);
  if (m == meta_.end()) return;
  if (m->second.where != Where::kOut) return;
  m->second.where = Where::kBehind;
  FileHead(KeyOf(items_.at(id)));
}

int ReadyRank(const OutboxItem& item) {
  const auto action = item.request.action;
  const bool stops_paging =
      action == incident::PageAction::kAcknowledge || action == incident::PageAction::kResolve;
  // A person's, not tocsin's own (alerts that resolve by themselves): people ack and resolve
  // at a human pace, while a flapping storm could resolve fast enough to hold new triggers
  // back for good.
  return stops_paging && !item.request.actor.empty() && item.request.actor != incident::kSystemActor
             ? 0
             : 1;
}

void OutboxQueue::RelaneAll() {
  std::vector<std::int64_t> ready;
  for (const auto& [lane, heads] : lanes_) {
    for (const auto& r : heads) ready.push_back(r.id);
  }
  lanes_.clear();
  for (auto id : ready) FileReady(id, items_.at(id));
}

void OutboxQueue::RelaneIncident(const std::string& incident_id) {
  auto inc = keys_of_incident_.find(incident_id);
  if (inc == keys_of_incident_.end()) return;
  for (const auto& key : inc->second) {
    auto k = keys_.find(key);
    if (k == keys_.end() || k->second.empty()) continue;
    std::int64_t head = *k->second.begin();
    if (meta_[head].where != Where::kReady) continue;
    Unfile(head);
    FileReady(head, items_.at(head));
  }
}

std::optional<TimePoint> OutboxQueue::PromoteDue(TimePoint now) {
  if (now > now_) now_ = now;
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::int64_t id = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    FileReady(id, items_.at(id));
  }
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first;
}

const std::set<std::int64_t>* OutboxQueue::WithCoalesceKey(const std::string& key) const {
  auto it = coalesce_.find(key);
  return it == coalesce_.end() ? nullptr : &it->second;
}

std::vector<std::int64_t> OutboxQueue::IdsOfIncident(const std::string& incident_id) const {
  std::vector<std::int64_t> out;
  auto inc = keys_of_incident_.find(incident_id);
  if (inc == keys_of_incident_.end()) return out;
  for (const auto& key : inc->second) {
    if (auto k = keys_.find(key); k != keys_.end())
      out.insert(out.end(), k->second.begin(), k->second.end());
  }
  return out;
}

void OutboxQueue::FileHead(const Key& key) {
  auto k = keys_.find(key);
  if (k == keys_.end() || k->second.empty()) return;
  std::int64_t head = *k->second.begin();
  Meta& m = meta_[head];
  if (m.where != Where::kBehind) return;
  const OutboxItem& item = items_.at(head);
  if (item.next_attempt_at > now_) {
    m.where = Where::kWaiting;
    waiting_.insert({item.next_attempt_at, head});
    return;
  }
  FileReady(head, item);
}

void OutboxQueue::FileReady(std::int64_t id, const OutboxItem& item) {
  Meta& m = meta_[id];
  m.where = Where::kReady;
  m.lane = lane_of_(item);
  lanes_[m.lane].insert({ReadyRank(item), id});
}

void OutboxQueue::Unfile(std::int64_t id) {
  auto m = meta_.find(id);
  if (m == meta_.end()) return;
  if (m->second.where == Where::kWaiting) {
    waiting_.erase({items_.at(id).next_attempt_at, id});
  } else if (m->second.where == Where::kReady) {
    auto l = lanes_.find(m->second.lane);
    if (l != lanes_.end()) {
      l->second.erase({ReadyRank(items_.at(id)), id});
      if (l->second.empty()) lanes_.erase(l);
    }
  }
  m->second.where = Where::kBehind;
}

}  // namespace tocsin::notify
