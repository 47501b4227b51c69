// The panel's parts on the simulated clock: the change feed (held requests answered by a change
// or a heartbeat, never by sleeping), sessions and CSRF, and the `panel:` config section.
#include <gtest/gtest.h>

#include <optional>

#include "tocsin/common/crypto.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/config/config.h"
#include "tocsin/panel/change_feed.h"
#include "tocsin/panel/panel_auth.h"
#include "tocsin/panel/panel_config.h"

namespace tocsin::panel {
namespace {

using namespace std::chrono_literals;

TimePoint T0() { return FromUnixMillis(1'764'900'000'000); }

struct Answers {
  std::vector<std::string> bodies;
  http::Respond Catch() {
    return [this](http::Response r) { bodies.push_back(std::to_string(r.status) + " " + r.body); };
  }
};

TEST(ChangeFeed, HeldRequestIsAnsweredByTheNextChange) {
  SimulatedScheduler s(T0());
  ChangeFeed feed(s, 20s);
  Answers a;
  feed.Wait(std::nullopt, a.Catch());
  s.RunPending();
  EXPECT_TRUE(a.bodies.empty());
  feed.Changed("INC-1");
  feed.Changed("INC-2");
  s.RunPending();  // one answer for the changes of one loop turn
  ASSERT_EQ(a.bodies.size(), 1u);
  EXPECT_NE(a.bodies[0].find("id: 2\nevent: incidents\ndata: {\"ids\":[\"INC-1\",\"INC-2\"]"),
            std::string::npos)
      << a.bodies[0];
}

TEST(ChangeFeed, HeartbeatAfterTheHoldAndNothingBefore) {
  SimulatedScheduler s(T0());
  ChangeFeed feed(s, 20s);
  Answers a;
  feed.Wait(0, a.Catch());
  s.AdvanceBy(19s);
  EXPECT_TRUE(a.bodies.empty());
  s.AdvanceBy(1s);
  ASSERT_EQ(a.bodies.size(), 1u);
  EXPECT_NE(a.bodies[0].find("event: heartbeat"), std::string::npos) << a.bodies[0];
}

TEST(ChangeFeed, AskerBehindIsAnsweredAtOnceAndTooFarBehindGetsReset) {
  SimulatedScheduler s(T0());
  ChangeFeed feed(s, 20s);
  feed.Changed("INC-1");
  Answers a;
  feed.Wait(0, a.Catch());
  ASSERT_EQ(a.bodies.size(), 1u);
  EXPECT_NE(a.bodies[0].find("INC-1"), std::string::npos);
  for (std::size_t i = 0; i < ChangeFeed::kRemembered + 5; ++i) feed.Changed("INC-2");
  feed.Wait(1, a.Catch());
  feed.Wait(feed.seq() + 7, a.Catch());  // from before a restart
  ASSERT_EQ(a.bodies.size(), 3u);
  EXPECT_NE(a.bodies[1].find("event: reset"), std::string::npos);
  EXPECT_NE(a.bodies[2].find("event: reset"), std::string::npos);
}

TEST(ChangeFeed, StopAnswersEveryHeldRequestAndTooManyGet503) {
  SimulatedScheduler s(T0());
  ChangeFeed feed(s, 20s, 2);
  Answers a;
  feed.Wait(std::nullopt, a.Catch());
  feed.Wait(std::nullopt, a.Catch());
  feed.Wait(std::nullopt, a.Catch());
  ASSERT_EQ(a.bodies.size(), 1u);
  EXPECT_EQ(a.bodies[0].substr(0, 3), "503");
  feed.Stop();
  EXPECT_EQ(a.bodies.size(), 3u);
  EXPECT_EQ(feed.waiting(), 0u);
}

constexpr const char* kToken = "unit-test-token-0123456789abcdef";

http::ApiConfig Api(http::Role role = http::Role::kResponder) {
  http::ApiConfig api;
  api.tokens.push_back({"t", Sha256Hex(kToken), role, "olena", 0});
  return api;
}

http::Request From(std::string remote, std::string host = "127.0.0.1:9096") {
  http::Request r;
  r.method = "GET";
  r.remote_address = std::move(remote);
  r.headers["Host"] = std::move(host);
  return r;
}

std::string CookieOf(const std::string& set_cookie) {
  return set_cookie.substr(0, set_cookie.find(';'));
}

TEST(PanelAuth, TokenSessionEndsWithSignOutAndWithTheToken) {
  SimulatedClock clock(T0());
  http::ApiAuthenticator api_auth(Api(), clock);
  PanelAuth auth({}, Api(), api_auth, clock);
  auto in = auth.SignInWithToken(From("10.0.0.9:5000"), kToken);
  ASSERT_TRUE(in) << in.error().message();
  EXPECT_NE(in->set_cookie.find("HttpOnly; SameSite=Strict"), std::string::npos);
  auto r = From("10.0.0.9:5000");
  r.headers["Cookie"] = "other=1; " + CookieOf(in->set_cookie);
  auto who = auth.Identify(r);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->actor, "olena");
  auth.SignOut(r);
  EXPECT_FALSE(auth.Identify(r)) << "a cookie replayed after sign-out";

