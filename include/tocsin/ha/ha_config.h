#pragma once

#include <chrono>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::ha {

// The `ha:` section: how this instance takes part in a cluster of tocsin instances sharing one
// PostgreSQL store (on SQLite there is one instance and the section only names it).
struct HaConfig {
  // This instance's name in the cluster (`serve --instance` overrides it; default: host name).
  std::string instance;
  // The cluster's name, shown by /api/v2/status (amtool cluster show) and /api/v1/ha.
  std::string cluster_name = "tocsin";
  // How long the lease lasts after each renewal, by the database's clock. The holder renews it
  // every lease/3 and steps down when it could not renew within lease minus a safety margin by
  // its own monotonic clock; a standby takes over once it has expired. Failover takes at most
  // about lease + lease/3.
  Duration lease = std::chrono::seconds(10);
  // Where peers and operators reach this instance (shown in the peer list); default: the
  // listen address.
  std::string advertise_address;
  // How long a standby waits for the active instance to take a change a person asked it for
  // (an ack, a note...) before withdrawing it and answering that nothing was changed.
  Duration forward_timeout = std::chrono::seconds(5);
  friend bool operator==(const HaConfig&, const HaConfig&) = default;
};

// The smallest and largest lease accepted: below 3 s a database hiccup flips roles, above 5
// minutes a failover is no longer "in seconds".
inline constexpr Duration kMinLease = std::chrono::seconds(3);
inline constexpr Duration kMaxLease = std::chrono::minutes(5);
inline constexpr Duration kMinForwardTimeout = std::chrono::seconds(1);
inline constexpr Duration kMaxForwardTimeout = std::chrono::seconds(60);

// Reads `ha:` of `cfg` (absent: defaults). An empty instance name is left empty for the caller
// to fill with --instance or the host name (DefaultInstanceName).
HaConfig LoadHaConfig(const config::Config& cfg, config::Diagnostics& diags);

// The host name, or "tocsin" when it cannot be read.
std::string DefaultInstanceName();

// How long before the lease's expiry (by the local monotonic clock, counted from the moment a
// renewal was sent) the holder gives up: a fifth of the lease, at least one second. Clocks of
// two machines may run at slightly different rates; the margin absorbs that.
Duration SafetyMargin(Duration lease);

}  // namespace tocsin::ha
