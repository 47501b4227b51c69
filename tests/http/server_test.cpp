// The HTTP server on a real loopback socket (port 0), including requests no client library
// would send.
#include "tocsin/http/server.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <thread>

#include "support/raw_http.h"

namespace tocsin::http {
namespace {

using tocsin::testing::BodyOf;
using tocsin::testing::RawExchange;
using tocsin::testing::StatusOf;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions opts;
    opts.max_body_bytes = 1024;
    opts.max_header_bytes = 2048;
    opts.read_timeout = std::chrono::milliseconds(500);
    opts.idle_timeout = std::chrono::milliseconds(500);
    server_ = std::make_unique<Server>(io_, opts, registry_);
    auto router = std::make_shared<Router>();
    router->AddSync("GET", "/healthz", [](const Request&) { return Response::Text(200, "ok\n"); });
    router->AddSync("POST", "/echo/{name}", [](const Request& r) {
      return Response::Text(200,
                            r.PathParam("name") + ":" + r.Query("q").value_or("") + ":" + r.body);
    });
    router->AddSync("GET", "/throw",
                    [](const Request&) -> Response { throw std::runtime_error("boom"); });
    router->Add("GET", "/later", [this](const Request&, Respond respond) {
      // Answer from a later loop iteration, as handlers with off-loop work do.
      boost::asio::post(io_, [respond] { respond(Response::Text(202, "later\n")); });
    });
    server_->SetRouter(router);
    ASSERT_TRUE(server_->Start());
    port_ = server_->port();
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void TearDown() override {
    boost::asio::post(io_, [this] { server_->Stop(); });
    io_.stop();
    loop_.join();
  }
  std::string Metrics() {
    prometheus::TextSerializer s;
    return s.Serialize(registry_.Collect());
  }

  boost::asio::io_context io_;
  prometheus::Registry registry_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  std::thread loop_;
};

TEST_F(ServerTest, ServesRoutedRequest) {
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), "ok\n");
}

TEST_F(ServerTest, PassesParamsQueryAndBody) {
  auto raw = RawExchange(port_,
                         "POST /echo/slack?q=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         "Connection: close\r\n\r\nhello");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), "slack:a b:hello");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto raw = RawExchange(port_,
                         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t first = raw.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(raw.find("HTTP/1.1 200", first + 1), std::string::npos) << raw;
}

TEST_F(ServerTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")), 404);
  auto raw = RawExchange(port_, "DELETE /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 405);
  EXPECT_NE(raw.find("Allow: GET"), std::string::npos);
}

TEST_F(ServerTest, MalformedRequestLineIs400) {
  EXPECT_EQ(StatusOf(RawExchange(port_, "THIS IS NOT HTTP\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET nopath HTTP/1.1\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n")),
            400);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /%zz HTTP/1.1\r\n\r\n")), 400);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  std::string body(4096, 'x');
  auto raw =
      RawExchange(port_, "POST /echo/a HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\n\r\n" + body);
  EXPECT_EQ(StatusOf(raw), 413);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  std::string big(4096, 'h');
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 431);
}

TEST_F(ServerTest, SlowClientIsDisconnectedAfterReadTimeout) {
  // Half a request and then silence: the server must give up, not hold the slot forever.
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost:", 3000);
  EXPECT_EQ(raw, "");
  auto ok = RawExchange(port_, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(ok), 200);
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /throw HTTP/1.1\r\nConnection: close\r\n\r\n")), 500);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")),
            200);
}

TEST_F(ServerTest, AsynchronousAnswer) {
  auto raw = RawExchange(port_, "GET /later HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 202);
  EXPECT_EQ(BodyOf(raw), "later\n");
}

TEST_F(ServerTest, CountsRequestsByRoutePatternAndCode) {
  RawExchange(port_, "POST /echo/one HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  RawExchange(port_, "POST /echo/two HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  RawExchange(port_, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string m;
  m = Metrics();
  EXPECT_NE(
      m.find(R"(tocsin_http_requests_total{code="200",handler="/echo/{name}",method="POST"} 2)"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(tocsin_http_requests_total{code="404",handler="unmatched",method="GET"} 1)"),
            std::string::npos)
      << m;
}

TEST_F(ServerTest, HeadGetsHeadersWithoutBody) {
  auto raw = RawExchange(port_, "HEAD /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), "");
  EXPECT_NE(raw.find("Content-Length: 3"), std::string::npos) << raw;
}

}  // namespace
}  // namespace tocsin::http

namespace tocsin::http {
namespace {

TEST(ServerGuardTest, RefusedRequestNeverReachesTheHandler) {
  boost::asio::io_context io;
  prometheus::Registry registry;
  Server server(io, {}, registry);
  auto router = std::make_shared<Router>();
  int calls = 0;
  router->AddSync("POST", "/api/v1/x", [&](const Request& r) {
    ++calls;
    return Response::Text(200, r.actor);
  });
  router->AddGuard("/api/", [](Request& r) -> std::optional<Response> {
    if (r.Header("Authorization").value_or("") != "Bearer good") {
      return Response::Text(401, "no\n");
    }
    r.actor = "token:ci";
    return std::nullopt;
  });
  server.SetRouter(router);
  ASSERT_TRUE(server.Start());
  std::thread loop([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  auto refused = tocsin::testing::RawExchange(
      server.port(), "POST /api/v1/x HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  auto ok = tocsin::testing::RawExchange(
      server.port(),
      "POST /api/v1/x HTTP/1.1\r\nAuthorization: Bearer good\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n");
  io.stop();
  loop.join();
  EXPECT_EQ(tocsin::testing::StatusOf(refused), 401);
  EXPECT_EQ(tocsin::testing::StatusOf(ok), 200);
  EXPECT_EQ(tocsin::testing::BodyOf(ok), "token:ci");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace tocsin::http
