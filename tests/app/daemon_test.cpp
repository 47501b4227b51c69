// The real `tocsin` binary as systemd would run it: a notify socket, a watchdog, SIGHUP
// reloads (good and bad) and SIGTERM. Also the CLI's exit codes.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "app/notify_socket.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

int RunTocsin(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), TOCSIN_BINARY);
  Process p(args, {}, log);
  auto rc = p.Wait(30s);
  return rc.value_or(-1);
}

using testing::ReadFile;

TEST(CliTest, ExitCodesFollowPromtool) {
  TempDir dir;
  auto log = dir.path() + "/out.log";
  EXPECT_EQ(RunTocsin({"version"}, log), 0);
  EXPECT_NE(ReadFile(log).find("tocsin 0."), std::string::npos);
  EXPECT_EQ(RunTocsin({"serve", "--help"}, log), 0);
  EXPECT_EQ(RunTocsin({"check", "--help"}, log), 0);
  EXPECT_EQ(RunTocsin({}, log), 2);                    // no subcommand
  EXPECT_EQ(RunTocsin({"check", "--bogus"}, log), 2);  // unknown flag
  EXPECT_EQ(RunTocsin({"frobnicate"}, log), 2);        // unknown subcommand

  auto good = dir.Write("good.yaml", "log: {level: info}\n");
  EXPECT_EQ(RunTocsin({"check", "--config", good}, log), 0);

  auto bad = dir.Write("bad.yaml", "log:\n  level: loud\n");
  std::remove(log.c_str());
  EXPECT_EQ(RunTocsin({"check", "--config", bad}, log), 1);
  EXPECT_NE(ReadFile(log).find(bad + ":2:10: error: log.level: invalid value \"loud\""),
            std::string::npos)
      << ReadFile(log);

  EXPECT_EQ(RunTocsin({"check", "--config", dir.path() + "/missing.yaml"}, log), 2);
  EXPECT_EQ(
      RunTocsin({"check", "--config", std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml"}, log),
      0);
}

TEST(CliTest, ServeRefusesInvalidConfigWithExitCode1) {
  TempDir dir;
  auto bad = dir.Write("bad.yaml", "server: {listen: 'nope'}\n");
  EXPECT_EQ(RunTocsin({"serve", "--config", bad, "--data-dir", dir.path()}, dir.path() + "/log"),
            1);
}

class DaemonTest : public ::testing::Test {
 protected:
  std::string Get(unsigned short port, const std::string& path) {
    HttpClientRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + path;
    auto r = client_.Send(req);
    return r ? std::to_string(r->status) + " " + r->body : "error";
  }
  TempDir dir_;
  CurlHttpClient client_;
};

TEST_F(DaemonTest, SystemdLifecycleWithReloadsAndGracefulStop) {
  testing::NotifySocket notify(dir_.path() + "/notify.sock");
  ASSERT_TRUE(notify.bound());
  auto config = dir_.Write("tocsin.yaml", "log: {level: info}\n");
  unsigned short port = testing::FreePort();
  Process daemon({TOCSIN_BINARY, "serve", "--config", config, "--listen",
                  "127.0.0.1:" + std::to_string(port), "--data-dir", dir_.path() + "/data"},
                 {"NOTIFY_SOCKET=" + notify.name(), "WATCHDOG_USEC=200000"},
                 dir_.path() + "/daemon.log");

  auto ready = notify.ReceiveContaining("READY=1");
  ASSERT_NE(ready, "") << ReadFile(dir_.path() + "/daemon.log");
  EXPECT_NE(ready.find("STATUS=serving on port " + std::to_string(port)), std::string::npos);
  EXPECT_EQ(Get(port, "/healthz"), "200 ok\n");
  // WATCHDOG_USEC=200ms: pings every 100ms.
  EXPECT_NE(notify.ReceiveContaining("WATCHDOG=1"), "");

  // A broken config on SIGHUP: rejected, old one keeps serving.
  dir_.Write("tocsin.yaml", "log: {level: loud}\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  auto reloading = notify.ReceiveContaining("RELOADING=1");
  EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos);
  EXPECT_NE(notify.ReceiveContaining("READY=1"), "");
  EXPECT_NE(Get(port, "/metrics").find("tocsin_config_last_reload_successful 0"),
            std::string::npos);
  EXPECT_EQ(Get(port, "/readyz"), "200 ready\n");
  EXPECT_NE(ReadFile(dir_.path() + "/daemon.log").find("config reload rejected"),
            std::string::npos);

  // Fixed: the next SIGHUP takes it.
  dir_.Write("tocsin.yaml", "log: {level: warn}\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  EXPECT_NE(notify.ReceiveContaining("RELOADING=1"), "");
  EXPECT_NE(notify.ReceiveContaining("READY=1"), "");
  EXPECT_NE(Get(port, "/metrics").find("tocsin_config_last_reload_successful 1"),
            std::string::npos);

  ASSERT_TRUE(daemon.Signal(SIGTERM));
  EXPECT_NE(notify.ReceiveContaining("STOPPING=1"), "");
  auto rc = daemon.Wait(15s);
  ASSERT_TRUE(rc.has_value()) << "tocsin did not stop within 15s of SIGTERM";
  EXPECT_EQ(*rc, 0);
}

}  // namespace
}  // namespace tocsin

namespace tocsin {
namespace {

// Regression: the listener used to open before the signal handlers were installed, so a SIGHUP
// (a reload) sent as soon as the port answered could kill the daemon with SIGHUP's default
// action.
TEST(DaemonStartTest, SighupAsSoonAsThePortAnswersIsAReloadNotADeath) {
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    auto config = dir.Write("tocsin.yaml", "log: {level: warn}\n");
    unsigned short port = testing::FreePort();
    Process daemon({TOCSIN_BINARY, "serve", "--config", config, "--listen",
                    "127.0.0.1:" + std::to_string(port), "--data-dir", dir.path() + "/data"},
                   {}, dir.path() + "/daemon.log");
    ASSERT_TRUE(testing::WaitForPort(port, 10s)) << ReadFile(dir.path() + "/daemon.log");
    ASSERT_TRUE(daemon.Signal(SIGHUP));
    CurlHttpClient client;
    HttpClientRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/healthz";
    auto r = client.Send(req);
    ASSERT_TRUE(r) << "daemon died after SIGHUP: " << ReadFile(dir.path() + "/daemon.log");
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(daemon.running());
    ASSERT_TRUE(daemon.Signal(SIGTERM));
    EXPECT_EQ(daemon.Wait(15s).value_or(-1), 0);
  }
}

}  // namespace
}  // namespace tocsin
