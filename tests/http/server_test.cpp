// The HTTP server on a real loopback socket (port 0), including requests no client library
// would send.
#include "tocsin/http/server.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "support/log_capture.h"
#include "support/loopback_server.h"
#include "support/raw_http.h"
#include "support/sanitizer.h"

namespace tocsin::http {
namespace {

using tocsin::testing::BodyOf;
using tocsin::testing::LoopbackServer;
using tocsin::testing::RawExchange;
using tocsin::testing::StatusOf;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions opts;
    opts.max_body_bytes = max_body_bytes_;
    opts.max_header_bytes = 2048;
    opts.read_timeout = std::chrono::milliseconds(500);
    opts.idle_timeout = std::chrono::milliseconds(500);
    auto router = std::make_shared<Router>();
    router->AddSync("GET", "/healthz", Access::kPublic,
                    [](const Request&) { return Response::Text(200, "ok\n"); });
    router->AddSync("POST", "/echo/{name}", Access::kPublic, [](const Request& r) {
      return Response::Text(200,
                            r.PathParam("name") + ":" + r.Query("q").value_or("") + ":" + r.body);
    });
    router->AddSync("GET", "/throw", Access::kPublic,
                    [](const Request&) -> Response { throw std::runtime_error("boom"); });
    router->Add("GET", "/later", Access::kPublic, [this](const Request&, Respond respond) {
      // Answer from a later loop iteration, as handlers with off-loop work do.
      boost::asio::post(server_->io(), [respond] { respond(Response::Text(202, "later\n")); });
    });
    server_ = std::make_unique<LoopbackServer>(router, registry_, opts);
    ASSERT_TRUE(server_->started());
    port_ = server_->port();
  }
  void TearDown() override { server_.reset(); }
  std::string Metrics() {
    prometheus::TextSerializer s;
    return s.Serialize(registry_.Collect());
  }

  std::uint64_t max_body_bytes_ = 1024;
  prometheus::Registry registry_;
  std::unique_ptr<LoopbackServer> server_;
  unsigned short port_ = 0;
};

class LargeBodyServerTest : public ServerTest {
 protected:
  LargeBodyServerTest() { max_body_bytes_ = 256 * 1024; }
};

