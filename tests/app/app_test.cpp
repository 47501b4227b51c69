// The daemon's composition root in-process: start, reload, readiness and metrics over HTTP.
#include "tocsin/app/app.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/log_capture.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"

namespace tocsin::app {
namespace {

const char* kGood = R"(
server: {listen: "127.0.0.1:0"}
log: {level: warn}
sources:
  - name: prometheus
    url: http://127.0.0.1:9090
)";

class AppTest : public ::testing::Test {
 protected:
  std::string Get(unsigned short port, const std::string& path, const std::string& method = "GET") {
    HttpClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port) + path;
    auto r = client_.Send(req);
    if (!r) return "error: " + r.error().message();
    return std::to_string(r->status) + " " + r->body;
  }
  // Runs fn on the loop thread and waits for it.
  template <typename F>
  auto OnLoop(F fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  void RunLoop() {
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void StopLoop() {
    io_.stop();
    if (loop_.joinable()) loop_.join();
  }
  // The loop thread must stop before the App it runs is destroyed.
  void TearDown() override {
    StopLoop();
    apps_.clear();
  }
  App& MakeApp(AppOptions options) {
    apps_.push_back(std::make_unique<App>(io_, clock_, std::move(options)));
    return *apps_.back();
  }

  testing::TempDir dir_;
  boost::asio::io_context io_;
  SystemClock clock_;
  CurlHttpClient client_;
  std::thread loop_;
  std::vector<std::unique_ptr<App>> apps_;
};

TEST_F(AppTest, InvalidConfigNeverStartsAHalfConfiguredDaemon) {
  auto path = dir_.Write("tocsin.yaml", "server: {listen: '127.0.0.1:0', lisen: x}\n");
  App& app = MakeApp({path, {}, false});
  auto r = app.Start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(path + ":1:"), std::string::npos) << r.error().message();
  EXPECT_EQ(app.http_port(), 0);
  EXPECT_FALSE(app.ready());
}

TEST_F(AppTest, ServesHealthReadinessAndMetrics) {
  auto path = dir_.Write("tocsin.yaml", kGood);
  App& app = MakeApp({path, {std::nullopt, dir_.path() + "/data"}, false});
  ASSERT_TRUE(app.Start());
  RunLoop();
  auto port = app.http_port();
  EXPECT_EQ(Get(port, "/healthz"), "200 ok\n");
  EXPECT_EQ(Get(port, "/readyz"), "200 ready\n");
  auto metrics = Get(port, "/metrics");
  EXPECT_NE(metrics.find("tocsin_build_info{"), std::string::npos);
  EXPECT_NE(metrics.find("tocsin_uptime_seconds"), std::string::npos);
  EXPECT_NE(metrics.find("tocsin_config_last_reload_successful 1"), std::string::npos);
  // At 0 from the start, so that the first failure is an increase a rule can see.
  EXPECT_NE(metrics.find(R"(tocsin_task_failures_total{thread="loop"} 0)"), std::string::npos);
  EXPECT_NE(
      metrics.find(R"(tocsin_http_requests_total{code="200",handler="/healthz",method="GET"} 1)"),
      std::string::npos)
      << metrics;
}

TEST_F(AppTest, ATaskThatThrowsIsCountedAndTheDaemonGoesOn) {
  auto path = dir_.Write("tocsin.yaml", kGood);
  App& app = MakeApp({path, {std::nullopt, dir_.path() + "/data"}, false});
  ASSERT_TRUE(app.Start());
  // After Start, which set the logger up from the configuration.
  tocsin::testing::LogCapture capture;
  std::promise<void> after;
  boost::asio::post(io_, [] { throw std::runtime_error("a bug in a completion"); });
  boost::asio::post(io_, [] { throw std::runtime_error("a bug in a completion"); });
  boost::asio::post(io_, [] { throw 42; });
  boost::asio::post(io_, [&after] { after.set_value(); });
  std::promise<bool> ran_clean;
  loop_ = std::thread([&] {
    auto guard = boost::asio::make_work_guard(io_);
    try {
      app.Run();
      ran_clean.set_value(true);
    } catch (...) {
      ran_clean.set_value(false);
    }
  });
  // The tasks queued behind the throwing ones still run, and the daemon still answers.
  ASSERT_EQ(after.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the loop stopped at the first task that threw";
  auto port = app.http_port();
  EXPECT_EQ(Get(port, "/healthz"), "200 ok\n");
  EXPECT_NE(Get(port, "/metrics").find("tocsin_task_failures_total{thread=\"loop\"} 3"),
            std::string::npos);
  StopLoop();
  EXPECT_TRUE(ran_clean.get_future().get());
  const auto lines = capture.lines();
  // The same failure twice in far less than 10 s: logged once; another failure has its own line.
  auto logged = [&lines](const char* what) {
    return std::count_if(lines.begin(), lines.end(), [what](const std::string& l) {
      return l.find(std::string("a task on the event loop failed and was abandoned: ") + what) !=
             std::string::npos;
    });
  };
  EXPECT_EQ(logged("a bug in a completion; tocsin goes on (a repeat within 10 s is not logged)"),
            1);
  EXPECT_EQ(logged("a bug in a completion"), 1);
  EXPECT_EQ(logged("not a std::exception"), 1);
}

TEST_F(AppTest, ReloadErrorKeepsTheRunningConfig) {
  auto path = dir_.Write("tocsin.yaml", kGood);
  App& app = MakeApp({path, {std::nullopt, dir_.path() + "/data"}, false});
  ASSERT_TRUE(app.Start());
  RunLoop();
  auto port = app.http_port();

  dir_.Write("tocsin.yaml", std::string(kGood) + "    timeout: never\n");
  auto reload = Get(port, "/-/reload", "POST");
  EXPECT_EQ(reload.substr(0, 4), "400 ") << reload;
  EXPECT_NE(reload.find(path + ":7:14"), std::string::npos) << reload;
  EXPECT_NE(Get(port, "/metrics").find("tocsin_config_last_reload_successful 0"),
            std::string::npos);
  EXPECT_EQ(OnLoop([&] { return app.config().main.sources[0].timeout; }), std::chrono::seconds(10));
  EXPECT_EQ(Get(port, "/healthz"), "200 ok\n");

  dir_.Write("tocsin.yaml", std::string(kGood) + "    timeout: 3s\n");
  EXPECT_EQ(Get(port, "/-/reload", "POST"), "200 reloaded\n");
  EXPECT_NE(Get(port, "/metrics").find("tocsin_config_last_reload_successful 1"),
            std::string::npos);
  EXPECT_EQ(OnLoop([&] { return app.config().main.sources[0].timeout; }), std::chrono::seconds(3));
}

TEST_F(AppTest, UnwritableDataDirIsRefusedAtStart) {
  dir_.Write("blocker", "a file, not a directory");
  auto path = dir_.Write("tocsin.yaml", kGood);
  App& app = MakeApp({path, {std::nullopt, dir_.path() + "/blocker/data"}, false});
  auto r = app.Start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("data directory"), std::string::npos);
}

TEST_F(AppTest, PortInUseIsAnIoError) {
  auto path = dir_.Write("tocsin.yaml", kGood);
  App& first = MakeApp({path, {std::nullopt, dir_.path() + "/d1"}, false});
  ASSERT_TRUE(first.Start());
  std::string listen = "127.0.0.1:" + std::to_string(first.http_port());
  App& second = MakeApp({path, {listen, dir_.path() + "/d2"}, false});
  auto r = second.Start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kIo);
}

}  // namespace
}  // namespace tocsin::app
