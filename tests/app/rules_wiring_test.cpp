// The rules engine inside the daemon: rules load with the config, the alert-state database is
// created, the SLO API and metrics answer, and a reload with a broken rule file is rejected
// with its file:line while the running rules stay.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/app/app.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/store/database.h"

namespace tocsin::app {
namespace {

const char* kRules = R"(
groups:
  - name: live
    interval: 30s
    rules:
      - alert: ws_rtt_p95
        expr: ws_p95
        threshold: 0.12
        severity: warning
        service: live-betting
        domain: game-gateway
)";

class RulesWiringTest : public ::testing::Test {
 protected:
  void TearDown() override {
    io_.stop();
    if (loop_.joinable()) loop_.join();
    app_.reset();
  }
  std::string Config() {
    return "server: {listen: '127.0.0.1:0'}\nlog: {level: error}\nrule_files: [rules/*.yaml]\n"
           "evaluation: {interval: 30s}\nsources:\n  - name: prometheus\n    url: "
           "http://127.0.0.1:" +
           std::to_string(testing::FreePort()) + "\n";
  }
  std::string Send(const std::string& method, const std::string& path) {
    HttpClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(app_->http_port()) + path;
    auto r = client_.Send(req);
    if (!r) return "error";
    return std::to_string(r->status) + " " + r->body;
  }

  testing::TempDir dir_;
  boost::asio::io_context io_;
  SystemClock clock_;
  CurlHttpClient client_;
  std::thread loop_;
  std::unique_ptr<App> app_;
};

TEST_F(RulesWiringTest, ServeLoadsRulesExposesSlosAndRejectsABrokenRuleFileOnReload) {
  auto config = dir_.Write("tocsin.yaml", Config());
  dir_.Write("rules/live.yaml", kRules);
  app_ = std::make_unique<App>(io_, clock_,
                               AppOptions{config, {std::nullopt, dir_.path() + "/data"}, false});
  auto started = app_->Start();
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_EQ(app_->config().rules.rule_count(), 1u);
  loop_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
  // Alert state lives in <data_dir>/tocsin.db, module "rules".
  auto db = store::Database::Open(dir_.path() + "/data/tocsin.db");
  ASSERT_TRUE(db);
  EXPECT_EQ((*db)->SchemaVersion("rules"), 1);

  auto slos = Send("GET", "/api/v1/slos");
  EXPECT_EQ(slos.rfind("200 {", 0), 0u) << slos;
  EXPECT_NE(slos.find("\"slos\":[]"), std::string::npos) << slos;
  auto metrics = Send("GET", "/metrics");
  EXPECT_NE(metrics.find("tocsin_rule_queries_per_tick"), std::string::npos);

  // A broken rule file: the reload is refused and says where.
  auto broken = dir_.Write("rules/live.yaml", std::string(kRules) + "        op: '=>'\n");
  auto reload = Send("POST", "/-/reload");
  EXPECT_EQ(reload.rfind("400 ", 0), 0u) << reload;
  EXPECT_NE(reload.find(broken + ":12:13"), std::string::npos) << reload;
  EXPECT_EQ(app_->config().rules.rule_count(), 1u);
  // Fixed, with one more rule: accepted.
  dir_.Write("rules/live.yaml", std::string(kRules) +
                                    "      - {alert: queue_lag, expr: lag, threshold: 30, "
                                    "severity: warning, service: wallet, domain: db-wallet}\n");
  EXPECT_EQ(Send("POST", "/-/reload"), "200 reloaded\n");
}

}  // namespace
}  // namespace tocsin::app
