#pragma once

// The fixture of the Alertmanager API tests (alertmanager_api_test.cpp: alerts, groups,
// status; alertmanager_silences_api_test.cpp: silences): the handlers on the real HTTP server
// (loopback, port 0) over a dispatcher on the simulated clock.
#include "tocsin/api/alertmanager_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <set>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "support/loopback_server.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/logging_group_sink.h"

namespace tocsin::dispatch::am_api_test {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Receivers both test configs use.
inline const char* kReceivers = R"(receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
  - {name: oncall, escalation_policy: default}
alertmanager: {resolve_timeout: 2m}
escalation_policies: {default: {}}
)";

inline const std::string kConfig = std::string(R"(
route:
  receiver: slack
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity="warning"']
    equal: [region]
)") + kReceivers;

class AlertmanagerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = testutil::RouterForEveryCaller();
    RegisterAlertmanagerApi(*router, dispatcher_, silences_, scheduler_.clock(),
                            {"0.1.0", "abc", "today", scheduler_.clock().Now()});
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  HttpClientResponse Call(const std::string& method, const std::string& path,
                          const std::string& body = {}) {
    return server_->Call(client_, method, path, body);
  }
  json GetJson(const std::string& path) {
    auto r = Call("GET", path);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  void Advance(Duration d) {
    server_->RunOnLoop([&] { scheduler_.AdvanceBy(d); });
  }
  // RegionDown in eu (to oncall), inhibiting Latency in eu; Latency in apac.
  void PostRegionAlerts() {
    auto r = Call("POST", "/api/v2/alerts", R"([
      {"labels": {"alertname": "RegionDown", "region": "eu", "severity": "critical"}},
      {"labels": {"alertname": "Latency", "region": "eu", "severity": "warning"}},
      {"labels": {"alertname": "Latency", "region": "apac", "severity": "warning"}}])");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Creates a silence through the API and returns its id.
  std::string AddSilence(const std::string& body) {
    auto r = Call("POST", "/api/v2/silences", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["silenceID"].get<std::string>() : "";
  }

  SimulatedScheduler scheduler_{*ParseTime("2026-11-22T03:00:00Z")};
  LoggingGroupSink sink_;
  fakes::MemorySilenceStore store_;
  Silences silences_{store_};
  prometheus::Registry registry_;
  DispatchConfig config_ = testutil::LoadOrDie(kConfig);
  Dispatcher dispatcher_{scheduler_, sink_, silences_, registry_, config_};
  CurlHttpClient client_;
  std::unique_ptr<testing::LoopbackServer> server_;  // last: stopped before the rest goes
};

}  // namespace tocsin::dispatch::am_api_test