// The server makes room for a body before reading it (up to 64 KiB a read) and gives it back
// once the buffer is empty: a body larger than that room, a smaller one and a request without
// a body, pipelined in one write on one connection, each arrive whole and are answered in order.
TEST_F(LargeBodyServerTest, LargeAndSmallBodiesPipelinedArriveWholeAndInOrder) {
  std::string big(100'000, 'b');
  big.front() = '<';
  big.back() = '>';
  std::string small(3'000, 's');
  auto post = [](const std::string& body) {
    return "POST /echo/n HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  };
  auto raw =
      RawExchange(port_, post(big) + post(small) +
                             "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t first = raw.find("\r\n\r\nn::" + big);
  std::size_t second = raw.find("\r\n\r\nn::" + small);
  std::size_t third = raw.find("\r\n\r\nok\n");
  ASSERT_NE(first, std::string::npos) << raw.substr(0, 300);
  ASSERT_NE(second, std::string::npos) << raw.substr(0, 300);
  ASSERT_NE(third, std::string::npos) << raw.substr(0, 300);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

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
  EXPECT_EQ(
      StatusOf(RawExchange(port_, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      404);
  auto raw = RawExchange(port_, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 405);
  EXPECT_NE(raw.find("Allow: GET, HEAD\r\n"), std::string::npos) << "HEAD is served as GET";
  raw = RawExchange(port_, "GET /echo/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 405);
  EXPECT_NE(raw.find("Allow: POST\r\n"), std::string::npos) << raw;
}

// Attack finding: RFC 9112 (3.2.2) has a server accept a target in absolute form, which was a
// 400. Its path and query are the request's, and its host stands for the Host field.
TEST_F(ServerTest, ATargetInAbsoluteFormIsServedAsItsPath) {
  auto raw = RawExchange(port_,
                         "POST http://tocsin.example:9095/echo/slack?q=a%20b HTTP/1.1\r\n"
                         "Host: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(StatusOf(raw), 200) << raw;
  EXPECT_EQ(BodyOf(raw), "slack:a b:hi");
  raw = RawExchange(
      port_, "GET HTTPS://[::1]:9095/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 200) << raw;
  // A host a proxy could read otherwise is refused: user info, '#', '\\', no host, a bad port.
  for (const char* target :
       {"http://user@tocsin.example/healthz", "http://evil#@localhost/healthz",
        "http://evil\\@localhost/healthz", "http:///healthz", "http://h:9x/healthz",
        "http://h:/healthz", "http://[::1/healthz", "http://loc%61lhost/healthz",
        "http://h:99999/healthz", "http://h:65536/healthz"}) {
    raw = RawExchange(
        port_, std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(StatusOf(raw), 400) << target << "\n" << raw;
  }
  EXPECT_EQ(
      StatusOf(RawExchange(port_, "GET http://h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      404)
      << "an empty path is /";
  // The path is checked as any other: no way around the canonical form.
  EXPECT_EQ(
      StatusOf(RawExchange(
          port_,
          "GET http://h//healthz/../healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      400);
  EXPECT_EQ(StatusOf(RawExchange(
                port_, "GET ftp://h/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
            400);
}

TEST_F(ServerTest, MalformedRequestLineIs400) {
  EXPECT_EQ(StatusOf(RawExchange(port_, "THIS IS NOT HTTP\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
  EXPECT_EQ(
      StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n")),
      400);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
}

// Attack finding: an HTTP/1.1 request without Host was served; RFC 9112 (3.2) says 400. HTTP/1.0
// has no Host.
TEST_F(ServerTest, AnHttp11RequestWithoutHostIs400) {
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 400) << raw;
  EXPECT_EQ(BodyOf(raw), "an HTTP/1.1 request needs a Host header field\n");
  raw = RawExchange(port_, "GET http://h/healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 400) << raw;
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n")), 200);
  // The Host field is checked as an absolute-form target's host (the panel reads it).
  raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x:99999\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 400) << raw;
  EXPECT_EQ(BodyOf(raw), "the Host field \"x:99999\" is not host[:port]\n");
  for (const char* host : {"user@x", "x y", "[::1", "x:"}) {
    EXPECT_EQ(StatusOf(RawExchange(port_, std::string("GET /healthz HTTP/1.1\r\nHost: ") + host +
                                              "\r\nConnection: close\r\n\r\n")),
              400)
        << host;
  }
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: [::1]:9095\r\n\r\n")), 200);
  EXPECT_EQ(StatusOf(RawExchange(port_, "GET /healthz HTTP/1.0\r\n\r\n")), 200);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  std::string body(4096, 'x');
  auto raw = RawExchange(port_, "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(StatusOf(raw), 413);
}

// A chunked body has no length to check from the header: its pieces are appended as they
// come, and the limit is held over their sum.
TEST_F(ServerTest, ChunkedBodyArrivesWholeAndOneOverTheLimitIs413) {
  auto chunked = [](const std::vector<std::string>& pieces) {
    std::string r =
        "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n";
    for (const auto& p : pieces) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx", p.size());
      r += std::string(size) + "\r\n" + p + "\r\n";
    }
    return r + "0\r\n\r\n";
  };
  auto raw = RawExchange(port_, chunked({"hello", " ", std::string(1000, 'w')}));
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), "c::hello " + std::string(1000, 'w'));
  // 600 + 600 bytes against max_body_bytes 1024: each piece fits, their sum does not.
  raw = RawExchange(port_, chunked({std::string(600, 'a'), std::string(600, 'b')}));
  EXPECT_EQ(StatusOf(raw), 413);
}

// A chunk header (its extensions) or a trailer field is held whole until its CRLF: one that
// never ends grew the read buffer without bound (about 700 MB in 8 s from one connection,
// without credentials, until the read timeout). Now it is refused once it outgrows a header
// and a body read's room; the refusal is counted even when the client cannot read it.
TEST_F(ServerTest, AChunkLineOrTrailerThatNeverEndsIsRefusedNotHeld) {
  const std::string endless(200 * 1024, 'a');
  for (const std::string& tail : {"1;ext=" + endless, "1\r\na\r\n0\r\nX-Trailer: " + endless}) {
    RawExchange(port_,
                "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tail,
                3000);
  }
  EXPECT_NE(
      Metrics().find(R"(tocsin_http_requests_total{code="400",handler="invalid",method="POST"} 2)"),
      std::string::npos)
      << Metrics();
  auto ok = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(ok), 200);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  std::string big(4096, 'h');
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 431);
}

TEST_F(ServerTest, SlowClientIsDisconnectedAfterReadTimeout) {
  // Half a request and then silence: the server must give up, not hold the slot forever.
  auto raw = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost:", 3000);
  EXPECT_EQ(raw, "");
  auto ok = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(ok), 200);
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  EXPECT_EQ(
      StatusOf(RawExchange(port_, "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      500);
  EXPECT_EQ(
      StatusOf(RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      200);
}

// Two Authorization fields: a proxy that checked the first and tocsin that took the last would
// disagree on who is asking. Other fields may repeat (the last one counts, as before).
TEST_F(ServerTest, ACredentialSentTwiceIsRefused) {
  auto twice = RawExchange(port_,
                           "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
                           "authorization: Bearer b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(twice), 400);
  EXPECT_EQ(BodyOf(twice), "header Authorization appears more than once: send it once\n");
  auto slack = RawExchange(port_,
                           "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=a\r\n"
                           "X-Slack-Signature: v0=b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(slack), 400);
  auto hosts = RawExchange(port_,
                           "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
                           "Connection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(hosts), 400);
  auto forwarded = RawExchange(port_,
                               "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n"
                               "X-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(forwarded), 200);
}

// An HTTP/1.0 client keeps the connection only when the answer says keep-alive.
TEST_F(ServerTest, AnHttp10KeepAliveIsAnsweredAsSuch) {
  int fd = tocsin::testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  const std::string request = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  for (int i = 0; i < 2; ++i) {  // the second request on the same connection
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string got;
    char buf[1024];
    while (got.find("ok\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 3000), 0) << got;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "closed after request " << i << ": " << got;
      got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_NE(got.find("Connection: keep-alive\r\n"), std::string::npos) << got;
  }
  ::close(fd);
  auto plain = RawExchange(port_, "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(plain), 200);
  EXPECT_EQ(plain.find("keep-alive"), std::string::npos) << plain;
}

TEST_F(ServerTest, AHandlerThatKeepsThrowingIsLoggedOnceAndAnswered500EachTime) {
  std::vector<std::string> lines;
  tocsin::testing::LogCapture capture;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(
        StatusOf(RawExchange(port_, "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
        500);
  }
  lines = capture.lines();
  EXPECT_NE(
      Metrics().find(R"(tocsin_http_requests_total{code="500",handler="/throw",method="GET"} 20)"),
      std::string::npos);
  // Twenty requests in far less than the 10 s interval: one line.
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(
      lines[0].find("http: handler of /throw threw: boom (a repeat within 10 s is not logged)"),
      std::string::npos)
      << lines[0];
}

TEST_F(ServerTest, AsynchronousAnswer) {
  auto raw = RawExchange(port_, "GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 202);
  EXPECT_EQ(BodyOf(raw), "later\n");
}

TEST_F(ServerTest, CountsRequestsByRoutePatternAndCode) {
  RawExchange(
      port_,
      "POST /echo/one HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  RawExchange(
      port_,
      "POST /echo/two HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  RawExchange(port_, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
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
  auto raw = RawExchange(port_, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(raw), 200);
  EXPECT_EQ(BodyOf(raw), "");
  EXPECT_NE(raw.find("Content-Length: 3"), std::string::npos) << raw;
}

}  // namespace
}  // namespace tocsin::http
