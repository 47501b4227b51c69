#include "tocsin/ha/ha_config.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "tocsin/config/yaml_reader.h"

namespace tocsin::ha {

HaConfig LoadHaConfig(const config::Config& cfg, config::Diagnostics& diags) {
  HaConfig out;
  out.advertise_address = cfg.server.listen;
  auto it = cfg.sections.find("ha");
  if (it == cfg.sections.end()) return out;
  config::MapReader r(cfg.file, it->second, diags, "ha");
  if (!r.ok()) {
    diags.Error(config::PositionOf(cfg.file, it->second), "ha must be a mapping");
    return out;
  }
  r.String("instance", out.instance);
  r.String("cluster_name", out.cluster_name);
  r.String("advertise_address", out.advertise_address);
  Duration lease = out.lease;
  if (r.DurationValue("lease", lease)) {
    if (lease < kMinLease || lease > kMaxLease) {
      diags.Error(r.Where("lease"),
                  fmt::format("ha.lease must be between {} s and {} min (failover takes about "
                              "lease + lease/3)",
                              std::chrono::duration_cast<std::chrono::seconds>(kMinLease).count(),
                              std::chrono::duration_cast<std::chrono::minutes>(kMaxLease).count()));
    } else {
      out.lease = lease;
    }
  }
  Duration forward = out.forward_timeout;
  if (r.DurationValue("forward_timeout", forward)) {
    if (forward < kMinForwardTimeout || forward > kMaxForwardTimeout) {
      diags.Error(
          r.Where("forward_timeout"),
          fmt::format(
              "ha.forward_timeout must be between {} s and {} s (how long a "
              "standby waits for the active instance to take a change)",
              std::chrono::duration_cast<std::chrono::seconds>(kMinForwardTimeout).count(),
              std::chrono::duration_cast<std::chrono::seconds>(kMaxForwardTimeout).count()));
    } else {
      out.forward_timeout = forward;
    }
  }
  if (out.cluster_name.empty()) {
    diags.Error(r.Where("cluster_name"), "ha.cluster_name must not be empty");
    out.cluster_name = "tocsin";
  }
  r.Finish();
  return out;
}

std::string DefaultInstanceName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "tocsin";
  return buf;
}

Duration SafetyMargin(Duration lease) {
  return std::max<Duration>(lease / 5, std::chrono::seconds(1));
}

}  // namespace tocsin::ha
