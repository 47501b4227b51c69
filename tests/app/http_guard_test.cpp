// The HTTP layer of a real App on loopback, attacked the way users found it broken: every
// registered route under every path variant and every role, alert intake at Prometheus speed,
// bodies from strangers, invented methods, JSON nested 100,000 levels deep.
// Over 500 lines: one fixture (a real App on loopback, a token per role) and the attacks on
// it, read together as the list of what an attacker tries; apart, each part needs that fixture.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/raw_http.h"
#include "support/temp_dir.h"
#include "tocsin/app/app.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/http/signatures.h"

namespace tocsin::app {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using http::Access;

constexpr const char* kSlackSecret = "slack-signing-secret-for-the-guard-test";
constexpr const char* kPdSecret = "pagerduty-webhook-secret-for-the-guard-test";
constexpr const char* kOpsgenieToken = "opsgenie-webhook-token-for-the-guard-test";
constexpr const char* kJsmToken = "jsm-webhook-token-for-the-guard-test";

// API tokens by role name; "" is no token at all.
const std::map<std::string, std::string> kTokens = {
    {"viewer", "viewer-token-0123456789abcdef"},
    {"responder", "responder-token-0123456789abcdef"},
    {"admin", "admin-token-0123456789abcdef"},
    {"intake", "intake-token-0123456789abcdef"},
};

// What docs/api.md promises: every route of the daemon and who may call it. A route added
// without a line here, or registered with another access, fails the walk.
const std::map<std::string, Access> kDocumentedAccess = {
    {"GET /healthz", Access::kPublic},
    {"GET /readyz", Access::kPublic},
    {"GET /metrics", Access::kPublic},
    {"GET /api/v1/incidents", Access::kViewer},
    {"POST /api/v1/incidents", Access::kResponder},
    {"GET /api/v1/incidents/{id}", Access::kViewer},
    {"POST /api/v1/incidents/{id}/ack", Access::kResponder},
    {"POST /api/v1/incidents/{id}/resolve", Access::kResponder},
    {"POST /api/v1/incidents/{id}/note", Access::kResponder},
    {"POST /api/v1/incidents/{id}/escalate", Access::kResponder},
    {"POST /api/v1/incidents/{id}/postmortem", Access::kResponder},
    {"POST /api/v1/incidents/{id}/updates", Access::kResponder},
    {"POST /api/v1/drills", Access::kResponder},
    {"POST /api/v1/drills/{id}/stop", Access::kResponder},
    {"GET /api/v1/incidents/{id}/verify", Access::kViewer},
    {"GET /api/v1/oncall", Access::kViewer},
    {"GET /api/v1/slos", Access::kViewer},
    {"GET /api/v1/oncall/now", Access::kViewer},
    {"GET /api/v1/oncall/shifts", Access::kViewer},
    {"GET /api/v1/oncall/findings", Access::kViewer},
    {"GET /api/v1/oncall/overrides", Access::kViewer},
    {"POST /api/v1/oncall/overrides", Access::kResponder},
    {"GET /api/v1/slos/{name}", Access::kViewer},
    {"POST /api/v1/silences/preview", Access::kViewer},
    {"GET /api/v1/notifications", Access::kViewer},
    {"GET /api/v1/ha", Access::kViewer},
    {"POST /api/v2/alerts", Access::kIntake},
    {"GET /api/v2/alerts", Access::kViewer},
    {"GET /api/v2/alerts/groups", Access::kViewer},
    {"POST /api/v2/silences", Access::kResponder},
    {"GET /api/v2/silences", Access::kViewer},
    {"GET /api/v2/silence/{id}", Access::kViewer},
    {"DELETE /api/v2/silence/{id}", Access::kResponder},
    {"GET /api/v2/status", Access::kViewer},
    {"GET /api/v2/receivers", Access::kViewer},
    {"GET /api/v1/groups", Access::kViewer},
    {"POST /slack/interactivity", Access::kSigned},
    {"POST /slack/command", Access::kSigned},
    {"POST /webhooks/pagerduty", Access::kSigned},
    {"POST /webhooks/opsgenie", Access::kSigned},
    {"POST /webhooks/jsm", Access::kSigned},
    {"POST /webhooks/twilio/sms", Access::kSigned},
    {"POST /webhooks/twilio/voice", Access::kSigned},
    {"POST /-/reload", Access::kAdmin},
};

// Which roles may call a route of each access, written out rather than computed by the code
// under test.
bool Allowed(const std::string& role, Access access) {
  static const std::map<Access, std::set<std::string>> kAllowed = {
      {Access::kIntake, {"intake", "responder", "admin"}},
      {Access::kViewer, {"viewer", "responder", "admin"}},
      {Access::kResponder, {"responder", "admin"}},
      {Access::kAdmin, {"admin"}},
  };
  if (access == Access::kPublic) return true;
  if (access == Access::kSigned) return false;  // an API token is no provider signature
  return kAllowed.at(access).count(role) > 0;
}

struct Answer {
  int status = 0;
  std::string body;
};

std::string Request(const std::string& method, const std::string& target, const std::string& token,
                    const std::string& body = "", const std::string& extra_headers = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: tocsin\r\nConnection: close\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\n";
  r += extra_headers;
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

class HttpGuardTest : public ::testing::Test {
 protected:
  // `api` is the YAML of the api section's body (indented two spaces).
  void StartApp(const std::string& api, const std::string& server = "") {
    std::string cfg = "server: {listen: \"127.0.0.1:0\"" + server +
                      "}\nlog: {level: error}\n"
                      "providers:\n"
                      "  slack: {api_url: \"http://127.0.0.1:9\", bot_token: xoxb-test, channel: "
                      "\"#incidents\", signing_secret: " +
                      std::string(kSlackSecret) +
                      "}\n"
                      "  pagerduty: {events_url: \"http://127.0.0.1:9\", routing_key: "
                      "0123456789abcdef0123456789abcdef, webhook_secret: " +
                      std::string(kPdSecret) +
                      "}\n"
                      "  opsgenie: {api_url: \"http://127.0.0.1:9\", api_key: test-key, "
                      "webhook_token: " +
                      std::string(kOpsgenieToken) +
                      "}\n"
                      "  jsm: {api_url: \"http://127.0.0.1:9\", api_key: test-key, "
                      "webhook_token: " +
                      std::string(kJsmToken) +
                      "}\n"
                      "  twilio: {api_url: \"http://127.0.0.1:9\", account_sid: "
                      "AC00000000000000000000000000000001, auth_token: "
                      "twilio-auth-token-for-the-guard-test, from: \"+15005550006\", "
                      "public_url: \"https://tocsin.example.com\"}\napi:\n" +
                      api;
    auto path = dir_.Write("tocsin.yaml", cfg);
    AppOptions options{path, {}, false};
    options.overrides.data_dir = dir_.path() + "/data";
    app_ = std::make_unique<App>(io_, clock_, options);
    auto started = app_->Start();
    ASSERT_TRUE(started) << started.error().message();
    port_ = app_->http_port();
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void TearDown() override {
    io_.stop();
    if (loop_.joinable()) loop_.join();
    app_.reset();
  }

  Answer Raw(const std::string& bytes, int timeout_ms = 5000) {
    auto raw = testing::RawExchange(port_, bytes, timeout_ms);
    return {testing::StatusOf(raw), testing::BodyOf(raw)};
  }
  Answer Call(const std::string& method, const std::string& target, const std::string& role,
              const std::string& body = "", const std::string& extra_headers = "") {
    std::string token = role.empty() ? "" : kTokens.at(role);
    return Raw(Request(method, target, token, body, extra_headers));
  }
  json Json(const std::string& target) {
    auto a = Call("GET", target, "admin");
    EXPECT_EQ(a.status, 200) << target << ": " << a.body;
    return json::parse(a.body, nullptr, false);
  }
  std::string Metrics() { return Call("GET", "/metrics", "").body; }

  testing::TempDir dir_;
  boost::asio::io_context io_;
  SystemClock clock_;
  std::unique_ptr<App> app_;
  std::thread loop_;
  unsigned short port_ = 0;
};

std::string TokenList(long long rpm) {
  std::string out = "  tokens:\n";
  for (const auto& [role, token] : kTokens) {
    out += "    - {name: " + role + ", sha256: " + Sha256Hex(token) + ", role: " + role +
           (rpm > 0 ? ", requests_per_minute: " + std::to_string(rpm) : "") + "}\n";
  }
  return out;
}

// The same path, written every way that is not canonical. Each must be refused with 400 before
// any guard or handler sees it.
std::vector<std::string> Variants(const std::string& path) {
  auto slash = path.find('/', 1);
  std::string first = path.substr(0, slash);  // "/api"
  std::string rest = slash == std::string::npos ? "" : path.substr(slash);
  return {
      "/" + path,                                                     // //x
      rest.empty() ? path + "//x" : first + "/" + rest,               // /a//b
      "/." + path,                                                    // /./x
      path + "/",                                                     // /x/
      rest.empty() ? path + "%2Fx" : first + "%2F" + rest.substr(1),  // encoded '/'
      rest.empty() ? path + "%2fx" : first + "%2f" + rest.substr(1),  //
      "/%2e" + path,                                                  // encoded '.'
      "/%2E%2E" + path,                                               // encoded '..'
      "/.." + path,                                                   // /../x
      first + "/.." + path,                                           // /a/../a/b
      "/-/" + path,  // "/-//reload": how the reload was reached unguarded
  };
}

// A body that would change something if a refused request ever reached its handler.
std::string MutatingBody(const std::string& pattern) {
  if (pattern == "/api/v2/alerts") return R"([{"labels":{"alertname":"GuardWalk"}}])";
  if (pattern == "/api/v2/silences") {
    return json{{"matchers", {{{"name", "alertname"}, {"value", "x"}, {"isRegex", false}}}},
                {"startsAt", "2026-01-01T00:00:00Z"},
                {"endsAt", "2099-01-01T00:00:00Z"},
                {"createdBy", "mallory"},
                {"comment", "walk"}}
        .dump();
  }
  return json{{"actor", "mallory"}, {"title", "walk"}, {"text", "walk"}}.dump();
}

TEST_F(HttpGuardTest, EveryRouteUnderEveryPathVariantAndRoleGetsItsDocumentedAnswer) {
  StartApp(TokenList(100000));
  // An incident for the {id} routes: a refused ack/resolve/note/escalate would show on it.
  auto opened = Call("POST", "/api/v1/incidents", "admin", R"({"title":"guard walk"})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id = json::parse(opened.body)["incident"]["id"];

  auto routes = app_->routes();
  std::set<std::string> registered;
  for (const auto& r : routes) {
    std::string key = r.method + " " + r.pattern;
    registered.insert(key);
    auto doc = kDocumentedAccess.find(key);
    ASSERT_NE(doc, kDocumentedAccess.end()) << key << " is registered but not documented";
    EXPECT_EQ(r.access, doc->second) << key << " is registered as " << AccessName(r.access);
  }
  for (const auto& [key, access] : kDocumentedAccess) {
    EXPECT_TRUE(registered.count(key)) << key << " is documented but not registered";
  }

  // Everything a refused request could have changed.
  auto snapshot = [&] {
    json incident = Json("/api/v1/incidents/" + id);
    int acted = 0;
    for (const auto& e : incident["timeline"]) {
      std::string actor = e.value("actor", "");
      if (actor == "mallory" || actor.rfind("token:", 0) == 0) ++acted;
    }
    std::string m = Metrics();
    return json{{"state", incident["incident"]["state"]},
                {"acted", acted},
                {"incidents", Json("/api/v1/incidents?state=all")["incidents"].size()},
                {"silences", Json("/api/v2/silences").size()},
                {"alerts", Json("/api/v2/alerts").size()},
                {"reloads", m.find("tocsin_config_reloads_total{") != std::string::npos}};
  };
  const json before = snapshot();

  const std::vector<std::string> roles = {"", "viewer", "responder", "admin", "intake"};
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> allowed_calls;
  int variants_sent = 0;
  for (const auto& r : routes) {
    std::string path = r.pattern;
    for (auto p = path.find('{'); p != std::string::npos; p = path.find('{')) {
      auto e = path.find('}', p);
      path.replace(p, e - p + 1, path.compare(p, e - p + 1, "{id}") == 0 ? id : "x");
    }
    const std::string body = r.method == "GET" ? "" : MutatingBody(r.pattern);
    for (const auto& role : roles) {
      SCOPED_TRACE(r.method + " " + r.pattern + " as " + (role.empty() ? "nobody" : role));
      for (const auto& variant : Variants(path)) {
        auto a = Call(r.method, variant, role, body);
        ++variants_sent;
        EXPECT_EQ(a.status, 400) << variant << ": " << a.body;
      }
      if (r.access == Access::kPublic || (!role.empty() && Allowed(role, r.access))) {
        allowed_calls.emplace_back(r.method, path, role, body);
        continue;
      }
      auto a = Call(r.method, path, role, body);
      int expected = r.access == Access::kSigned || role.empty() ? 401 : 403;
      EXPECT_EQ(a.status, expected) << path << ": " << a.body;
    }
  }
  EXPECT_EQ(snapshot(), before) << "a refused request changed something";
  std::string m = Metrics();
  EXPECT_NE(m.find("tocsin_http_requests_total{code=\"400\",handler=\"invalid\",method=\"" +
                   std::string("GET") + "\"}"),
            std::string::npos);

  // The same routes, canonical, with a role that may call them: the handler answers.
  for (const auto& [method, path, role, body] : allowed_calls) {
    auto a = Call(method, path, role, body);
    EXPECT_NE(a.status, 401) << method << " " << path << " as " << role << ": " << a.body;
    EXPECT_NE(a.status, 403) << method << " " << path << " as " << role << ": " << a.body;
    EXPECT_EQ(a.body.find("non-canonical"), std::string::npos) << a.body;
  }
  EXPECT_GT(variants_sent, 1000);
}

// The bugs as users reported them, one by one.
TEST_F(HttpGuardTest, DoubleSlashAndDashSlashSlashReloadNoLongerBypassTheGuard) {
  StartApp(TokenList(0));
  EXPECT_EQ(Call("GET", "/api/v1/incidents", "").status, 401);
  auto listed = Call("GET", "//api/v1/incidents", "");
  EXPECT_EQ(listed.status, 400);
  EXPECT_NE(listed.body.find("empty segment"), std::string::npos) << listed.body;
  EXPECT_EQ(Call("POST", "//api/v1/incidents", "", R"({"actor":"mallory","title":"x"})").status,
            400);
  EXPECT_EQ(Call("POST", "/-//reload", "").status, 400);
  EXPECT_EQ(Call("POST", "/-/reload", "").status, 401);
  EXPECT_EQ(Call("POST", "/-/reload", "responder").status, 403);
  EXPECT_EQ(Json("/api/v1/incidents?state=all")["incidents"].size(), 0u);
  EXPECT_EQ(Metrics().find("tocsin_config_reloads_total{"), std::string::npos);
}

// A stock Prometheus sending more than 120 POSTs a minute got 429: intake must never be
// budgeted like a person, with the shipped defaults and a token required.
TEST_F(HttpGuardTest, PrometheusBurstOfAlertsIsNeverRateLimited) {
  StartApp(TokenList(0));  // the shipped api.requests_per_minute (120) applies
  json alerts = json::array();
  for (int i = 0; i < 100; ++i) {
    alerts.push_back(
        {{"labels", {{"alertname", "Burst"}, {"instance", "host-" + std::to_string(i)}}},
         {"annotations", {{"summary", "burst"}}}});
  }
  const std::string body = alerts.dump();
  std::map<int, int> statuses;
  for (int i = 0; i < 1000; ++i) ++statuses[Call("POST", "/api/v2/alerts", "intake", body).status];
  EXPECT_EQ(statuses, (std::map<int, int>{{200, 1000}}));
  // Without the token it is still refused, and people keep their budget.
  EXPECT_EQ(Call("POST", "/api/v2/alerts", "", body).status, 401);
  EXPECT_EQ(Call("POST", "/api/v2/alerts", "viewer", body).status, 403);
  int limited = 0;
  for (int i = 0; i < 130; ++i) limited += Call("GET", "/api/v1/incidents", "viewer").status == 429;
  EXPECT_GT(limited, 0);
}

// 200 strangers each sending a 4 MB body made the daemon hold 600 MB: the token is checked on
// the header, and a refused client's body is never read.
TEST_F(HttpGuardTest, UnauthenticatedClientsBodyIsNeverRead) {
  StartApp(TokenList(0));
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::string head =
      "POST /api/v1/incidents HTTP/1.1\r\nHost: tocsin\r\nContent-Type: application/json\r\n"
      "Content-Length: 4194304\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  // Not one byte of the body was sent: the answer can only come from the header.
  std::string got;
  char buf[4096];
  bool closed = false;
  for (auto until = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < until;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      closed = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(testing::StatusOf(got), 401) << got;
  EXPECT_TRUE(closed) << "the connection of a refused request must be closed";
}

std::string DeepLabels(int depth) {
  std::string s = R"({"title":"deep","alerts":[{"labels":)";
  for (int i = 0; i < depth; ++i) s += R"({"a":)";
  s += "\"x\"";
  s += std::string(static_cast<std::size_t>(depth), '}');
  return s + "}]}";
}

std::string DeepArray(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

// JSON 100,000 levels deep crashed the daemon (SIGSEGV). Every endpoint that reads JSON
// answers 400, signed ones with a valid signature so the body is really parsed. A signed
// route reads at most 256 KiB: its bodies are 10,000 levels deep (the parsers stop at 64).
TEST_F(HttpGuardTest, DeeplyNestedJsonIs400OnEveryJsonEndpoint) {
  StartApp(TokenList(0));
  const std::string labels = DeepLabels(100000);
  const std::string array = DeepArray(100000);
  const std::map<std::string, std::string> signed_body = {{labels, DeepLabels(10000)},
                                                          {array, DeepArray(10000)}};
  std::set<std::string> covered;
  auto post = [&](const std::string& path, const std::string& role, const std::string& body,
                  const std::string& headers = "") {
    covered.insert("POST " + path);
    auto a = Call("POST", path, role, body, headers);
    EXPECT_EQ(a.status, 400) << path << ": " << a.body.substr(0, 200);
    EXPECT_EQ(Call("GET", "/healthz", "").status, 200) << "after " << path;
  };
  for (const std::string& body : {labels, array}) {
    post("/api/v1/incidents", "responder", body);
    for (const char* action : {"ack", "resolve", "note", "escalate", "postmortem", "updates"}) {
      post(std::string("/api/v1/incidents/INC-1/") + action, "responder", body);
    }
    post("/api/v1/drills", "responder", body);
    post("/api/v1/drills/INC-1/stop", "responder", body);
    post("/api/v2/alerts", "intake", body);
    post("/api/v2/silences", "responder", body);
    post("/api/v1/silences/preview", "viewer", body);
    post("/api/v1/oncall/overrides", "responder", body);
    const std::string& small = signed_body.at(body);
    post("/webhooks/pagerduty", "", small,
         "X-PagerDuty-Signature: v1=" + HmacSha256Hex(kPdSecret, small) + "\r\n");
    post("/webhooks/opsgenie", "", small,
         std::string("X-Tocsin-Token: ") + kOpsgenieToken + "\r\n");
    post("/webhooks/jsm", "", small, std::string("X-Tocsin-Token: ") + kJsmToken + "\r\n");
    std::string form = "payload=" + UrlEncode(small);
    std::string ts = std::to_string(std::time(nullptr));
    post("/slack/interactivity", "", form,
         "X-Slack-Request-Timestamp: " + ts + "\r\nX-Slack-Signature: v0=" +
             HmacSha256Hex(kSlackSecret, "v0:" + ts + ":" + form) + "\r\n");
  }
  // Every route that takes a body is covered, except those that take no JSON.
  for (const auto& r : app_->routes()) {
    if (r.method == "GET" || r.method == "DELETE") continue;
    std::string key = r.method + " " + r.pattern;
    // No JSON read: reload takes no body, Slack's command and Twilio's callbacks are forms.
    if (key == "POST /-/reload" || key == "POST /slack/command" ||
        key.rfind("POST /webhooks/twilio/", 0) == 0) {
      continue;
    }
    std::string concrete = key;
    if (auto p = concrete.find("{id}"); p != std::string::npos) concrete.replace(p, 4, "INC-1");
    EXPECT_TRUE(covered.count(concrete)) << key << " reads a body but is not tested here";
  }
}

// 20k requests with invented methods grew /metrics from 5 KB to 21 MB.
// Attack finding: a silence stops pages, and its createdBy was whatever the body said. The
// token that posted it now follows an author that is not the token's.
TEST_F(HttpGuardTest, ASilenceCarriesTheTokenThatPostedIt) {
  StartApp(TokenList(100000));
  auto posted = Call("POST", "/api/v2/silences", "responder", MutatingBody("/api/v2/silences"));
  ASSERT_EQ(posted.status, 200) << posted.body;
  auto listed = Json("/api/v2/silences");
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["createdBy"], "mallory (via token:responder)");
}

TEST_F(HttpGuardTest, InventedMethodsDoNotGrowMetrics) {
  StartApp(TokenList(0));
  for (int i = 0; i < 10; ++i) Call("FROB" + std::to_string(i), "/api/v1/incidents", "");
  const std::size_t before = Metrics().size();
  for (int i = 0; i < 1000; ++i) {
    auto a = Call("X" + std::to_string(100000 + i), i % 2 ? "/api/v1/incidents" : "/nowhere", "");
    ASSERT_NE(a.status, 0);
  }
  const std::string after = Metrics();
  // Counter values gain a digit or two; a label per method would add ~100 bytes each.
  EXPECT_LT(after.size(), before + 2000) << after;
  EXPECT_NE(after.find("method=\"other\""), std::string::npos);
  EXPECT_EQ(after.find("X100001"), std::string::npos);
}

// /healthz stays fast while hostile clients do all of the above at once.
TEST_F(HttpGuardTest, HealthzAnswersQuicklyUnderHostileLoad) {
  StartApp(TokenList(0));
  std::atomic<bool> stop{false};
  std::atomic<int> attacks{0};
  const std::string deep = DeepLabels(100000);
  auto hostile = [&](int kind) {
    for (int i = 0; !stop; ++i, ++attacks) {
      switch (kind) {
        case 0:
          Call("POST", "/api/v1/incidents", "responder", deep);
          break;
        case 1:
          Call("M" + std::to_string(i), "/api/v1/incidents", "");
          break;
        default:
          // A stranger's 4 MB POST: headers only, the server answers 401 without the body.
          Raw("POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n", 2000);
          break;
      }
    }
  };
  std::vector<std::thread> attackers;
  for (int k = 0; k < 3; ++k) attackers.emplace_back(hostile, k);
  while (attacks < 6) std::this_thread::yield();  // the attack is under way
  std::vector<double> ms;
  for (int i = 0; i < 60; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto a = Call("GET", "/healthz", "");
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_EQ(a.status, 200);
  }
  stop = true;
  for (auto& t : attackers) t.join();
  std::sort(ms.begin(), ms.end());
  // Typically a millisecond. The median must stay within the 50 ms budget; the slowest one
  // gets a margin for a machine busy with other builds, but it is still a bound.
  EXPECT_LE(ms[ms.size() / 2], 50.0) << "median /healthz latency under attack";
  EXPECT_LE(ms.back(), 1000.0) << "slowest /healthz under attack";
}

}  // namespace
}  // namespace tocsin::app
