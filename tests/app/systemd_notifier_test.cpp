#include "tocsin/app/systemd_notifier.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "app/notify_socket.h"
#include "support/temp_dir.h"

namespace tocsin::app {
namespace {

TEST(SystemdNotifierTest, DisabledWithoutSocketIsANoOp) {
  SystemdNotifier n("", std::nullopt);
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.Ready());
  EXPECT_FALSE(n.WatchdogPingInterval());
}

TEST(SystemdNotifierTest, SendsToFilesystemSocket) {
  testing::TempDir dir;
  testing::NotifySocket sock(dir.path() + "/notify");
  ASSERT_TRUE(sock.bound());
  SystemdNotifier n(sock.name(), std::nullopt);
  ASSERT_TRUE(n.Ready("serving on port 9095"));
  EXPECT_EQ(sock.Receive(), "READY=1\nSTATUS=serving on port 9095");
  ASSERT_TRUE(n.Reloading(123456789));
  EXPECT_EQ(sock.Receive(), "RELOADING=1\nMONOTONIC_USEC=123456789");
  ASSERT_TRUE(n.Stopping());
  EXPECT_EQ(sock.Receive(), "STOPPING=1");
  ASSERT_TRUE(n.Status("two\nlines"));
  EXPECT_EQ(sock.Receive(), "STATUS=two lines");
  ASSERT_TRUE(n.Watchdog());
  EXPECT_EQ(sock.Receive(), "WATCHDOG=1");
}

TEST(SystemdNotifierTest, SendsToAbstractSocketWithExactAddressLength) {
  // A padded address length would name a different abstract socket: the datagram would not
  // arrive here.
  std::string name = "@tocsin-test-" + std::to_string(::getpid());
  testing::NotifySocket sock(name);
  ASSERT_TRUE(sock.bound());
  SystemdNotifier n(name, std::nullopt);
  ASSERT_TRUE(n.Ready());
  EXPECT_EQ(sock.Receive(), "READY=1");
}

TEST(SystemdNotifierTest, SendFailsWhenNobodyListens) {
  SystemdNotifier n("/nonexistent/notify.sock", std::nullopt);
  EXPECT_FALSE(n.Ready());
}

TEST(SystemdNotifierTest, WatchdogIntervalIsHalfOfWatchdogUsecForThisPid) {
  ::setenv("NOTIFY_SOCKET", "/run/x", 1);
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  auto n = SystemdNotifier::FromEnvironment();
  ASSERT_TRUE(n.WatchdogPingInterval());
  EXPECT_EQ(*n.WatchdogPingInterval(), std::chrono::seconds(15));
  ::setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
  EXPECT_FALSE(SystemdNotifier::FromEnvironment().WatchdogPingInterval());
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

}  // namespace
}  // namespace tocsin::app
