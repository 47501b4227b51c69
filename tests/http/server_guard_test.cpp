// The HTTP server's guard on a real loopback socket (port 0): what it refuses is answered from
// the request's header and never reaches a handler; canonical paths, running out of file
// descriptors. Connection caps: server_slots_test.cpp. The server's own behaviour:
// server_test.cpp.
#include "tocsin/http/server.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "guarded_server_fixture.h"
#include "support/loopback_server.h"
#include "support/raw_http.h"
#include "support/sanitizer.h"

namespace tocsin::http {
namespace {

using tocsin::testing::BodyOf;
using tocsin::testing::RawExchange;
using tocsin::testing::StatusOf;

TEST(ServerGuardTest, RefusedRequestNeverReachesTheHandler) {
  boost::asio::io_context io;
  prometheus::Registry registry;
  Server server(io, {}, registry);
  auto router = std::make_shared<Router>([](Request& r, Access) -> std::optional<Response> {
    if (r.Header("Authorization").value_or("") != "Bearer good") {
      return Response::Text(401, "no\n");
    }
    r.actor = "token:ci";
    return std::nullopt;
  });
  int calls = 0;
  router->AddSync("POST", "/api/v1/x", Access::kResponder, [&](const Request& r) {
    ++calls;
    return Response::Text(200, r.actor);
  });
  server.SetRouter(router);
  ASSERT_TRUE(server.Start());
  std::thread loop([&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  });
  auto refused = tocsin::testing::RawExchange(
      server.port(),
      "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  auto ok = tocsin::testing::RawExchange(
      server.port(),
      "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 0\r\n"
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

namespace tocsin::http {
namespace {

using namespace guarded_test;

TEST_F(GuardedServerTest, RefusedRequestIsAnsweredFromItsHeaderAndClosed) {
  Start({});
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n"));
  bool closed = false;
  auto got = ReadAll(fd, &closed);
  ::close(fd);
  EXPECT_EQ(tocsin::testing::StatusOf(got), 401) << got;
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 0);
}

TEST_F(GuardedServerTest, AdmittedRequestGets100ContinueThenItsBodyIsRead) {
  Start({});
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
                      "Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"));
  char buf[256];
  pollfd p{fd, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 3000), 0);
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 100 Continue", 0), 0u);
  ASSERT_TRUE(SendAll(fd, "hello"));
  bool closed = false;
  auto got = ReadAll(fd, &closed);
  ::close(fd);
  EXPECT_EQ(tocsin::testing::StatusOf(got), 200) << got;
  EXPECT_EQ(tocsin::testing::BodyOf(got), "5");
}

TEST_F(GuardedServerTest, UnmatchedRequestWithABodyIsAnsweredAndClosed) {
  Start({});
  auto raw = tocsin::testing::RawExchange(port_,
                                          "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                          "3\r\n\r\nabcGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(tocsin::testing::StatusOf(raw), 404);
  // The unread body was never taken for a request of its own.
  EXPECT_EQ(raw.find("HTTP/1.1", 1), std::string::npos) << raw;
}

TEST_F(GuardedServerTest, ATransferCodingOtherThanChunkedIsRefusedAndNeverReadAsARequest) {
  Start({});
  // Beast would leave a `gzip` body on the connection, to be parsed as the next request; with
  // `gzip, chunked` it would hand the handler the compressed bytes as the body.
  for (const std::string te : {"gzip", "gzip, chunked", "identity"}) {
    auto raw = tocsin::testing::RawExchange(
        port_,
        "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nTransfer-Encoding: " +
            te + "\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(tocsin::testing::StatusOf(raw), 501) << te << ": " << raw;
    EXPECT_NE(raw.find("Transfer-Encoding \"" + te + "\" is not supported"), std::string::npos)
        << raw;
    EXPECT_EQ(raw.find("HTTP/1.1", 1), std::string::npos) << te << ": " << raw;
  }
  // Every field counts: an empty one ahead of `gzip` does not hide it.
  auto two = tocsin::testing::RawExchange(
      port_,
      "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nTransfer-Encoding: \r\n"
      "Transfer-Encoding: gzip\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(tocsin::testing::StatusOf(two), 501) << two;
  EXPECT_EQ(two.find("HTTP/1.1", 1), std::string::npos) << two;
  // HTTP/1.0 has no transfer codings: the framing is faulty, answered and closed.
  auto old = tocsin::testing::RawExchange(
      port_,
      "POST /api/v1/x HTTP/1.0\r\nAuthorization: Bearer good\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(tocsin::testing::StatusOf(old), 400) << old;
  EXPECT_EQ(calls_.load(), 0);
  // Chunked, in any case, is read as the body it is.
  auto chunked =
      tocsin::testing::RawExchange(port_,
                                   "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                   "good\r\nTransfer-Encoding: Chunked\r\n"
                                   "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(tocsin::testing::StatusOf(chunked), 200) << chunked;
  EXPECT_EQ(tocsin::testing::BodyOf(chunked), "5");
}

TEST_F(GuardedServerTest, InventedMethodsShareOneMetricLabel) {
  Start({});
  for (int i = 0; i < 200; ++i) {
    tocsin::testing::RawExchange(
        port_,
        "M" + std::to_string(i) + " /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  auto m = Metrics();
  EXPECT_NE(
      m.find(R"(tocsin_http_requests_total{code="405",handler="unmatched",method="other"} 200)"),
      std::string::npos)
      << m;
  EXPECT_EQ(m.find("M17"), std::string::npos);
}

TEST_F(GuardedServerTest, NonCanonicalPathsAre400BeforeAnyGuard) {
  Start({});
  for (const char* path : {"//api/v1/x", "/api//v1/x", "/api/v1/x/", "/./api/v1/x",
                           "/api/v1/../v1/x", "/api%2Fv1/x", "/%2e/api/v1/x", "/api/v1/%FF"}) {
    auto raw = tocsin::testing::RawExchange(
        port_, std::string("POST ") + path +
                   " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n");
    EXPECT_EQ(tocsin::testing::StatusOf(raw), 400) << path << raw;
  }
  EXPECT_EQ(calls_, 0);
}

// At the file-descriptor limit the accept loop spun at 97% CPU writing 600k log lines in
// 20 s. Now it pauses: the number of failed accepts is bounded by time / backoff.
TEST_F(GuardedServerTest, AcceptLoopBacksOffWhenOutOfFileDescriptors) {
#if defined(TOCSIN_ASAN)
  // Not a bug of the accept loop: a false report of the sanitizer runtime. UBSan's vptr check,
  // the first time it meets a (type, vtable) pair, asks IsAccessibleMemoryRange() whether the
  // vtable prefix is readable, and that function finds out by write()ing it into a pipe()
  // (compiler-rt, sanitizer_posix_libcdep.cpp). With every descriptor taken, pipe() fails
  // with EMFILE, the vtable is taken for unreadable and UBSan reports "invalid vptr" on the
  // first Asio operation type used while out of descriptors (the backoff timer's wait, a
  // scheduler_operation). No descriptor count lets accept() fail while pipe() (two
  // descriptors) works, so the condition cannot be reached without it. The default build
  // runs this test.
  GTEST_SKIP() << "UBSan's vptr check needs a free descriptor (pipe) to check a vtable, and "
                  "this test takes them all; runs in the default build only";
#endif
  ServerOptions opts;
  opts.accept_backoff = std::chrono::milliseconds(100);
  Start(opts);
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  rlimit low = original;
  low.rlim_cur = std::min<rlim_t>(original.rlim_cur, 256);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // Use up every descriptor but one, connect with that one: the server cannot accept it.
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) filler.push_back(fd);
  ASSERT_FALSE(filler.empty());
  ::close(filler.back());
  filler.pop_back();
  int client = Connect(port_);
  ASSERT_GE(client, 0);
  ASSERT_TRUE(SendAll(client, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  pollfd p{client, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 500), 0) << "nothing can be accepted while out of descriptors";
  // Reading the counter needs no descriptor: the registry is in memory.
  auto backoffs_text = Metrics();
  for (int fd : filler) ::close(fd);
  filler.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);
  const std::string sample = "\ntocsin_http_accept_backoffs_total ";
  auto pos = backoffs_text.find(sample);
  ASSERT_NE(pos, std::string::npos) << backoffs_text;
  double backoffs = std::stod(backoffs_text.substr(pos + sample.size()));
  // ~500 ms of being out of descriptors at 100 ms a pause; a spinning loop makes thousands.
  EXPECT_GE(backoffs, 1);
  EXPECT_LE(backoffs, 20);
  // Once descriptors are free, the waiting client is served.
  bool closed = false;
  auto got = ReadAll(client, &closed);
  ::close(client);
  EXPECT_EQ(tocsin::testing::StatusOf(got), 200) << got;
}

}  // namespace
}  // namespace tocsin::http
