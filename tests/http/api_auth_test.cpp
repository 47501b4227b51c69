#include "tocsin/http/api_auth.h"

#include <gtest/gtest.h>

#include "tocsin/common/simulated_scheduler.h"

namespace tocsin::http {
namespace {

// sha256("tocsin-api-token-ops"), computed with Python's hashlib.
constexpr const char* kOpsHash = "dfa5c80e9fbb37d518fcf5e2a6c5b6c8d335da2c28bcf6fa54ff06b1c85ae6a6";

Request WithToken(const std::string& token, const std::string& remote = "10.1.2.3:5555") {
  Request r;
  r.method = "POST";
  r.path = "/api/v1/incidents/INC-1/ack";
  r.remote_address = remote;
  if (!token.empty()) r.headers["Authorization"] = "Bearer " + token;
  return r;
}

ApiConfig OneToken(Role role, long long rpm = 0) {
  ApiConfig c;
  c.tokens.push_back({"ops-cli", kOpsHash, role, "olena", rpm});
  return c;
}

TEST(ApiAuthTest, ValidTokenActsAsItsPerson) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kResponder), clock);
  auto p = auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kResponder);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->actor, "olena");
  EXPECT_EQ(p->role, Role::kResponder);
}

// RFC 9110 makes the scheme case-insensitive: a client that writes "bearer" is not refused.
TEST(ApiAuthTest, TheSchemeIsCaseInsensitive) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kResponder), clock);
  for (const char* scheme : {"bearer ", "BEARER ", "Bearer "}) {
    auto r = WithToken("");
    r.headers["Authorization"] = std::string(scheme) + "tocsin-api-token-ops";
    auto p = auth.Authenticate(r, Access::kResponder);
    ASSERT_TRUE(p) << scheme << p.error().message();
    EXPECT_EQ(p->actor, "olena");
  }
  auto r = WithToken("");
  r.headers["Authorization"] = "Basic tocsin-api-token-ops";
  EXPECT_FALSE(auth.Authenticate(r, Access::kResponder));
}

TEST(ApiAuthTest, MissingOrUnknownTokenIs401WrongRoleIs403) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kViewer), clock);
  auto missing = auth.Authenticate(WithToken(""), Access::kViewer);
  ASSERT_FALSE(missing);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(missing.error()).status, 401);
  auto unknown = auth.Authenticate(WithToken("guess"), Access::kViewer);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(unknown.error()).status, 401);
  auto weak = auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kResponder);
  ASSERT_FALSE(weak);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(weak.error()).status, 403);
  EXPECT_NE(weak.error().message().find("needs responder"), std::string::npos);
}

TEST(ApiAuthTest, PerTokenRateLimitRefillsWithTheClock) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kAdmin, 3), clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer));
  }
  auto limited = auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer);
  ASSERT_FALSE(limited);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(limited.error()).status, 429);
  clock.Set(FromUnixMillis(20'000));  // a third of a minute: one request's worth
  EXPECT_TRUE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer));
  EXPECT_FALSE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer));
}

TEST(ApiAuthTest, WithoutTokensOnlyLoopbackIsLetIn) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(ApiConfig{}, clock);
  EXPECT_TRUE(auth.Authenticate(WithToken("", "127.0.0.1:40000"), Access::kAdmin));
  EXPECT_FALSE(auth.Authenticate(WithToken("", "10.0.0.5:40000"), Access::kViewer));
  ApiConfig strict;
  strict.allow_loopback_without_token = false;
  ApiAuthenticator strict_auth(strict, clock);
  EXPECT_FALSE(strict_auth.Authenticate(WithToken("", "127.0.0.1:40000"), Access::kViewer));
}

