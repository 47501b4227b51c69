#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::ha {

enum class Role { kStandby, kActive };
// "active" / "standby": as the API, the metrics and the instances table spell it.
const char* RoleName(Role role);

// The lease row as one acquire-or-renew left it. Times are the database's clock.
struct LeaseView {
  std::string holder;      // empty: never held
  std::int64_t epoch = 0;  // fencing epoch: +1 at every change of holder (or expiry)
  TimePoint expires_at{};  // by the database's clock
  TimePoint db_now{};      // the database's clock when this was read
  bool held = false;       // the caller holds it now (acquired or renewed)
};

// One row of the instances table.
struct PeerInfo {
  std::string name;
  std::string role;  // what that instance last said it was
  std::string address;
  TimePoint last_heartbeat{};  // by the database's clock
};

// Where the lease and the instances' heartbeats live (PostgreSQL: PgLeaseStore). Calls block
// (they run on the coordinator's executor, never on the loop). Thread-safety: one caller at a
// time.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // Creates the tables and the fencing function if they are missing.
  virtual Result<void> Migrate() = 0;
  // In one transaction: records this instance's heartbeat (`role`, `address`), then takes the
  // lease when it has expired (a new epoch) or renews it when `instance` holds it and it has not
  // expired (same epoch), for `lease` from the database's now. Otherwise leaves it and reports
  // who holds it.
  virtual Result<LeaseView> AcquireOrRenew(const std::string& instance, Role role,
                                           const std::string& address, Duration lease) = 0;
  // Ends the lease at once if `instance` still holds it at `epoch` (graceful stop), so a
  // standby takes over at its next poll instead of after the lease.
  virtual Result<void> Release(const std::string& instance, std::int64_t epoch) = 0;
  virtual Result<std::vector<PeerInfo>> Peers() = 0;
};

}  // namespace tocsin::ha
