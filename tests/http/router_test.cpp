#include "tocsin/http/router.h"

#include <gtest/gtest.h>

namespace tocsin::http {
namespace {

Request Req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, MatchesLiteralsAndParams) {
  Router router;
  router.AddSync("GET", "/api/v1/incidents", [](const Request&) { return Response{}; });
  router.AddSync("POST", "/api/v1/incidents/{id}/ack", [](const Request&) { return Response{}; });
  router.AddSync("GET", "/static/{path...}", [](const Request&) { return Response{}; });

  auto r1 = Req("POST", "/api/v1/incidents/INC-42/ack");
  auto m1 = router.Find(r1);
  ASSERT_NE(m1.handler, nullptr);
  EXPECT_EQ(m1.pattern, "/api/v1/incidents/{id}/ack");
  EXPECT_EQ(r1.PathParam("id"), "INC-42");

  auto r2 = Req("GET", "/static/a/b/c.css");
  auto m2 = router.Find(r2);
  ASSERT_NE(m2.handler, nullptr);
  EXPECT_EQ(r2.PathParam("path"), "a/b/c.css");

  auto r3 = Req("GET", "/api/v1/incidents/INC-42/ack");
  auto m3 = router.Find(r3);
  EXPECT_EQ(m3.handler, nullptr);
  EXPECT_TRUE(m3.method_not_allowed);

  auto r4 = Req("GET", "/api/v1/nothing");
  EXPECT_EQ(router.Find(r4).handler, nullptr);
  EXPECT_FALSE(router.Find(r4).method_not_allowed);

  auto r5 = Req("HEAD", "/api/v1/incidents");
  EXPECT_NE(router.Find(r5).handler, nullptr);
}

TEST(FormTest, DecodesPlusAndPercent) {
  auto f = ParseFormEncoded("payload=%7B%22a%22%3A1%7D&text=ack+INC-1&&bad=%zz&empty=");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].second, R"({"a":1})");
  EXPECT_EQ(f[1].second, "ack INC-1");
  EXPECT_EQ(f[2].first, "empty");
  EXPECT_FALSE(PercentDecode("%4", false));
  EXPECT_EQ(*PercentDecode("a+b%20c", false), "a+b c");
}

}  // namespace
}  // namespace tocsin::http

namespace tocsin::http {
namespace {

TEST(RouterGuardTest, LongestPrefixGuardRunsAndCanFillTheActor) {
  Router router;
  router.AddSync("GET", "/api/v1/incidents", [](const Request&) { return Response{}; });
  router.AddSync("GET", "/healthz", [](const Request&) { return Response{}; });
  router.AddGuard("/api/",
                  [](Request&) -> std::optional<Response> { return Response::Text(401, "outer"); });
  router.AddGuard("/api/v1/", [](Request& r) -> std::optional<Response> {
    r.actor = "olena";
    return std::nullopt;
  });
  Request api;
  api.method = "GET";
  api.path = "/api/v1/incidents";
  auto m = router.Find(api);
  ASSERT_NE(m.guard, nullptr);
  EXPECT_FALSE((*m.guard)(api).has_value());
  EXPECT_EQ(api.actor, "olena");
  Request health;
  health.method = "GET";
  health.path = "/healthz";
  EXPECT_EQ(router.Find(health).guard, nullptr);
}

}  // namespace
}  // namespace tocsin::http
