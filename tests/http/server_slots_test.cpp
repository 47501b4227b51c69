// Who keeps a connection slot when server.max_connections are open: idle connections, then
// stalled ones (a header, a stranger's body or a stranger's answer that stopped moving) make
// room for a new one; requests in progress keep theirs. On a real loopback socket.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "guarded_server_fixture.h"

namespace tocsin::http {
namespace {

using namespace guarded_test;
using tocsin::testing::RawExchange;
using tocsin::testing::StatusOf;

// Idle keep-alive connections filling the cap (a stranger's /healthz every minute would keep
// them) must not lock Prometheus out: a new connection closes the one idle the longest.
TEST_F(GuardedServerTest, ANewConnectionPastTheCapClosesTheLongestIdle) {
  StartWithRoomFor(3);
  std::vector<int> held = HoldSlots(port_, 3, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto served = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(served), 200) << served;
  // The first held connection, idle the longest, was closed; the other two were not.
  bool closed = false;
  ReadAll(held[0], &closed, 2000);
  EXPECT_TRUE(closed);
  for (int i = 1; i < 3; ++i) {
    ASSERT_TRUE(SendAll(held[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(StatusOf(ReadAll(held[i], &closed)), 200) << i;
    EXPECT_FALSE(closed) << i;
  }
  EXPECT_NE(Metrics().find("tocsin_http_idle_connections_closed_total 1"), std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("tocsin_http_connections_refused_total 0"), std::string::npos);
  for (int fd : held) ::close(fd);
}

// The attack: on every slot, a request and the first byte of the next one. Those slots were
// neither idle nor in a request, and each held on for the idle timeout (60 s): Prometheus was
// locked out. A header stalled past stalled_header_after (0 here) is closed to make room, and
// with bytes pending the read timeout applies, not the idle one.
TEST_F(GuardedServerTest, HeadersThatStopArrivingDoNotLockTheListener) {
  ServerOptions opts;
  opts.max_connections = 3;
  opts.stalled_header_after = std::chrono::milliseconds(0);
  opts.idle_timeout = std::chrono::seconds(60);
  Start(opts);
  std::vector<int> held = HoldSlots(port_, 3, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nG");
  auto served = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(served), 200) << served;
  bool closed = false;
  ReadAll(held[0], &closed, 2000);
  EXPECT_TRUE(closed);
  EXPECT_NE(Metrics().find("tocsin_http_stalled_connections_closed_total 1"), std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("tocsin_http_connections_refused_total 0"), std::string::npos);
  for (int fd : held) ::close(fd);
}

// Attack finding: a header without its body, on a route no token guards (/healthz, a webhook
// with a plausible signature field), was a request in progress, never closed to make room:
// strangers holding every slot that way locked Prometheus out. Such a body not come
// stalled_header_after (0 here) past its header is closed to make room; a body a token
// admitted is not (its client is known, and its request goes on).
TEST_F(GuardedServerTest, BodiesThatStopArrivingOnARouteWithoutATokenDoNotLockTheListener) {
  ServerOptions opts;
  opts.max_connections = 3;
  opts.stalled_header_after = std::chrono::milliseconds(0);
  Start(opts);
  auto hold = [&](const std::string& head) {
    int fd = Connect(port_);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(SendAll(fd, head + "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    bool closed = false;
    EXPECT_NE(ReadAll(fd, &closed).find("HTTP/1.1 100 Continue"), std::string::npos);
    EXPECT_TRUE(SendAll(fd, "ab"));
    return fd;
  };
  // The oldest holds a body a token admitted; the two strangers' bodies came after it.
  int admitted = hold("POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n");
  int stranger1 = hold("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  int stranger2 = hold("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  auto served = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(served), 200) << served;
  bool closed = false;
  ReadAll(stranger1, &closed, 2000);
  EXPECT_TRUE(closed);
  EXPECT_NE(Metrics().find("tocsin_http_stalled_connections_closed_total 1"), std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("tocsin_http_connections_refused_total 0"), std::string::npos);
  ASSERT_TRUE(SendAll(admitted, "cd"));
  EXPECT_EQ(StatusOf(ReadAll(admitted, &closed)), 200);
  EXPECT_EQ(calls_.load(), 1);
  for (int fd : {admitted, stranger1, stranger2}) ::close(fd);
}

// Attack finding: strangers that sent pipelined requests to a public route and read none of the
// answers held every slot while the server's writes waited (for the read timeout each, then
// they connected again): health checks and Prometheus were closed on accept. Such an answer
// not taken stalled_header_after (0 here) after it began is closed to make room; an answer to
// a request a token admitted is not.
TEST_F(GuardedServerTest, AnswersThatAreNotReadOnARouteWithoutATokenDoNotLockTheListener) {
  ServerOptions opts;
  opts.max_connections = 3;
  opts.stalled_header_after = std::chrono::milliseconds(0);
  Start(opts);
  // Sends `request` and reads the first bytes of its answer (so the server is writing it),
  // then reads no more.
  auto hold = [&](const std::string& request) {
    int fd = Connect(port_);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(SendAll(fd, request + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    char head[12] = {};
    EXPECT_EQ(::recv(fd, head, sizeof head, MSG_WAITALL), static_cast<ssize_t>(sizeof head));
    EXPECT_EQ(std::string(head, sizeof head), "HTTP/1.1 200");
    return fd;
  };
  int admitted = hold("GET /api/v1/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n");
  int stranger1 = hold("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  int stranger2 = hold("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  auto served = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(served), 200) << served;
  EXPECT_NE(Metrics().find("tocsin_http_stalled_connections_closed_total 1"), std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("tocsin_http_connections_refused_total 0"), std::string::npos);
  // The admitted client's answer, whole, then its pipelined request's.
  std::string rest;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::recv(admitted, buf, sizeof buf, 0);
    if (n <= 0) break;
    rest.append(buf, static_cast<std::size_t>(n));
    if (rest.size() > kBig && rest.find("ok\n", kBig) != std::string::npos) break;
  }
  EXPECT_GT(rest.size(), kBig);
  EXPECT_NE(rest.find("ok\n", kBig), std::string::npos) << "the admitted connection was closed";
  for (int fd : {admitted, stranger1, stranger2}) ::close(fd);
}

// Found in review: an answer was stalled a second after it began whether or not its client
// was taking it, so a slow reader on a route without a token (Prometheus scraping over a long
// link, a phone loading the panel) was closed to make room before a stranger who read
// nothing. Only an answer its client has taken no byte of for stalled_header_after (or not all
// of five times that) is stalled.
TEST_F(GuardedServerTest, AnAnswerItsClientIsStillTakingIsNotClosedToMakeRoom) {
  ServerOptions opts;
  opts.max_connections = 2;
  opts.stalled_header_after = std::chrono::seconds(1);
  Start(opts);
  // The reader's answer began first: of the two, it is the older.
  int reader = Connect(port_);
  ASSERT_TRUE(SendAll(reader, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::atomic<bool> reading{true};
  std::size_t got = 0;
  bool whole = false;
  std::thread take([&] {
    // 128 KiB every 10 ms, as a slow link would: the 32 MiB take about 2.5 s.
    std::string head;
    std::vector<char> buf(128 * 1024);
    while (!whole) {
      ssize_t n = ::recv(reader, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
      if (head.size() < 256) head.append(buf.data(), static_cast<std::size_t>(n));
      if (auto end = head.find("\r\n\r\n"); end != std::string::npos) {
        whole = got >= end + 4 + kBig;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    reading = false;
  });
  int stranger = Connect(port_);
  ASSERT_TRUE(SendAll(stranger, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // A client trying again until it is let in: the stranger's answer stalls a second after its
  // last byte was taken.
  std::string served;
  for (int i = 0; i < 200 && StatusOf(served) != 200 && reading; ++i) {
    served = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (StatusOf(served) != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(StatusOf(served), 200) << "let in while the reader was still reading";
  take.join();
  EXPECT_TRUE(whole) << "the reader's answer was cut after " << got << " bytes";
  EXPECT_NE(Metrics().find("tocsin_http_stalled_connections_closed_total 1"), std::string::npos)
      << Metrics();
  for (int fd : {reader, stranger}) ::close(fd);
}

// Every connection in the middle of a request: a new one is closed at once and counted, the
// requests in progress go on.
TEST_F(GuardedServerTest, ConnectionsPastTheCapAreClosedWhenNoneIsIdle) {
  StartWithRoomFor(3);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    // Admitted by the guard (its 100 Continue says so), its body half sent: a request in
    // progress.
    ASSERT_TRUE(SendAll(fd,
                        "POST /api/v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
                        "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    bool closed = false;
    ASSERT_NE(ReadAll(fd, &closed).find("HTTP/1.1 100 Continue"), std::string::npos);
    ASSERT_TRUE(SendAll(fd, "ab"));
    held.push_back(fd);
  }
  int extra = Connect(port_);
  ASSERT_GE(extra, 0);
  bool closed = false;
  SendAll(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto refused = ReadAll(extra, &closed);
  ::close(extra);
  EXPECT_TRUE(closed);
  EXPECT_EQ(refused, "");
  EXPECT_NE(Metrics().find("tocsin_http_connections_refused_total 1"), std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("tocsin_http_idle_connections_closed_total 0"), std::string::npos);
  // The requests in progress finish.
  for (int fd : held) {
    ASSERT_TRUE(SendAll(fd, "cd"));
    EXPECT_EQ(StatusOf(ReadAll(fd, &closed)), 200);
    ::close(fd);
  }
  EXPECT_EQ(calls_.load(), 3);
}

}  // namespace
}  // namespace tocsin::http
