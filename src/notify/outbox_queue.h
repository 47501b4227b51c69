#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/incident/page.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Where a deliverable item goes now: the provider it is sent through (after fail-over) and the
// rate-limit bucket it counts against there ("pagerduty:rk-…"). `routable` is false when no
// configured notifier serves `via`.
struct Lane {
  incident::Channel via = incident::Channel::kSlack;
  std::string bucket;
  bool routable = true;
  auto operator<=>(const Lane&) const = default;
};

// A ready head in its lane, in sending order: a person's acknowledge or resolve mirrored to the
// provider (rank 0) before everything else (rank 1), then by id. After a storm, a rate-limited
// lane holds hundreds of triggers; a person's ack of one incident went behind all of them (at
// PagerDuty's 120 events a minute, minutes during which PagerDuty went on escalating). The
// items of one (original provider, incident) still go in id order (one head per key).
struct Ready {
  int rank = 1;
  std::int64_t id = 0;
  auto operator<=>(const Ready&) const = default;
};
int ReadyRank(const OutboxItem& item);

// The outbox's pending deliveries, indexed so that the pump touches only what it can send.
//
// Items of one (original provider, incident) go one at a time in id order, so only the first
// pending item of each such key (its head) is ever a candidate. An incident's "closing" items
// (notifier.h) form a line of their own beside it: they go to a provider the line left, and
// neither waits for the other. A head is either waiting
// (due later, ordered by due time), ready (due, in the ready set of its lane, ordered by id),
// or out (in flight). The pump visits the lanes, skips a lane whose provider is blocked or
// whose bucket has no budget with one look, and takes the first of the others (Ready); the work
// of a pass is the number of lanes plus what it sends, not the number of pending items.
//
// The lane of an item depends on fail-over state and routes, which the outbox owns: it hands
// a function that computes it (LaneOf), and calls Relane when what it depends on changed.
// Depth per original provider and the coalesce-key index are kept as items come and go.
//
// Thread-safety: none; the outbox's loop thread only.
class OutboxQueue {
 public:
  using LaneOf = std::function<Lane(const OutboxItem&)>;
  using ReadyIds = std::set<Ready>;

  explicit OutboxQueue(LaneOf lane_of) : lane_of_(std::move(lane_of)) {}

  // A new pending item (loaded or just written).
  void Add(OutboxItem item);
  // A finished or superseded item leaves (returned); the next item of its key becomes the head.
  std::optional<OutboxItem> Remove(std::int64_t id);
  OutboxItem* Find(std::int64_t id);
  const std::map<std::int64_t, OutboxItem>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }

  // The head is on its way: out of its lane until it comes back (Requeue) or leaves.
  void TakeOut(std::int64_t id);
  // A delivery that will be tried again: back to its lane (recomputed) or waiting.
  void Requeue(std::int64_t id);
  // Routing changed (fail-over, reload): every head's lane is computed again.
  void RelaneAll();
  // The routes of one incident changed: its heads' lanes are computed again.
  void RelaneIncident(const std::string& incident_id);

  // Heads whose due time has come move to their lanes; the next due time of the others.
  std::optional<TimePoint> PromoteDue(TimePoint now);
  const std::map<Lane, ReadyIds>& lanes() const { return lanes_; }

  // Pending ids with this coalesce key.
  const std::set<std::int64_t>* WithCoalesceKey(const std::string& key) const;
  // Pending ids of one incident, every provider.
  std::vector<std::int64_t> IdsOfIncident(const std::string& incident_id) const;
  // Pending items by original provider.
  const std::map<incident::Channel, std::int64_t>& depth() const { return depth_; }

 private:
  // (original channel, incident, whether the line of its closings)
  using Key = std::tuple<incident::Channel, std::string, bool>;
  enum class Where { kBehind, kWaiting, kReady, kOut };
  struct Meta {
    Where where = Where::kBehind;
    Lane lane;
  };

  static Key KeyOf(const OutboxItem& item) {
    return {item.original_channel, item.request.incident_id, item.kind == "closing"};
  }
  // Files the head of `key` (if any, and if it is not already filed) as waiting or ready.
  void FileHead(const Key& key);
  void Unfile(std::int64_t id);
  void FileReady(std::int64_t id, const OutboxItem& item);

  LaneOf lane_of_;
  TimePoint now_{};  // the last PromoteDue's: a head due by then is filed ready
  std::map<std::int64_t, OutboxItem> items_;
  std::map<std::int64_t, Meta> meta_;
  std::map<Key, std::set<std::int64_t>> keys_;
  std::map<std::string, std::set<Key>> keys_of_incident_;
  std::set<std::pair<TimePoint, std::int64_t>> waiting_;
  std::map<Lane, ReadyIds> lanes_;
  std::map<std::string, std::set<std::int64_t>> coalesce_;
  std::map<incident::Channel, std::int64_t> depth_;
};

}  // namespace tocsin::notify
