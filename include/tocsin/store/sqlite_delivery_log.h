#pragma once

#include "tocsin/notify/delivery_log.h"
#include "tocsin/store/database.h"

namespace tocsin::store {

// The delivery log read from the outbox's table (notify_outbox, see SqliteOutboxStore), newest
// first, paged by id. Read-only: it never writes. Thread-safety: as its Database.
class SqliteDeliveryLog final : public notify::DeliveryLog {
 public:
  explicit SqliteDeliveryLog(Database& db) : db_(db) {}
  Result<notify::DeliveryLogPage> List(const notify::DeliveryLogFilter& filter) override;

 private:
  Database& db_;
};

}  // namespace tocsin::store
