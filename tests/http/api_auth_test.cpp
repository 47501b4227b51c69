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
  auto p = auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kResponder);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->actor, "olena");
  EXPECT_EQ(p->role, Role::kResponder);
}

TEST(ApiAuthTest, MissingOrUnknownTokenIs401WrongRoleIs403) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kViewer), clock);
  auto missing = auth.Authenticate(WithToken(""), Role::kViewer);
  ASSERT_FALSE(missing);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(missing.error()).status, 401);
  auto unknown = auth.Authenticate(WithToken("guess"), Role::kViewer);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(unknown.error()).status, 401);
  auto weak = auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kResponder);
  ASSERT_FALSE(weak);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(weak.error()).status, 403);
  EXPECT_NE(weak.error().message().find("needs responder"), std::string::npos);
}

TEST(ApiAuthTest, PerTokenRateLimitRefillsWithTheClock) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kAdmin, 3), clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kViewer));
  }
  auto limited = auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kViewer);
  ASSERT_FALSE(limited);
  EXPECT_EQ(ApiAuthenticator::ErrorResponse(limited.error()).status, 429);
  clock.Set(FromUnixMillis(20'000));  // a third of a minute: one request's worth
  EXPECT_TRUE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kViewer));
  EXPECT_FALSE(auth.Authenticate(WithToken("tocsin-api-token-ops"), Role::kViewer));
}

TEST(ApiAuthTest, WithoutTokensOnlyLoopbackIsLetIn) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(ApiConfig{}, clock);
  EXPECT_TRUE(auth.Authenticate(WithToken("", "127.0.0.1:40000"), Role::kAdmin));
  EXPECT_FALSE(auth.Authenticate(WithToken("", "10.0.0.5:40000"), Role::kViewer));
  ApiConfig strict;
  strict.allow_loopback_without_token = false;
  ApiAuthenticator strict_auth(strict, clock);
  EXPECT_FALSE(strict_auth.Authenticate(WithToken("", "127.0.0.1:40000"), Role::kViewer));
}

TEST(ApiAuthTest, OnceATokenExistsLoopbackNeedsOneToo) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kAdmin), clock);
  EXPECT_FALSE(auth.Authenticate(WithToken("", "127.0.0.1:40000"), Role::kViewer));
}

TEST(ApiAuthTest, GuardSetsTheTokensActorOverWhateverTheRequestCarried) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator auth(OneToken(Role::kViewer), clock);
  auto guard = MakeApiGuard(auth, Role::kViewer, Role::kResponder);
  Request read = WithToken("tocsin-api-token-ops");
  read.method = "GET";
  read.actor = "mallory";  // nothing a caller sends may survive the guard
  EXPECT_FALSE(guard(read));
  EXPECT_EQ(read.actor, "olena");
  EXPECT_EQ(read.role, "viewer");
  Request write = WithToken("tocsin-api-token-ops");
  auto refused = guard(write);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
}

TEST(ApiAuthTest, GuardLetsTrustedLoopbackNameItselfOnlyWithoutTokens) {
  SimulatedClock clock(FromUnixMillis(0));
  ApiAuthenticator open(ApiConfig{}, clock);
  auto guard = MakeApiGuard(open, Role::kViewer, Role::kResponder);
  Request local = WithToken("", "127.0.0.1:40000");
  local.actor = "mallory";
  EXPECT_FALSE(guard(local));
  EXPECT_EQ(local.actor, "");  // the incident API then takes the body's actor, as the CLI sends
  EXPECT_EQ(local.role, "admin");
  Request remote = WithToken("", "10.0.0.7:40000");
  auto refused = guard(remote);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
}

}  // namespace
}  // namespace tocsin::http
