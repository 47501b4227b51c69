// POST /api/v1/silences/preview on the real HTTP server (loopback) with the real dispatcher:
// what a silence would mute, before it exists.
#include "tocsin/api/silence_preview_api.h"

#include <gtest/gtest.h>

#include <set>

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

using json = nlohmann::json;

class SilencePreviewApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = testutil::RouterForEveryCaller();
    RegisterAlertmanagerApi(*router, dispatcher_, silences_, scheduler_.clock(),
                            {"0.1.0", "abc", "today", scheduler_.clock().Now()});
    RegisterSilencePreviewApi(*router, dispatcher_, scheduler_.clock());
    server_ = std::make_unique<testing::LoopbackServer>(router, registry_);
    ASSERT_TRUE(server_->started());
  }
  HttpClientResponse Call(const std::string& method, const std::string& path,
                          const std::string& body) {
    return server_->Call(client_, method, path, body);
  }

  SimulatedScheduler scheduler_{*ParseTime("2026-11-22T03:00:00Z")};
  LoggingGroupSink sink_;
  fakes::MemorySilenceStore store_;
  Silences silences_{store_};
  prometheus::Registry registry_;
  DispatchConfig config_ = testutil::LoadOrDie(R"(
route: {receiver: slack}
receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
)");
  Dispatcher dispatcher_{scheduler_, sink_, silences_, registry_, config_};
  CurlHttpClient client_;
  std::unique_ptr<testing::LoopbackServer> server_;  // last: stopped before the rest goes
};

// The panel shows what a silence would mute before it is created: regex and negative matchers
// select exactly what they will select once created, and nothing is created meanwhile.
TEST_F(SilencePreviewApiTest, ListsWhatTheMatchersWouldMute) {
  auto posted = Call("POST", "/api/v2/alerts", R"([
      {"labels": {"alertname": "RegionDown", "region": "eu", "severity": "critical"}},
      {"labels": {"alertname": "Latency", "region": "eu", "severity": "warning"}},
      {"labels": {"alertname": "Latency", "region": "apac", "severity": "warning"}}])");
  ASSERT_EQ(posted.status, 200) << posted.body;
  auto preview = [&](const std::string& matchers) {
    auto r = Call("POST", "/api/v1/silences/preview",
                  R"({"matchers": )" + matchers +
                      R"(, "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z",
                      "createdBy": "alice", "comment": "preview"})");
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> names;
    auto j = json::parse(r.body, nullptr, false);
    for (const auto& a : j["alerts"]) {
      names.insert(a["labels"]["alertname"].get<std::string>() + "/" +
                   a["labels"]["region"].get<std::string>());
    }
    EXPECT_EQ(j["total"], names.size());
    return names;
  };
  using Names = std::set<std::string>;
  EXPECT_EQ(preview(R"([{"name": "region", "value": "eu", "isRegex": false}])"),
            (Names{"Latency/eu", "RegionDown/eu"}));
  EXPECT_EQ(preview(R"([{"name": "alertname", "value": "Lat.*", "isRegex": true},
                        {"name": "region", "value": "eu", "isRegex": false, "isEqual": false}])"),
            (Names{"Latency/apac"}));
  EXPECT_EQ(preview(R"([{"name": "region", "value": "e.*|a.*", "isRegex": true,
                         "isEqual": false}])"),
            Names{});
  EXPECT_EQ(silences_.List().size(), 0u);
  auto bad = Call("POST", "/api/v1/silences/preview",
                  R"({"matchers": [{"name": "x", "value": "(", "isRegex": true}],
                      "startsAt": "2026-11-22T03:00:00Z", "endsAt": "2026-11-22T05:00:00Z"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("matchers[0]"), std::string::npos) << bad.body;
  // Nesting past the parser's limit is refused before anything walks it.
  auto deep =
      Call("POST", "/api/v1/silences/preview", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(deep.status, 400);
  EXPECT_NE(deep.body.find("body is not valid JSON"), std::string::npos) << deep.body;
}

// Regression: the panel read matcher text with its own parser, which already differed from
// the server's (escapes). The text is now read by the server's ParseMatchers, and the answer
// carries the matchers the silence is then created with.
TEST_F(SilencePreviewApiTest, MatcherTextIsReadByTheServersParser) {
  auto posted = Call("POST", "/api/v2/alerts", R"([
      {"labels": {"alertname": "Quote", "path": "a\"b"}},
      {"labels": {"alertname": "Quote", "path": "ab"}}])");
  ASSERT_EQ(posted.status, 200) << posted.body;
  auto r = Call("POST", "/api/v1/silences/preview",
                R"({"text": "{alertname=\"Quote\", path=\"a\\\"b\"}"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body, nullptr, false);
  EXPECT_EQ(j["total"], 1) << r.body;
  ASSERT_EQ(j["matchers"].size(), 2u) << r.body;
  EXPECT_EQ(j["matchers"][1],
            json({{"name", "path"}, {"value", "a\"b"}, {"isRegex", false}, {"isEqual", true}}));
  auto bad = Call("POST", "/api/v1/silences/preview", R"({"text": "alertname=~\"(\""})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("text: "), std::string::npos) << bad.body;
  bad = Call("POST", "/api/v1/silences/preview", R"({"text": ""})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("at least one"), std::string::npos) << bad.body;
  EXPECT_EQ(silences_.List().size(), 0u);
}

}  // namespace
}  // namespace tocsin::dispatch
