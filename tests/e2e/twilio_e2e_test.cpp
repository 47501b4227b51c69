// Twilio with every real process: `tocsin serve` pages the L1 through the provider simulator
// (an SMS, then a call), and the L1's SMS reply "ack", delivered by the simulator signed as
// Twilio signs, acknowledges the incident as her; the same reply delivered again changes
// nothing; a forged one is refused. The test polls the processes (bounded), it never sleeps
// for a timer of tocsin's.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;

constexpr const char* kSid = "AC00000000000000000000000000000001";  // the simulator's default
constexpr const char* kToken = "sim-twilio-auth-token-0123456789";
constexpr const char* kNumber = "+15005550006";
constexpr const char* kOlena = "+380501110001";
constexpr const char* kApiToken = "responder-token-0123456789abcdef";

template <typename F>
bool WaitFor(std::chrono::milliseconds limit, F&& ready) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
    if (ready()) return true;
  }
  return ready();
}

class TwilioE2e : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const char* f : {"tocsin.log", "sim.log"}) {
        std::cerr << "---- " << f << "\n" << testing::ReadFile(dir_.path() + "/" + f) << "\n";
      }
    }
  }
  HttpClientResponse Send(const std::string& method, const std::string& url,
                          const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpClientRequest r;
    r.method = method;
    r.url = url;
    r.body = body;
    r.headers = std::move(headers);
    auto resp = client_.Send(r);
    EXPECT_TRUE(resp) << resp.error().message();
    return resp ? *resp : HttpClientResponse{};
  }
  json Get(const std::string& url, const std::string& bearer = "") {
    std::vector<std::pair<std::string, std::string>> h;
    if (!bearer.empty()) h.emplace_back("Authorization", "Bearer " + bearer);
    return json::parse(Send("GET", url, "", h).body, nullptr, false);
  }

  tocsin::testing::TempDir dir_;
  CurlHttpClient client_;
};

