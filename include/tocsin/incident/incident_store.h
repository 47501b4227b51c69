#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/incident/incident.h"

namespace tocsin::incident {

// A page the incident side decided to send, recorded in the same transaction as the
// transition that caused it. `handed_off` turns true in the commit that records the page
// "queued" on the timeline, after Pager::Send answered (the outbox has it durably); on
// restart, intents not handed off are sent again with the same idempotency key, which the
// outbox deduplicates.
struct PageIntent {
  PageRequest request;
  bool handed_off = false;
  friend bool operator==(const PageIntent&, const PageIntent&) = default;
};

// An inbound request whose effect a change is: a provider webhook delivery ("pagerduty" and
// the signed event id) or a signed Slack request ("slack" and its signature). Recorded in the
// same transaction as the effect, so a redelivery is recognised exactly when the effect is
// durable: a delivery whose action failed is not recorded, and its retry is acted on.
struct InboundDelivery {
  std::string source;  // "pagerduty" | "opsgenie" | "slack"
  std::string id;
  TimePoint received_at{};
  friend bool operator==(const InboundDelivery&, const InboundDelivery&) = default;
};

// One atomic change: the incident's new state, the timeline events it appends (already
// chained), the pages it decided and the inbound delivery that caused it, if any.
struct IncidentChange {
  Incident incident;
  std::vector<TimelineEvent> events;
  std::vector<PageRequest> pages;
  std::optional<InboundDelivery> delivery;
  // Page intents (by idempotency key) marked handed off in the same transaction: the outbox
  // holds the page and this change records it queued, so a restart does not hand it again.
  std::vector<std::string> handed_off;
};

struct IncidentFilter {
  std::optional<IncidentState> state;
  bool open_only = false;
  // Opened in [opened_from, opened_before) when set (reports over a range).
  std::optional<TimePoint> opened_from;
  std::optional<TimePoint> opened_before;
  int limit = 100;  // newest first; 0: no limit
};

// Durable home of incidents, timelines and page intents. SQLite is the embedded
// implementation (store::SqliteIncidentStore); a PostgreSQL one can fill the same interface.
// Thread-safety: implementations must be safe to call from the loop thread; they need not be
// called concurrently.
//
// Writes come in two forms. The synchronous one returns once the write is durable. The
// asynchronous one (…Async) returns at once and calls `done` on the loop thread once the write
// is durable or has failed; writes complete in the order they were submitted. The defaults
// run the synchronous form and call `done` before returning; a store with a store thread
// queues the write and commits it with others (group commit), so the loop never waits on disk.
class IncidentStore {
 public:
  using Done = std::function<void(Result<void>)>;
  virtual ~IncidentStore() = default;
  // Reserves the next incident number (1, 2, ...), durably, so numbers never repeat.
  virtual Result<std::int64_t> NextIncidentNumber() = 0;
  // The next number not used by any incident committed so far (a read, nothing reserved).
  // Committing an incident's first change (its first event has seq 1) moves it past that
  // incident's number, so a caller may count numbers in memory from here.
  virtual Result<std::int64_t> PeekNextIncidentNumber() = 0;
  // Applies the change atomically; when it returns ok, everything in it survives kill -9.
  // Refuses the whole change with kConflict when it was computed from a stale copy (its first
  // event is not newer than the incident's stored timeline) or when its delivery was already
  // recorded (a redelivery is not acted on twice).
  virtual Result<void> Commit(const IncidentChange& change) = 0;
  // Whether (source, id) was recorded, with its effect or alone.
  virtual Result<bool> HasDelivery(const std::string& source, const std::string& id) = 0;
  // Records a delivery that changed no incident (it was already in that state, or the request
  // was not about one); kConflict when it was already recorded. Deliveries are kept 72 hours
  // (providers retry for up to 48).
  virtual Result<void> RecordDelivery(const InboundDelivery& delivery) = 0;
  virtual Result<std::optional<Incident>> Get(const std::string& id) = 0;
  virtual Result<std::vector<Incident>> List(const IncidentFilter& filter) = 0;
  virtual Result<std::vector<TimelineEvent>> Timeline(const std::string& id) = 0;
  virtual Result<std::vector<PageIntent>> PendingPages() = 0;
  virtual Result<void> MarkHandedOff(const std::string& idempotency_key) = 0;
  // Every idempotency key recorded for the incident, in order (for audits and tests).
  virtual Result<std::vector<std::string>> PageKeys(const std::string& incident_id) = 0;

  virtual void CommitAsync(IncidentChange change, Done done) { done(Commit(change)); }
  // CommitAsync, then `alongside()`, before the store's writer starts on the change: writes
  // that `alongside` submits to the same writer (the outbox rows of the change's pages) join
  // its group commit. The default runs one after the other.
  virtual void CommitAsyncAlongside(IncidentChange change, Done done,
                                    const std::function<void()>& alongside) {
    CommitAsync(std::move(change), std::move(done));
    alongside();
  }
  virtual void RecordDeliveryAsync(InboundDelivery delivery, Done done) {
    done(RecordDelivery(delivery));
  }
  virtual void MarkHandedOffAsync(std::string idempotency_key, Done done) {
    done(MarkHandedOff(idempotency_key));
  }
};

}  // namespace tocsin::incident
