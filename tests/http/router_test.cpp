#include "tocsin/http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

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
  router.AddSync("GET", "/api/v1/incidents", Access::kPublic,
                 [](const Request&) { return Response{}; });
  router.AddSync("POST", "/api/v1/incidents/{id}/ack", Access::kPublic,
                 [](const Request&) { return Response{}; });
  router.AddSync("GET", "/static/{path...}", Access::kPublic,
                 [](const Request&) { return Response{}; });

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

TEST(FormTest, PercentDecodeRefusesEveryMalformedEscape) {
  for (const char* bad : {"%", "%4", "a%", "a%4", "%zz", "%4g", "%%41", "x%2"}) {
    EXPECT_FALSE(PercentDecode(bad, false)) << bad;
    EXPECT_FALSE(PercentDecode(bad, true)) << bad;
  }
  EXPECT_EQ(*PercentDecode("", false), "");
  EXPECT_EQ(*PercentDecode("%41%6a%6A", false), "Ajj");
  EXPECT_EQ(*PercentDecode("K%C3%B6ln", false), "Köln");
  EXPECT_EQ(*PercentDecode("%00", false), std::string("\0", 1));
  EXPECT_EQ(*PercentDecode("a+b%2Bc", true), "a b+c");
  // Raw bytes that a lenient client leaves unencoded pass through as sent.
  EXPECT_EQ(*PercentDecode("a b/ü", false), "a b/ü");
}

// Decoded text is stored, logged and put into JSON: bytes that are not UTF-8 are refused like a
// malformed escape (a Slack command with text=%FF stopped the daemon when its answer was
// serialized; a note with such a byte made its incident unreadable through the API).
TEST(FormTest, DecodedBytesThatAreNotUtf8AreRefused) {
  for (const char* bad :
       {"%FF", "who%20%FF", "%C3%28", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%E2%82", "\xff"}) {
    EXPECT_FALSE(PercentDecode(bad, false)) << bad;
  }
  auto f = ParseFormEncoded("user_id=U1&text=note%20INC-2%20bad%FFbyte&command=%2Ftocsin");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].first, "user_id");
  EXPECT_EQ(f[1].first, "command");
  EXPECT_EQ(*PercentDecode("%F0%9F%94%94", false), "\xF0\x9F\x94\x94");  // U+1F514, a bell
}

}  // namespace
}  // namespace tocsin::http

namespace tocsin::http {
namespace {

TEST(RouterGuardTest, EveryRouteCarriesItsDeclaredAccessIntoTheGuard) {
  std::vector<Access> seen;
  Router router([&seen](Request& r, Access a) -> std::optional<Response> {
    seen.push_back(a);
    if (a == Access::kAdmin) return Response::Text(403, "no");
    r.actor = "olena";
    return std::nullopt;
  });
  router.AddSync("GET", "/api/v1/incidents", Access::kViewer,
                 [](const Request&) { return Response{}; });
  router.AddSync("POST", "/-/reload", Access::kAdmin, [](const Request&) { return Response{}; });
  router.AddSync("GET", "/healthz", Access::kPublic, [](const Request&) { return Response{}; });
  router.AddSigned(
      "POST", "/slack/command", [](const Request&) { return std::optional<Response>(); },
      [](const Request&, Respond respond) { respond(Response{}); });

  Request api = Req("GET", "/api/v1/incidents");
  api.actor = "mallory";
  auto m = router.Find(api);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.access, Access::kViewer);
  EXPECT_FALSE(router.Authorize(api, m.access));
  EXPECT_EQ(api.actor, "olena");

  Request reload = Req("POST", "/-/reload");
  auto mr = router.Find(reload);
  EXPECT_EQ(mr.access, Access::kAdmin);
  EXPECT_TRUE(router.Authorize(reload, mr.access));

  // Public and signed routes never reach the guard, and keep nothing a caller claimed.
  Request slack = Req("POST", "/slack/command");
  slack.actor = "mallory";
  EXPECT_FALSE(router.Authorize(slack, router.Find(slack).access));
  EXPECT_EQ(slack.actor, "");
  EXPECT_EQ(seen, (std::vector<Access>{Access::kViewer, Access::kAdmin}));

  auto routes = router.Routes();
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[1].pattern, "/-/reload");
  EXPECT_EQ(routes[1].method, "POST");
  EXPECT_EQ(routes[1].access, Access::kAdmin);
}

TEST(RouterGuardTest, WithoutAGuardEveryTokenRouteIsRefused) {
  Router router;
  router.AddSync("GET", "/api/v1/incidents", Access::kViewer,
                 [](const Request&) { return Response{}; });
  Request r = Req("GET", "/api/v1/incidents");
  auto refused = router.Authorize(r, router.Find(r).access);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
}

