// Twilio's callbacks on a real loopback server: signature (behind a proxy, over the public
// URL) and account first; an SMS reply or keypress acts once, as the person whose number it
// is, on the incident that paged them; a failure is a 503 with nothing recorded, so the retry
// acts; a replay of the same SID acts once.
#include "tocsin/api/twilio_inbound.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <set>
#include <thread>

#include "support/raw_http.h"
#include "tocsin/common/http_client.h"
#include "tocsin/http/server.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {
// Its own namespace: this file shares a unity batch with files whose helpers have the same
// names (cmake/TocsinBuildSpeed.cmake).
namespace twilio_inbound_test {
namespace {

const char* kSid = "AC0123456789abcdef0123456789abcdef";
const char* kToken = "twilio-auth-token-for-tests";
const char* kPublic = "https://tocsin.example.com/oncall";  // behind a proxy with a prefix
const char* kOlena = "+380501110001";

// As strict about delivery keys as the real incident side: a processed key answers duplicate
// and does nothing; a key is recorded only with an action that succeeded.
class FakeIncidents final : public IncidentCommands {
 public:
  Result<ActionOutcome> Act(const ActionRequest& r) override {
    std::lock_guard lock(mu);
    if (!states.count(r.incident_ref)) return Fail(Error::NotFound("no such incident"));
    std::string& state = states[r.incident_ref];
    if (r.delivery && processed.count(r.delivery->source + "\n" + r.delivery->id)) {
      ActionOutcome dup{r.incident_ref, state, false, "Deposits failing"};
      dup.duplicate = true;
      return dup;
    }
    if (fail_next) {
      fail_next = false;
      return Fail(Error::Io("disk I/O error"));
    }
    acted.push_back(r);
    std::string next = r.action == IncidentAction::kResolve ? "resolved" : "acknowledged";
    bool changed = state != next;
    state = next;
    if (r.delivery) processed.insert(r.delivery->source + "\n" + r.delivery->id);
    return ActionOutcome{r.incident_ref, state, changed, "Deposits failing"};
  }
  Result<bool> Processed(const DeliveryKey& k) override {
    std::lock_guard lock(mu);
    return processed.count(k.source + "\n" + k.id) > 0;
  }
  Result<void> RecordProcessed(const DeliveryKey& k) override {
    std::lock_guard lock(mu);
    if (!processed.insert(k.source + "\n" + k.id).second) return Fail(Error::Conflict("seen"));
    return {};
  }
  std::vector<IncidentBrief> OpenIncidents() override {
    std::lock_guard lock(mu);
    std::vector<IncidentBrief> out;
    for (const auto& [id, state] : states) {
      if (state != "resolved") out.push_back({id, "Deposits failing", state, 1, "", paged[id]});
    }
    return out;
  }
  std::mutex mu;
  std::map<std::string, std::string> states = {{"INC-1", "triggered"}, {"INC-2", "triggered"}};
  std::map<std::string, std::vector<std::string>> paged = {{"INC-1", {"olena"}},
                                                           {"INC-2", {"taras"}}};
  std::set<std::string> processed;
  std::vector<ActionRequest> acted;
  bool fail_next = false;
};

class FakePeople final : public PersonDirectory {
 public:
  std::optional<oncall::Person> BySlackUserId(const std::string&) override { return std::nullopt; }
  std::optional<oncall::Person> ByPhone(const std::string& e164) override {
    if (e164 != kOlena) return std::nullopt;
    oncall::Person p;
    p.id = "olena";
    p.phone = kOlena;
    return p;
  }
  std::vector<std::string> WhoIsOnCall(const std::string&) override { return {}; }
};

using Form = std::vector<std::pair<std::string, std::string>>;

class TwilioInboundTest : public ::testing::Test {
 protected:
  TwilioInboundTest()
      : handlers_(TwilioInboundConfig{kSid, kToken, std::string(kPublic) + "/"}, incidents_,
                  people_, registry_),
        server_(io_, {}, registry_) {
    auto router = std::make_shared<Router>();
    handlers_.Register(*router);
    server_.SetRouter(router);
    EXPECT_TRUE(server_.Start());
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~TwilioInboundTest() override {
    io_.stop();
    loop_.join();
  }

  // Posts as Twilio does: form-encoded, signed over the public URL of `target`.
  HttpClientResponse Post(const std::string& target, const Form& form,
                          std::optional<std::string> signature = std::nullopt) {
    HttpClientRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(server_.port()) + target;
    req.body = FormEncode(form);
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    std::string sig = signature ? *signature : TwilioSignature(kPublic + target, form, kToken);
    if (!sig.empty()) req.headers.emplace_back("X-Twilio-Signature", sig);
    auto r = client_.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : HttpClientResponse{};
  }
  static Form Sms(const std::string& body, const std::string& sid = "SM1",
                  const std::string& from = kOlena) {
    return {{"MessageSid", sid},    {"AccountSid", kSid}, {"From", from},
            {"To", "+15005550006"}, {"Body", body},       {"NumMedia", "0"}};
  }
  static Form Key(const std::string& digits, const std::string& call = "CA1") {
    return {{"CallSid", call},
            {"AccountSid", kSid},
            {"From", "+15005550006"},
            {"To", kOlena},
            {"Digits", digits},
            {"Direction", "outbound-api"},
            {"CallStatus", "in-progress"}};
  }
  std::size_t Acted() {
    std::lock_guard lock(incidents_.mu);
    return incidents_.acted.size();
  }

  boost::asio::io_context io_;
  prometheus::Registry registry_;
  FakeIncidents incidents_;
  FakePeople people_;
  TwilioInbound handlers_;
  Server server_;
  std::thread loop_;
  CurlHttpClient client_;
};

TEST_F(TwilioInboundTest, SmsReplyAcknowledgesTheIncidentThatPagedThatPerson) {
  auto r = Post("/webhooks/twilio/sms", Sms("1"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("content-type").find("text/xml"), std::string::npos);
  EXPECT_NE(r.body.find("<Message>INC-1 acknowledged by you"), std::string::npos) << r.body;
  ASSERT_EQ(Acted(), 1u);
  EXPECT_EQ(incidents_.acted[0].incident_ref, "INC-1");
  EXPECT_EQ(incidents_.acted[0].actor, "olena");
  EXPECT_EQ(incidents_.acted[0].origin, ActionOrigin::kTwilio);
  EXPECT_EQ(incidents_.states["INC-2"], "triggered") << "the other incident did not page her";
}

TEST_F(TwilioInboundTest, RepliesAreCaseInsensitiveAndMayNameTheIncident) {
  EXPECT_NE(Post("/webhooks/twilio/sms", Sms(" Ack ", "SM1")).body.find("acknowledged"),
            std::string::npos);
  auto r = Post("/webhooks/twilio/sms", Sms("RESOLVE inc-2", "SM2"));
  EXPECT_NE(r.body.find("INC-2 resolved by you"), std::string::npos) << r.body;
  EXPECT_EQ(incidents_.states["INC-2"], "resolved");
}

TEST_F(TwilioInboundTest, SeveralIncidentsAskWhichOneAndDoNothing) {
  incidents_.paged["INC-2"].push_back("olena");
  auto r = Post("/webhooks/twilio/sms", Sms("ack"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Several open incidents paged you (INC-2, INC-1); nothing was done. "
                        "Reply ACK INC-2 (the newest) or name another."),
            std::string::npos)
      << r.body;
  EXPECT_EQ(Acted(), 0u);
}

// Attack finding: the L1 acknowledged INC-1, then INC-2 paged her and she texted "1": the
// answer listed both, suggested the acknowledged one, and acknowledged nothing while INC-2
// escalated on. An acknowledge answers the page still waiting for one.
TEST_F(TwilioInboundTest, ABareAckAcknowledgesTheOneIncidentStillWaitingForOne) {
  incidents_.paged["INC-2"].push_back("olena");
  incidents_.states["INC-1"] = "acknowledged";
  auto r = Post("/webhooks/twilio/sms", Sms("1"));
  EXPECT_NE(r.body.find("INC-2 acknowledged by you"), std::string::npos) << r.body;
  ASSERT_EQ(Acted(), 1u);
  EXPECT_EQ(incidents_.acted[0].incident_ref, "INC-2");
  // A resolve still counts every open incident that paged her.
  auto again = Post("/webhooks/twilio/sms", Sms("resolve", "SM9"));
  EXPECT_NE(again.body.find("Several open incidents paged you (INC-2, INC-1); nothing was done. "
                            "Reply RESOLVE INC-2 (the newest) or name another."),
            std::string::npos)
      << again.body;
}

TEST_F(TwilioInboundTest, AnythingElseGetsHelpAndChangesNothing) {
  auto r = Post("/webhooks/twilio/sms", Sms("who is this?"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Reply 1 or ACK to acknowledge"), std::string::npos) << r.body;
  EXPECT_EQ(Acted(), 0u);
}

TEST_F(TwilioInboundTest, NumberNotInTheRosterActsOnNothing) {
  auto r = Post("/webhooks/twilio/sms", Sms("1", "SM1", "+15551234567"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("not in the tocsin roster"), std::string::npos);
  EXPECT_EQ(Acted(), 0u);
}

TEST_F(TwilioInboundTest, ForgedOrUnsignedRequestsAreRefusedAndChangeNothing) {
  EXPECT_EQ(Post("/webhooks/twilio/sms", Sms("1"), "").status, 401);
  EXPECT_EQ(Post("/webhooks/twilio/sms", Sms("1"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").status, 403);
  EXPECT_EQ(Post("/webhooks/twilio/sms", Sms("1"), "not-a-signature").status, 400);
  // Signed with another token.
  Form f = Sms("1");
  EXPECT_EQ(Post("/webhooks/twilio/sms", f,
                 TwilioSignature(std::string(kPublic) + "/webhooks/twilio/sms", f, "other"))
                .status,
            403);
  // Signed over the URL tocsin listens on rather than the public one Twilio was given.
  EXPECT_EQ(Post("/webhooks/twilio/sms", f,
                 TwilioSignature("http://127.0.0.1/webhooks/twilio/sms", f, kToken))
                .status,
            403);
  // A body changed after signing ("1" became "resolve").
  Form changed = Sms("resolve");
  EXPECT_EQ(Post("/webhooks/twilio/sms", changed,
                 TwilioSignature(std::string(kPublic) + "/webhooks/twilio/sms", f, kToken))
                .status,
            403);
  // Correctly signed, for another Twilio account.
  Form other = Sms("1");
  other[1].second = "AC00000000000000000000000000000000";
  EXPECT_EQ(Post("/webhooks/twilio/sms", other).status, 403);
  EXPECT_EQ(Post("/webhooks/twilio/voice?incident=INC-1", Key("1"), "").status, 401);
  EXPECT_EQ(Acted(), 0u);
  EXPECT_EQ(incidents_.states["INC-1"], "triggered");
}

TEST_F(TwilioInboundTest, ReplayOfTheSameMessageSidActsOnce) {
  EXPECT_NE(Post("/webhooks/twilio/sms", Sms("1", "SM9")).body.find("acknowledged by you"),
            std::string::npos);
  incidents_.states["INC-1"] = "triggered";  // even if it could act again
  auto again = Post("/webhooks/twilio/sms", Sms("1", "SM9"));
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("Already handled"), std::string::npos) << again.body;
  EXPECT_EQ(Acted(), 1u);
}

TEST_F(TwilioInboundTest, FailureAnswers503AndTheRetryActs) {
  incidents_.fail_next = true;
  auto r = Post("/webhooks/twilio/sms", Sms("1", "SM5"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(incidents_.states["INC-1"], "triggered");
  auto retry = Post("/webhooks/twilio/sms", Sms("1", "SM5"));
  EXPECT_EQ(retry.status, 200);
  EXPECT_NE(retry.body.find("acknowledged by you"), std::string::npos) << retry.body;
  EXPECT_EQ(Acted(), 1u);
}

TEST_F(TwilioInboundTest, KeypressAcknowledgesOrResolvesTheIncidentOfTheCall) {
  auto r = Post("/webhooks/twilio/voice?incident=INC-2", Key("1", "CA7"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Say>INC-2 acknowledged by you"), std::string::npos) << r.body;
  ASSERT_EQ(Acted(), 1u);
  EXPECT_EQ(incidents_.acted[0].actor, "olena");
  // The replay of that keypress acts once; 9 on the same call resolves.
  EXPECT_NE(Post("/webhooks/twilio/voice?incident=INC-2", Key("1", "CA7")).body.find("Already"),
            std::string::npos);
  EXPECT_NE(Post("/webhooks/twilio/voice?incident=INC-2", Key("9", "CA7")).body.find("resolved"),
            std::string::npos);
  EXPECT_EQ(incidents_.states["INC-2"], "resolved");
  EXPECT_EQ(Acted(), 2u);
}

TEST_F(TwilioInboundTest, OtherKeysAskAgainAndChangeNothing) {
  auto r = Post("/webhooks/twilio/voice?incident=INC-1", Key("5"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<Gather"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("https://tocsin.example.com/oncall/webhooks/twilio/voice?incident=INC-1"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(Acted(), 0u);
}

TEST(TwilioInboundNotConfigured, Answers404) {
  prometheus::Registry registry;
  FakeIncidents incidents;
  FakePeople people;
  TwilioInbound handlers({}, incidents, people, registry);
  Router router;
  handlers.Register(router);
  Request req;
  req.method = "POST";
  req.target = req.path = "/webhooks/twilio/sms";
  auto match = router.Find(req);
  ASSERT_NE(match.handler, nullptr);
  std::optional<Response> answer;
  (*match.handler)(req, [&](Response r) { answer = r; });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 404);
}

// An unsigned callback is answered before its body is read: nobody without Twilio's signature
// makes the server read what it announces (before, the exchange waited for the body).
TEST_F(TwilioInboundTest, AnUnsignedCallbackIsAnsweredBeforeItsBody) {
  for (const std::string path : {"/webhooks/twilio/sms", "/webhooks/twilio/voice?incident=INC-1"}) {
    auto raw = testing::RawExchange(server_.port(),
                                    "POST " + path +
                                        " HTTP/1.1\r\nHost: tocsin\r\nContent-Type: "
                                        "application/x-www-form-urlencoded\r\n"
                                        "Content-Length: 100000\r\n\r\n",
                                    5000);
    EXPECT_EQ(testing::StatusOf(raw), 401) << path;
  }
  EXPECT_EQ(Acted(), 0u);
}

}  // namespace
}  // namespace twilio_inbound_test
}  // namespace tocsin::http
