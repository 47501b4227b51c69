// The tocsin-provider-sim binary as a person or the demo uses it: port file, request log,
// faults, and webhooks sent on request with PagerDuty's signature.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using nlohmann::json;

class ProviderSimBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    port_file_ = dir_.path() + "/ports";
    proc_ = std::make_unique<testing::Process>(
        std::vector<std::string>{TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--port-file",
                                 port_file_},
        std::vector<std::string>{}, dir_.path() + "/sim.log");
    for (int i = 0; i < 500 && !std::filesystem::exists(port_file_); ++i) {
      // Waiting for another process to write a file, not for a timer.
      testing::WaitForPort(1, std::chrono::milliseconds(10));
    }
    std::ifstream(port_file_) >> port_;
    ASSERT_NE(port_, 0) << "simulator did not write its port file";
  }
  HttpClientResponse Call(const std::string& method, const std::string& path,
                          const std::string& body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpClientRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    r.body = body;
    r.headers = std::move(headers);
    auto res = client_.Send(r);
    EXPECT_TRUE(res) << res.error().message();
    return res ? *res : HttpClientResponse{};
  }
  std::string Log() {
    std::ifstream in(dir_.path() + "/sim.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  testing::TempDir dir_;
  std::string port_file_;
  unsigned short port_ = 0;
  std::unique_ptr<testing::Process> proc_;
  CurlHttpClient client_;
};

TEST_F(ProviderSimBinary, ValidatesPagerDutyEventsAndRecordsThem) {
  auto bad = Call("POST", "/v2/enqueue", R"({"routing_key":"short","event_action":"trigger"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["status"], "invalid");
  auto ok = Call("POST", "/v2/enqueue",
                 R"({"routing_key":"0123456789abcdef0123456789abcdef","event_action":"trigger",
                     "dedup_key":"INC-1","payload":{"summary":"Deposit success 97.2 %",
                     "source":"payments","severity":"critical"}})");
  EXPECT_EQ(ok.status, 202);
  EXPECT_EQ(json::parse(ok.body)["dedup_key"], "INC-1");
  auto recorded = json::parse(Call("GET", "/_sim/requests?path=/v2/enqueue").body);
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[1]["status"], 202);
  EXPECT_NE(Log().find("pagerduty trigger dedup=INC-1 \"Deposit success 97.2 %\""),
            std::string::npos)
      << Log();
}

TEST_F(ProviderSimBinary, FaultsApplyToTheNextRequestsOnAPath) {
  Call("POST", "/_sim/faults", R"({"path":"/v2/alerts","status":429,"retry_after":"9","count":2})");
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "GenieKey k"}};
  std::string body = R"({"message":"m","alias":"a"})";
  auto first = Call("POST", "/v2/alerts", body, auth);
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.Header("retry-after"), "9");
  EXPECT_EQ(Call("POST", "/v2/alerts", body, auth).status, 429);
  auto third = Call("POST", "/v2/alerts", body, auth);
  EXPECT_EQ(third.status, 202);
  std::string id = json::parse(third.body)["requestId"];
  auto status = Call("GET", "/v2/alerts/requests/" + id);
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body)["data"]["alias"], "a");
  EXPECT_EQ(Call("POST", "/v2/alerts", body).status, 401) << "GenieKey is required";
}

TEST_F(ProviderSimBinary, SendsPagerDutyWebhooksSignedLikePagerDuty) {
  json req = {{"url", "http://127.0.0.1:" + std::to_string(port_) + "/webhook/pd"},
              {"kind", "pagerduty"},
              {"secret", "test-secret"},
              {"body", R"({"event":{"event_type":"incident.acknowledged"}})"}};
  auto res = Call("POST", "/_sim/send-webhook", req.dump());
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body)["status"], 200);
  auto got = json::parse(Call("GET", "/_sim/requests?path=/webhook/pd").body);
  ASSERT_EQ(got.size(), 1u);
  // The PagerDuty webhook signature vector (HMAC-SHA256 keyed with "test-secret").
  EXPECT_EQ(got[0]["headers"]["X-PagerDuty-Signature"],
            "v1=a0c61caa9a0676851561078c5fd60e7e411f23e6e272f5ab370d30b80a7eae2d");
  EXPECT_FALSE(got[0]["headers"]["X-Webhook-Id"].get<std::string>().empty());
}

TEST_F(ProviderSimBinary, SlackRejectsBlocksOverTheLimits) {
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer xoxb-t"}};
  json blocks = json::array(
      {{{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", std::string(151, 'h')}}}}});
  auto res = Call("POST", "/api/chat.postMessage",
                  json{{"channel", "#incidents"}, {"blocks", blocks}}.dump(), auth);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body)["error"], "invalid_blocks");
  auto ok = Call("POST", "/api/chat.postMessage",
                 json{{"channel", "#incidents"}, {"text", "hello"}}.dump(), auth);
  auto answer = json::parse(ok.body);
  EXPECT_EQ(answer["ok"], true);
  auto update =
      Call("POST", "/api/chat.update",
           json{{"channel", answer["channel"]}, {"ts", answer["ts"]}, {"text", "x"}}.dump(), auth);
  EXPECT_EQ(json::parse(update.body)["ok"], true);
}

}  // namespace
}  // namespace tocsin
