#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/slack_thread_store.h"

namespace tocsin::notify {

// Whether writing `item` supersedes pending deliveries: a new update with a coalesce key (the
// pending update it replaces), or an acknowledge or resolve (the incident's triggers not yet
// on their way, which would wake someone for nothing). The outbox and its stores agree on it.
inline bool SupersedesPending(const OutboxItem& item) {
  return !item.coalesce_key.empty() || item.request.action == incident::PageAction::kAcknowledge ||
         item.request.action == incident::PageAction::kResolve;
}

// Where the outbox keeps its deliveries durably: every delivery pending until the provider
// said 2xx (then "sent"), or "failed" (permanent), or "superseded" (coalesced); and, as a
// SlackThreadStore, where each incident's Slack message is. Implemented by the store module
// (store::SqliteOutboxStore); the notify module knows only this interface.
//
// Writes are asynchronous so that the event loop never waits for an fsync: each takes a
// completion that runs on the loop once the write is durable, or has failed and left nothing
// behind. Completions run in the order the writes were made. An implementation without a
// writer thread may complete before the call returns (tests, tools), so a caller never relies
// on the completion running later.
//
// Thread-safety: Migrate, LoadPending, LoadRoutes, Count and the writes from the loop thread
// (the reads at startup, before the loop runs); the SlackThreadStore part from any thread.
class OutboxStore : public SlackThreadStore {
 public:
  template <typename T>
  using Done = std::function<void(Result<T>)>;
  // For every incident, the provider each original channel was last delivered through.
  using RouteMap = std::map<std::string, std::map<incident::Channel, incident::Channel>>;

  ~OutboxStore() override = default;

  // Startup, blocking: the tables, what a previous run left pending, the routes taken.
  virtual Result<void> Migrate() = 0;
  virtual Result<std::vector<OutboxItem>> LoadPending() = 0;
  // For every incident, the alert providers a trigger of it was delivered to.
  using DeliveredMap = std::map<std::string, std::vector<incident::Channel>>;
  // Differs from the route named after a fail-over, so acks and resolves follow the trigger.
  // `delivered` gets where each incident's triggers were delivered (kind "page"): after a
  // fail-over in the middle of a ladder, a provider the route left still has a page of it.
  virtual Result<RouteMap> LoadRoutes(DeliveredMap& delivered) = 0;
  // The acknowledges and resolves decided for the incidents that have deliveries pending or
  // page intents not yet handed to the outbox, whether they queued anything or not (one made
  // in a provider's app may queue nothing): after a restart, what they made stale is withdrawn
  // again, also when marking it withdrawn had failed. A record that cannot be read is logged
  // and skipped.
  struct Closing {
    std::string incident_id;
    incident::PageAction action = incident::PageAction::kAcknowledge;
    TimePoint at;  // when it was decided
  };
  virtual Result<std::vector<Closing>> LoadClosings() = 0;

  // Writes the items (their ids filled in, in the result) and marks `supersede` as superseded,
  // all or nothing. An item whose (idempotency key, original channel, target, person) was
  // stored before, of whatever kind ("closing" apart: it is one beside its provider's line),
  // is skipped (not in the result): the same request sent twice is delivered once. `supersede`
  // applies only when a new item that SupersedesPending was written.
  virtual void Insert(std::vector<OutboxItem> items, std::vector<std::int64_t> supersede,
                      Done<std::vector<OutboxItem>> done) = 0;
  // Insert, on condition that the page intent `intent_key` is recorded in the incident store
  // when the write runs (Pager::SendOnceDecided): otherwise nothing is written and `done` gets
  // kNotFound. The intent's write must have been submitted first to the same store writer.
  // `items` may be empty: the answer then only says whether the intent is recorded, in order
  // with the other writes.
  virtual void InsertIfDecided(std::string intent_key, std::vector<OutboxItem> items,
                               std::vector<std::int64_t> supersede,
                               Done<std::vector<OutboxItem>> done) = 0;
  virtual void MarkSent(std::int64_t id, incident::Channel via, TimePoint at, int status,
                        std::string detail, Done<void> done) = 0;
  virtual void MarkFailed(std::int64_t id, incident::Channel via, TimePoint at, int status,
                          std::string detail, Done<void> done) = 0;
  virtual void MarkRetry(std::int64_t id, int attempts, TimePoint next_attempt_at, int status,
                         std::string detail, Done<void> done) = 0;
  // Marks a pending row superseded with `status` and `detail`: a trigger an acknowledge or
  // resolve of its incident made stale. `attempted`: it was tried once more (counted).
  virtual void MarkWithdrawn(std::int64_t id, incident::Channel via, TimePoint at, int status,
                             std::string detail, bool attempted, Done<void> done) = 0;
  // Deletes finished rows (sent, failed, superseded) finished before `before`; how many.
  virtual void Prune(TimePoint before, Done<std::int64_t> done) = 0;

  // Rows in `state`, -1 when the database could not say (tests and metrics; a read).
  virtual std::int64_t Count(std::string_view state) = 0;
};

}  // namespace tocsin::notify
