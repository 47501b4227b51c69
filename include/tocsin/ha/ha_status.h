#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/ha/lease_store.h"

namespace tocsin::ha {

// What GET /api/v1/ha and /api/v2/status say about the cluster.
struct HaStatus {
  std::string instance;
  std::string cluster_name;
  std::string backend;  // "postgresql" (lease) or "sqlite" (one instance, always active)
  Role role = Role::kStandby;
  std::int64_t epoch = 0;
  std::string holder;                         // who holds the lease, as last read
  std::optional<TimePoint> lease_expires_at;  // database clock; none on SQLite
  Duration lease{0};
  std::vector<PeerInfo> peers;
  // A standby that has not seen an active instance (nor could take the lease) for longer than
  // the lease: nothing pages. Since when, by the wall clock.
  std::optional<TimePoint> no_active_since;
  std::uint64_t failovers = 0;  // times this instance took the lease over
  std::string last_error;       // the lease store's last error, empty when the last call worked
};

// Who answers questions about the cluster: the coordinator on PostgreSQL, a fixed answer on
// SQLite. Thread-safety: loop thread.
class HaStatusSource {
 public:
  virtual ~HaStatusSource() = default;
  virtual HaStatus Status() const = 0;
};

// SQLite: one instance, always active, no lease.
class SingleInstanceStatus final : public HaStatusSource {
 public:
  SingleInstanceStatus(std::string instance, std::string cluster_name)
      : instance_(std::move(instance)), cluster_name_(std::move(cluster_name)) {}
  HaStatus Status() const override {
    HaStatus s;
    s.instance = instance_;
    s.cluster_name = cluster_name_;
    s.backend = "sqlite";
    s.role = Role::kActive;
    s.holder = instance_;
    return s;
  }

 private:
  std::string instance_;
  std::string cluster_name_;
};

}  // namespace tocsin::ha
