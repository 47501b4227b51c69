#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::app {

// systemd's notify protocol, spoken on the socket directly (no libsystemd): one AF_UNIX
// datagram of KEY=VALUE lines to $NOTIFY_SOCKET, which is a path or, with a leading '@', an
// abstract socket name. Without $NOTIFY_SOCKET every call is a no-op. Thread-safe.
class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  static SystemdNotifier FromEnvironment();
  // For tests: an explicit socket address and watchdog interval.
  SystemdNotifier(std::string socket, std::optional<Duration> watchdog_interval)
      : socket_(std::move(socket)), watchdog_(watchdog_interval) {}

  bool enabled() const { return !socket_.empty(); }
  // Sends the lines as one datagram. Ok (and nothing sent) when disabled.
  Result<void> Send(std::string_view state) const;

  Result<void> Ready(std::string_view status = {}) const;
  // RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload requires.
  Result<void> Reloading(std::uint64_t monotonic_usec) const;
  Result<void> Stopping() const;
  Result<void> Status(std::string_view status) const;
  Result<void> Watchdog() const;

  // Half of WATCHDOG_USEC when the watchdog applies to this process, as sd_watchdog_enabled()
  // recommends; nullopt otherwise.
  std::optional<Duration> WatchdogPingInterval() const;

 private:
  std::string socket_;
  std::optional<Duration> watchdog_;
};

}  // namespace tocsin::app