// Attack finding: without tokens, a page of another site whose name resolves to 127.0.0.1
// (DNS rebinding) read the API and acted on incidents as admin: only the peer address was
// checked. The Host must be a loopback name too.
TEST(ApiAuthTest, WithoutTokensTheHostMustBeALoopbackName) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(ApiConfig{}, clock);
  for (const char* host : {"localhost:9095", "127.0.0.1:9095", "127.3.4.5", "[::1]:9095",
                           "LOCALHOST", "[::ffff:127.0.0.1]:9095"}) {
    Request r = WithToken("", "127.0.0.1:40000");
    r.headers["Host"] = host;
    EXPECT_TRUE(auth.Authenticate(r, Access::kAdmin)) << host;
  }
  for (const char* host : {"evil.example:9095", "127.evil.example:9095", "127.0.0.1.nip.io",
                           "[::2]:9095", "10.0.0.5", "127.1"}) {
    Request r = WithToken("", "127.0.0.1:40000");
    r.headers["Host"] = host;
    auto refused = auth.Authenticate(r, Access::kViewer);
    ASSERT_FALSE(refused) << host;
    EXPECT_EQ(ApiAuthenticator::ErrorResponse(refused.error()).status, 401);
    EXPECT_NE(refused.error().message().find("loopback name"), std::string::npos);
  }
  EXPECT_TRUE(IsLoopbackHost("localhost."));
  EXPECT_FALSE(IsLoopbackHost("[::1"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(ApiAuthTest, OnceATokenExistsLoopbackNeedsOneToo) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kAdmin), clock);
  EXPECT_FALSE(auth.Authenticate(WithToken("", "127.0.0.1:40000"), Access::kViewer));
}

TEST(ApiAuthTest, GuardSetsTheTokensActorOverWhateverTheRequestCarried) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kViewer), clock);
  auto guard = MakeApiGuard(auth);
  Request read = WithToken("tocsin-api-token-ops");
  read.method = "GET";
  read.actor = "mallory";  // nothing a caller sends may survive the guard
  EXPECT_FALSE(guard(read, Access::kViewer));
  EXPECT_EQ(read.actor, "olena");
  EXPECT_EQ(read.role, "viewer");
  Request write = WithToken("tocsin-api-token-ops");
  auto refused = guard(write, Access::kResponder);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
}

TEST(ApiAuthTest, GuardLetsTrustedLoopbackNameItselfOnlyWithoutTokens) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator open(ApiConfig{}, clock);
  auto guard = MakeApiGuard(open);
  Request local = WithToken("", "127.0.0.1:40000");
  local.actor = "mallory";
  EXPECT_FALSE(guard(local, Access::kResponder));
  EXPECT_EQ(local.actor, "");  // the incident API then takes the body's actor, as the CLI sends
  EXPECT_EQ(local.role, "admin");
  Request remote = WithToken("", "10.0.0.7:40000");
  auto refused = guard(remote, Access::kViewer);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
}

// A stock Prometheus posts far more often than the per-minute budget meant for people: intake
// must never answer 429, and must not spend the token's budget for its other calls either.
TEST(ApiAuthTest, AlertIntakeIsNeverRateLimited) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kIntake, 3), clock);
  for (int i = 0; i < 1000; ++i) {
    auto p = auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kIntake);
    ASSERT_TRUE(p) << i << ": " << p.error().message();
  }
  ApiAuthenticator open(ApiConfig{}, clock);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(open.Authenticate(WithToken("", "127.0.0.1:40000"), Access::kIntake)) << i;
  }
  ApiAuthenticator responder(OneToken(Role::kResponder, 3), clock);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(responder.Authenticate(WithToken("tocsin-api-token-ops"), Access::kIntake));
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(responder.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer)) << i;
  }
  EXPECT_FALSE(responder.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer));
}

TEST(ApiAuthTest, IntakeTokenMayOnlyPostAlertsAndViewerMayNot) {
  SimulatedClock clock(FromUnixMillis(0));
  for (Access a : {Access::kViewer, Access::kResponder, Access::kAdmin}) {
    EXPECT_FALSE(RoleAllows(Role::kIntake, a)) << AccessName(a);
  }
  EXPECT_TRUE(RoleAllows(Role::kIntake, Access::kIntake));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Access::kIntake));
  EXPECT_TRUE(RoleAllows(Role::kResponder, Access::kIntake));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Access::kIntake));
  ApiAuthenticator auth(OneToken(Role::kIntake), clock);
  auto read = auth.Authenticate(WithToken("tocsin-api-token-ops"), Access::kViewer);
  ASSERT_FALSE(read);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(read.error()).status, 403);
  EXPECT_NE(read.error().message().find("has role intake; this call needs viewer"),
            std::string::npos)
      << read.error().message();
}

}  // namespace
}  // namespace tocsin::http
