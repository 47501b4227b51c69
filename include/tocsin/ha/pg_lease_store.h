#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/ha/lease_store.h"

namespace tocsin::ha {

// The lease on PostgreSQL, over a libpqxx connection of its own (never the store's: a long
// store transaction must not hold up a renewal). Tables: tocsin_ha_lease (one row: holder,
// epoch, expires_at), tocsin_ha_instances (name, role, address, last_heartbeat), and the
// function tocsin_check_epoch(epoch) that the store runs first in every write transaction of
// an active instance: it takes the lease row FOR SHARE (so a takeover waits for a write
// already running) and raises when `epoch` is not the lease's current one or the lease has
// expired. The connection is opened on first use and again after it broke; connecting and
// each statement give up after `timeout`. `url` is a libpq URI or key=value string; it is
// never logged. Thread-safety: one caller at a time (the coordinator's executor).
std::unique_ptr<LeaseStore> MakePgLeaseStore(std::string url, Duration timeout);

// The migration that creates the tables and tocsin_check_epoch, as SQL statements run in order
// (idempotent: CREATE ... IF NOT EXISTS / CREATE OR REPLACE).
const std::vector<std::string>& HaSchemaStatements();

}  // namespace tocsin::ha
