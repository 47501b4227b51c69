// POST /api/v2/alerts refused while the instance says it cannot keep alerts (high
// availability: its database is unreachable): 503 with Retry-After and the reason, and nothing
// of the batch taken; taken again as soon as the reason is gone.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "support/loopback_server.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/logging_group_sink.h"

namespace tocsin::dispatch {
namespace {

using namespace std::chrono_literals;

// Regression: an HA instance that could not reach its database answered 200 to alerts that no
// instance could turn into incidents.
TEST(IntakeRefusalTest, WhileTheDatabaseIsUnreachableAlertsAre503WithRetryAfterAndNotTaken) {
  SimulatedScheduler scheduler{*ParseTime("2026-11-22T03:00:00Z")};
  LoggingGroupSink sink;
  fakes::MemorySilenceStore store;
  Silences silences{store};
  prometheus::Registry registry;
  DispatchConfig config = testutil::LoadOrDie("receivers: [{name: default}]\n");
  Dispatcher dispatcher{scheduler, sink, silences, registry, config};
  std::optional<ApiBuildInfo::Refusal> refusal = ApiBuildInfo::Refusal{
      "tocsin instance zone-a cannot reach its database (connection refused)", 3333ms};
  ApiBuildInfo info{"0.1.0", "abc", "today", scheduler.clock().Now()};
  info.intake_refusal = [&refusal] { return refusal; };
  auto router = testutil::RouterForEveryCaller();
  RegisterAlertmanagerApi(*router, dispatcher, silences, scheduler.clock(), std::move(info));
  testing::LoopbackServer server(router, registry);
  ASSERT_TRUE(server.started());
  CurlHttpClient client;
  const std::string alert = R"([{"labels": {"alertname": "DepositErrors"}}])";

  auto r = server.Call(client, "POST", "/api/v2/alerts", alert);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Header("retry-after"), "3");
  EXPECT_EQ(nlohmann::json::parse(r.body),
            "tocsin instance zone-a cannot reach its database (connection refused); nothing of "
            "this batch was taken, send it again in 3 s");
  EXPECT_EQ(server.Call(client, "GET", "/api/v2/alerts").body, "[]");

  refusal.reset();
  r = server.Call(client, "POST", "/api/v2/alerts", alert);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(server.Call(client, "GET", "/api/v2/alerts").body.find("DepositErrors"),
            std::string::npos);
}

}  // namespace
}  // namespace tocsin::dispatch