TEST_F(TwilioE2e, SmsReplyFromThePagedPhoneAcknowledges) {
  Process sim_process({TOCSIN_PROVIDER_SIM, "--listen", "127.0.0.1:0", "--smtp-listen", "off",
                       "--port-file", dir_.path() + "/sim.ports"},
                      {}, dir_.path() + "/sim.log");
  std::string sim_port;
  ASSERT_TRUE(WaitFor(10s, [&] {
    std::istringstream in(testing::ReadFile(dir_.path() + "/sim.ports"));
    return std::getline(in, sim_port) && !sim_port.empty();
  }));
  const std::string sim = "http://127.0.0.1:" + sim_port;
  const unsigned short port = testing::FreePort();
  const std::string daemon_url = "http://127.0.0.1:" + std::to_string(port);

  dir_.Write("twilio_token", std::string(kToken) + "\n");
  dir_.Write("roster.yaml", fmt::format(R"(
people:
  olena: {{name: Olena Kovalenko, time_zone: UTC, phone: "{}"}}
rotations:
  l1: {{role: l1, time_zone: UTC, start_date: 2026-11-02, handovers: ["00:00"], members: [olena]}}
)",
                                        "+380 50 111 00 01"));
  const std::string config =
      dir_.Write("tocsin.yaml", fmt::format(R"(
log: {{level: info}}
roster_file: roster.yaml
providers:
  twilio:
    api_url: {}
    account_sid: {}
    auth_token_file: twilio_token
    from: "{}"
    public_url: {}
escalation_policies:
  default:
    steps:
      - after: 0s
        targets: [{{role: l1}}]
        channels: [twilio]
api:
  tokens:
    - {{name: olena-laptop, sha256: {}, role: responder, person: olena}}
)",
                                            sim, kSid, kNumber, daemon_url, Sha256Hex(kApiToken)));
  // Twilio's number configuration: inbound SMS go to tocsin.
  ASSERT_EQ(Send("POST", sim + "/_sim/twilio/account",
                 json{{"sms_url", daemon_url + "/webhooks/twilio/sms"}}.dump())
                .status,
            200);
  Process tocsin_process({TOCSIN_BINARY, "serve", "--config", config, "--listen",
                          "127.0.0.1:" + std::to_string(port), "--data-dir", dir_.path() + "/data"},
                         {}, dir_.path() + "/tocsin.log");
  ASSERT_TRUE(testing::WaitForPort(port, 10s));

  auto opened =
      Send("POST", daemon_url + "/api/v1/incidents",
           json{{"title", "Deposit success 97.2 % at PSP-A"}, {"severity", "critical"}}.dump(),
           {{"Authorization", std::string("Bearer ") + kApiToken},
            {"Content-Type", "application/json"}});
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id = json::parse(opened.body)["incident"]["id"];

  // The L1's phone gets the SMS, then rings.
  json phones;
  ASSERT_TRUE(WaitFor(10s, [&] {
    phones = Get(sim + "/_sim/twilio/phones");
    return phones.contains(kOlena) && phones[kOlena]["calls"].size() == 1;
  })) << phones.dump();
  ASSERT_EQ(phones[kOlena]["sms"].size(), 1u);
  EXPECT_NE(phones[kOlena]["sms"][0]["body"].get<std::string>().find(id), std::string::npos);

  // A forged reply (not signed by the account's token) is refused and changes nothing.
  auto forged =
      Send("POST", daemon_url + "/webhooks/twilio/sms",
           "MessageSid=SMforged&AccountSid=" + std::string(kSid) + "&From=%2B380501110001&Body=ack",
           {{"Content-Type", "application/x-www-form-urlencoded"},
            {"X-Twilio-Signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}});
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(Get(daemon_url + "/api/v1/incidents/" + id, kApiToken)["incident"]["state"],
            "triggered");

  // Olena replies "ack" from her phone.
  auto reply = Send("POST", sim + "/_sim/twilio/reply",
                    json{{"from", kOlena}, {"body", "ack"}, {"message_sid", "SMreply1"}}.dump());
  ASSERT_EQ(reply.status, 200);
  json answer = json::parse(reply.body);
  EXPECT_EQ(answer["status"], 200) << answer.dump();
  EXPECT_NE(answer["body"].get<std::string>().find(id + " acknowledged by you"), std::string::npos)
      << answer.dump();
  json inc = Get(daemon_url + "/api/v1/incidents/" + id, kApiToken);
  EXPECT_EQ(inc["incident"]["state"], "acknowledged");
  EXPECT_EQ(inc["incident"]["acknowledged_by"], "olena");

  // Twilio delivering the same message again acts once.
  auto again = Send("POST", sim + "/_sim/twilio/reply",
                    json{{"from", kOlena}, {"body", "ack"}, {"message_sid", "SMreply1"}}.dump());
  EXPECT_NE(json::parse(again.body)["body"].get<std::string>().find("Already handled"),
            std::string::npos)
      << again.body;
  int acks = 0;
  const json timeline = Get(daemon_url + "/api/v1/incidents/" + id, kApiToken)["timeline"];
  for (const auto& e : timeline) {
    acks += e["kind"] == "acknowledged";
  }
  EXPECT_EQ(acks, 1);

  // The call's keypress resolves it: 9 through the <Gather> action of the call tocsin placed.
  auto press = Send("POST", sim + "/_sim/twilio/press",
                    json{{"call_sid", phones[kOlena]["calls"][0]["sid"]}, {"digits", "9"}}.dump());
  ASSERT_EQ(press.status, 200);
  EXPECT_NE(json::parse(press.body)["body"].get<std::string>().find("resolved by you"),
            std::string::npos)
      << press.body;
  EXPECT_EQ(Get(daemon_url + "/api/v1/incidents/" + id, kApiToken)["incident"]["state"],
            "resolved");
}

}  // namespace
}  // namespace tocsin