// A signed route has no API token at the guard: without a screen, anyone could make the server
// read its body. Such a route cannot be added without one, and its match carries it.
TEST(RouterGuardTest, ASignedRouteIsAddedOnlyWithItsScreen) {
  Router router;
  auto sync = [](const Request&) { return Response{}; };
  auto handler = [](const Request&, Respond respond) { respond(Response{}); };
  EXPECT_THROW(router.AddSync("POST", "/webhooks/x", Access::kSigned, sync), std::invalid_argument);
  EXPECT_THROW(router.Add("POST", "/webhooks/x", Access::kSigned, handler), std::invalid_argument);
  EXPECT_THROW(router.AddSigned("POST", "/webhooks/x", Router::Screen(), handler),
               std::invalid_argument);
  EXPECT_TRUE(router.Routes().empty());

  router.AddSigned(
      "POST", "/webhooks/x",
      [](const Request& r) -> std::optional<Response> {
        if (r.Header("X-Sig")) return std::nullopt;
        return Response::Text(401, "missing signature\n");
      },
      handler);
  router.AddSync("GET", "/healthz", Access::kPublic, sync);
  Request hook = Req("POST", "/webhooks/x");
  auto m = router.Find(hook);
  ASSERT_NE(m.screen, nullptr);
  EXPECT_EQ(m.access, Access::kSigned);
  auto refused = (*m.screen)(hook);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  hook.headers["X-Sig"] = "v1";
  EXPECT_FALSE((*m.screen)(hook));
  Request health = Req("GET", "/healthz");
  EXPECT_EQ(router.Find(health).screen, nullptr);
}

// The bug: the router dropped empty segments while guards matched the raw path by prefix, so
// "//api/v1/incidents" reached the handler unguarded. Now nothing but the exact path matches.
TEST(RouterTest, DoubleSlashPathNoLongerMatchesARoute) {
  Router router;
  router.AddSync("GET", "/api/v1/incidents", Access::kViewer,
                 [](const Request&) { return Response{}; });
  router.AddSync("POST", "/api/v1/incidents/{id}/ack", Access::kResponder,
                 [](const Request&) { return Response{}; });
  for (const char* path : {"//api/v1/incidents", "/api//v1/incidents", "/api/v1/incidents/",
                           "/api/v1/incidents//ack", "api/v1/incidents", ""}) {
    Request r = Req("GET", path);
    EXPECT_EQ(router.Find(r).handler, nullptr) << path;
    Request p = Req("POST", path);
    EXPECT_EQ(router.Find(p).handler, nullptr) << path;
  }
}

TEST(CanonicalPathTest, AcceptsCanonicalPathsAndRefusesEveryOtherForm) {
  EXPECT_EQ(*CanonicalPath("/"), "/");
  EXPECT_EQ(*CanonicalPath("/api/v1/incidents"), "/api/v1/incidents");
  EXPECT_EQ(*CanonicalPath("/api/v1/incidents/INC%2D42"), "/api/v1/incidents/INC-42");
  EXPECT_EQ(*CanonicalPath("/a/b%20c/.x/..y"), "/a/b c/.x/..y");
  for (const char* bad : {"",
                          "x",
                          "//api/v1/incidents",
                          "/api//v1",
                          "/api/v1/incidents/",
                          "/./healthz",
                          "/api/./v1",
                          "/api/v1/../v2",
                          "/..",
                          "/%2e/healthz",
                          "/%2E%2E/-/reload",
                          "/.%2e/x",
                          "/api%2Fv1/incidents",
                          "/api%2fv1",
                          "/a%5Cb",
                          "/a\\b",
                          "/a%00b",
                          "/a%0d%0ab",
                          "/%zz",
                          "/%4"}) {
    auto c = CanonicalPath(bad);
    EXPECT_FALSE(c) << bad << " -> " << (c ? *c : "");
  }
  EXPECT_NE(CanonicalPath("//x").error().message().find("empty segment"), std::string::npos);
  EXPECT_NE(CanonicalPath("/x/").error().message().find("trailing"), std::string::npos);
  EXPECT_NE(CanonicalPath("/x%2Fy").error().message().find("encoded '/'"), std::string::npos);
}

TEST(MethodLabelTest, InventedMethodsShareOneLabel) {
  EXPECT_EQ(MethodLabel("GET"), "GET");
  EXPECT_EQ(MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(MethodLabel("FROB1234"), "other");
  EXPECT_EQ(MethodLabel("get"), "other");
}

}  // namespace
}  // namespace tocsin::http
