#pragma once

#include <atomic>
#include <vector>

#include "tocsin/incident/incident_store.h"
#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store {

// IncidentStore on SQLite (module "incident" of store::Database). Incidents are one row each
// (queried columns plus the full value as JSON); the timeline is append-only (triggers refuse
// UPDATE and DELETE, and the hash chain detects edits made around them); page intents are keyed
// by idempotency key; inbound deliveries (table inbound_deliveries) are recorded in the
// transaction of the change they caused.
//
// Without a StoreThread, every write is its own BEGIN IMMEDIATE transaction on `db`, and the
// …Async forms complete before they return (tests, tools). With one (the daemon), every write
// goes to the store thread: the …Async forms queue it for the next group commit and never
// block; the synchronous forms wait for that commit (startup and tools only, never the loop).
// Reads always use `db`, which in WAL mode sees every committed group without waiting for the
// one being written.
// Thread-safety: as Database (one connection behind a mutex); writes are ordered by the store
// thread.
class SqliteIncidentStore final : public incident::IncidentStore {
 public:
  explicit SqliteIncidentStore(Database& db, StoreThread* writer = nullptr)
      : db_(db), writer_(writer) {}
  // Applies the "incident" migrations. Call once before use.
  Result<void> Migrate();
  static const std::vector<Migration>& Migrations();

  Result<std::int64_t> NextIncidentNumber() override;
  Result<std::int64_t> PeekNextIncidentNumber() override;
  Result<void> Commit(const incident::IncidentChange& change) override;
  void CommitAsync(incident::IncidentChange change, Done done) override;
  // With a store thread, corked (StoreThread::Cork) until `alongside` has run.
  void CommitAsyncAlongside(incident::IncidentChange change, Done done,
                            const std::function<void()>& alongside) override;
  void RecordDeliveryAsync(incident::InboundDelivery delivery, Done done) override;
  void MarkHandedOffAsync(std::string idempotency_key, Done done) override;
  Result<std::optional<incident::Incident>> Get(const std::string& id) override;
  Result<std::vector<incident::Incident>> List(const incident::IncidentFilter& filter) override;
  Result<std::vector<incident::TimelineEvent>> Timeline(const std::string& id) override;
  Result<std::vector<incident::PageIntent>> PendingPages() override;
  Result<void> MarkHandedOff(const std::string& idempotency_key) override;
  Result<std::vector<std::string>> PageKeys(const std::string& incident_id) override;
  Result<bool> HasDelivery(const std::string& source, const std::string& id) override;
  Result<void> RecordDelivery(const incident::InboundDelivery& delivery) override;

 private:
  // The bodies of the writes, run inside a transaction on `db` (this store's own connection,
  // or the store thread's).
  Result<void> CommitIn(Database& db, const incident::IncidentChange& change);
  Result<void> RecordDeliveryIn(Database& db, const incident::InboundDelivery& delivery);
  static Result<void> MarkHandedOffIn(Database& db, const std::string& idempotency_key);
  // Runs `write` in a transaction of its own: on the store thread when there is one.
  Result<void> Write(const StoreThread::Write& write);
  void WriteAsync(StoreThread::Write write, Done done);
  // Drops deliveries older than 72 h now and then; inside the caller's transaction.
  Result<void> PruneDeliveries(Database& db, TimePoint now);

  Database& db_;
  StoreThread* writer_;
  std::atomic<std::uint64_t> deliveries_recorded_{0};
};

}  // namespace tocsin::store
