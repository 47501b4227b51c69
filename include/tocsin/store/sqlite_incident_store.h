#pragma once

#include <vector>

#include "tocsin/incident/incident_store.h"
#include "tocsin/store/database.h"

namespace tocsin::store {

// IncidentStore on SQLite (module "incident" of store::Database). Incidents are one row each
// (queried columns plus the full value as JSON); the timeline is append-only (triggers refuse
// UPDATE and DELETE, and the hash chain detects edits made around them); page intents are keyed
// by idempotency key; inbound deliveries (table inbound_deliveries) are recorded in the
// transaction of the change they caused. Every Commit is one BEGIN IMMEDIATE transaction.
// Thread-safety: as Database (one connection behind a mutex).
class SqliteIncidentStore final : public incident::IncidentStore {
 public:
  explicit SqliteIncidentStore(Database& db) : db_(db) {}
  // Applies the "incident" migrations. Call once before use.
  Result<void> Migrate();
  static const std::vector<Migration>& Migrations();

  Result<std::int64_t> NextIncidentNumber() override;
  Result<void> Commit(const incident::IncidentChange& change) override;
  Result<std::optional<incident::Incident>> Get(const std::string& id) override;
  Result<std::vector<incident::Incident>> List(const incident::IncidentFilter& filter) override;
  Result<std::vector<incident::TimelineEvent>> Timeline(const std::string& id) override;
  Result<std::vector<incident::PageIntent>> PendingPages() override;
  Result<void> MarkHandedOff(const std::string& idempotency_key) override;
  Result<std::vector<std::string>> PageKeys(const std::string& incident_id) override;
  Result<bool> HasDelivery(const std::string& source, const std::string& id) override;
  Result<void> RecordDelivery(const incident::InboundDelivery& delivery) override;

 private:
  // Drops deliveries older than 72 h now and then; inside the caller's transaction.
  Result<void> PruneDeliveries(Database& db, TimePoint now);

  Database& db_;
  std::uint64_t deliveries_recorded_ = 0;
};

}  // namespace tocsin::store