  in = auth.SignInWithToken(From("10.0.0.9:5000"), kToken);
  r.headers["Cookie"] = CookieOf(in->set_cookie);
  ASSERT_TRUE(auth.Identify(r));
  auth.SetConfig({}, http::ApiConfig{});  // the token removed on reload
  EXPECT_FALSE(auth.Identify(r));
}

// Attack finding: one token signing in 10,000 times filled the session table, and the full
// table ended the session closest to expiry, anyone's: a token holder signed everyone out.
TEST(PanelAuth, OneTokenSigningInAgainAndAgainEndsOnlyItsOwnSessions) {
  SimulatedClock clock(T0());
  http::ApiConfig api = Api();
  api.tokens.push_back({"busy", Sha256Hex("busy-token-0123456789abcdef0123"), http::Role::kViewer,
                        "", 1'000'000'000});
  http::ApiAuthenticator api_auth(api, clock);
  PanelAuth auth({}, api, api_auth, clock);
  auto first = auth.SignInWithToken(From("10.0.0.9:5000"), kToken);
  ASSERT_TRUE(first);
  auto r = From("10.0.0.9:5000");
  r.headers["Cookie"] = CookieOf(first->set_cookie);
  std::string busy_first;
  for (std::size_t i = 0; i < PanelAuth::kMaxSessions + 10; ++i) {
    clock.Set(T0() + 1s + std::chrono::milliseconds(i));  // each session expires after the last
    auto in = auth.SignInWithToken(From("10.0.0.7:5000"), "busy-token-0123456789abcdef0123");
    ASSERT_TRUE(in) << in.error().message();
    if (i == 0) busy_first = CookieOf(in->set_cookie);
  }
  EXPECT_TRUE(auth.Identify(r)) << "the other token's session was ended";
  EXPECT_EQ(auth.session_count(), PanelAuth::kMaxSessionsPerOwner + 1);
  auto busy = From("10.0.0.7:5000");
  busy.headers["Cookie"] = busy_first;
  EXPECT_FALSE(auth.Identify(busy)) << "the busy token's oldest session goes first";
}

TEST(PanelAuth, SessionExpiresAfterItsTtl) {
  SimulatedClock clock(T0());
  http::ApiAuthenticator api_auth(Api(), clock);
  PanelConfig cfg;
  cfg.session_ttl = 1h;
  PanelAuth auth(cfg, Api(), api_auth, clock);
  auto in = auth.SignInWithToken(From("10.0.0.9:5000"), kToken);
  auto r = From("10.0.0.9:5000");
  r.headers["Cookie"] = CookieOf(in->set_cookie);
  clock.Set(T0() + 59min);
  EXPECT_TRUE(auth.Identify(r));
  clock.Set(T0() + 61min);
  EXPECT_FALSE(auth.Identify(r));
}

TEST(PanelAuth, ActionsNeedTheSessionsCsrfTokenAndTheSameOrigin) {
  SimulatedClock clock(T0());
  http::ApiAuthenticator api_auth(Api(), clock);
  PanelAuth auth({}, Api(), api_auth, clock);
  auto in = auth.SignInWithToken(From("10.0.0.9:5000"), kToken);
  auto r = From("10.0.0.9:5000", "panel.example:443");
  r.method = "POST";
  r.headers["Cookie"] = CookieOf(in->set_cookie);
  auto who = auth.Identify(r);
  ASSERT_TRUE(who);
  EXPECT_FALSE(auth.CheckAction(r, *who));  // no token, no Origin
  r.headers[kCsrfHeader] = who->csrf;
  EXPECT_FALSE(auth.CheckAction(r, *who));  // no Origin
  r.headers["Origin"] = "https://evil.example";
  EXPECT_FALSE(auth.CheckAction(r, *who));
  r.headers["Origin"] = "https://panel.example:443";
  EXPECT_TRUE(auth.CheckAction(r, *who));
  r.headers[kCsrfHeader] = std::string(who->csrf.size(), '0');
  EXPECT_FALSE(auth.CheckAction(r, *who));
}

TEST(PanelAuth, LoopbackOnlyWithoutTokensFromThisHostByALoopbackName) {
  SimulatedClock clock(T0());
  http::ApiAuthenticator api_auth({}, clock);
  PanelConfig cfg;
  cfg.trusted_proxies = {"127.0.0.2"};
  PanelAuth auth(cfg, {}, api_auth, clock);
  EXPECT_TRUE(auth.Identify(From("127.0.0.1:4000", "localhost:9096")));
  EXPECT_TRUE(auth.Identify(From("::1:4000", "[::1]:9096")));  // the server writes "::1:port"
  EXPECT_FALSE(auth.Identify(From("127.0.0.1:4000", "rebind.example")));
  // Attack finding: a name that starts with "127." passed as a loopback address.
  EXPECT_FALSE(auth.Identify(From("127.0.0.1:4000", "127.evil.example:9096")));
  EXPECT_FALSE(auth.Identify(From("127.0.0.1:4000", "127.0.0.1.nip.io:9096")));
  EXPECT_TRUE(auth.Identify(From("127.0.0.1:4000", "127.0.0.1:9096")));
  EXPECT_TRUE(auth.Identify(From("127.0.0.1:4000", "LocalHost")));
  EXPECT_FALSE(auth.Identify(From("10.0.0.9:4000", "127.0.0.1:9096")));
  EXPECT_FALSE(auth.Identify(From("127.0.0.2:4000", "127.0.0.1:9096")))
      << "a proxy on this host is not a browser on this host";
  auto proxied = From("127.0.0.2:4000");
  proxied.headers["X-Forwarded-User"] = "olena";
  auto who = auth.Identify(proxied);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->actor, "olena");
  EXPECT_EQ(who->role, http::Role::kViewer);

  PanelAuth with_tokens(cfg, Api(), api_auth, clock);
  EXPECT_FALSE(with_tokens.Identify(From("127.0.0.1:4000", "localhost:9096")));
}

PanelConfig Load(const std::string& yaml, std::string* errors) {
  auto loaded = config::LoadConfigString("tocsin.yaml", yaml);
  EXPECT_TRUE(loaded.parsed.has_value());
  config::Diagnostics diags;
  auto cfg = LoadPanelConfig(*loaded.parsed, diags);
  *errors = diags.ToString();
  return cfg;
}

TEST(PanelConfig, ValidSectionAndEveryBadValueNamed) {
  std::string errors;
  auto ok = Load(
      "panel:\n  listen: 127.0.0.1:9096\n  path_prefix: /tocsin\n  trusted_proxies: [10.0.0.5]\n"
      "  proxy_role: responder\n  session_ttl: 8h\n",
      &errors);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(ok.path_prefix, "/tocsin");
  EXPECT_EQ(ok.proxy_role, http::Role::kResponder);
  EXPECT_EQ(ok.session_ttl, 8h);
  Load(
      "panel:\n  listen: nowhere\n  path_prefix: tocsin/\n  trusted_proxies: [proxy.local]\n"
      "  user_header: 'X User'\n  session_ttl: 1s\n  colour: dark\n",
      &errors);
  for (const char* want :
       {"listen", "path_prefix", "trusted_proxies", "user_header", "session_ttl", "colour"}) {
    EXPECT_NE(errors.find(want), std::string::npos) << want << " not named in:\n" << errors;
  }
}

// Regression: the API's copy of the loopback test matched "::1" as a prefix, so a peer
// "::100" (or "::1ab:...") counted as this host there and not in the panel.
TEST(LoopbackAddress, OneTestForApiAndPanelAndIpv6IsExact) {
  EXPECT_TRUE(http::IsLoopbackAddress(http::PeerAddress("::1:41234")));
  EXPECT_TRUE(http::IsLoopbackAddress(http::PeerAddress("127.0.0.9:1")));
  EXPECT_TRUE(http::IsLoopbackAddress(http::PeerAddress("::ffff:127.0.0.1:80")));
  EXPECT_FALSE(http::IsLoopbackAddress(http::PeerAddress("::100:41234")));
  EXPECT_FALSE(http::IsLoopbackAddress(http::PeerAddress("10.0.0.5:41234")));
}

}  // namespace
}  // namespace tocsin::panel
