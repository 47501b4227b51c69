#include "tocsin/app/systemd_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace tocsin::app {

SystemdNotifier SystemdNotifier::FromEnvironment() {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  std::optional<Duration> watchdog;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec != nullptr) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(usec, &end, 10);
    bool ours =
        pid == nullptr || std::strtoll(pid, nullptr, 10) == static_cast<long long>(getpid());
    if (end != usec && *end == '\0' && v > 0 && ours) {
      watchdog = std::chrono::duration_cast<Duration>(std::chrono::microseconds(v));
    }
  }
  return SystemdNotifier(sock == nullptr ? "" : sock, watchdog);
}

Result<void> SystemdNotifier::Send(std::string_view state) const {
  if (socket_.empty()) return {};
  if (socket_.size() >= sizeof(sockaddr_un::sun_path)) {
    return Fail(Error::Invalid("NOTIFY_SOCKET path too long"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len;
  if (socket_[0] == '@') {
    // Abstract namespace: a leading NUL, and the length must not include padding.
    addr.sun_path[0] = '\0';
    std::memcpy(addr.sun_path + 1, socket_.data() + 1, socket_.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  } else if (socket_[0] == '/') {
    std::memcpy(addr.sun_path, socket_.data(), socket_.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() + 1);
  } else {
    return Fail(Error::Invalid("NOTIFY_SOCKET must be an absolute path or start with @"));
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Error::Io(fmt::format("notify socket: {}", std::strerror(errno))));
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (n < 0) return Fail(Error::Io(fmt::format("notify send: {}", std::strerror(err))));
  return {};
}

Result<void> SystemdNotifier::Ready(std::string_view status) const {
  if (status.empty()) return Send("READY=1");
  return Send(fmt::format("READY=1\nSTATUS={}", status));
}

Result<void> SystemdNotifier::Reloading(std::uint64_t monotonic_usec) const {
  return Send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec));
}

Result<void> SystemdNotifier::Stopping() const { return Send("STOPPING=1"); }

Result<void> SystemdNotifier::Status(std::string_view status) const {
  // STATUS is one line.
  std::string one(status);
  for (auto& c : one) {
    if (c == '\n') c = ' ';
  }
  return Send("STATUS=" + one);
}

Result<void> SystemdNotifier::Watchdog() const { return Send("WATCHDOG=1"); }

std::optional<Duration> SystemdNotifier::WatchdogPingInterval() const {
  if (!watchdog_ || socket_.empty()) return std::nullopt;
  return *watchdog_ / 2;
}

}  // namespace tocsin::app
