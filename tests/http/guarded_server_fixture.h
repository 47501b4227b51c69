#pragma once

// The guarded server of the HTTP guard tests (server_guard_test.cpp: what the guard refuses;
// server_slots_test.cpp: who keeps a connection slot): a real loopback server (port 0) with a
// public /healthz and /big, a token-guarded /api/v1/x and /api/v1/big, and raw-socket helpers.
#include <gtest/gtest.h>

#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "support/loopback_server.h"
#include "support/raw_http.h"
#include "tocsin/http/server.h"

namespace tocsin::http::guarded_test {

inline int Connect(unsigned short port) { return tocsin::testing::ConnectLoopback(port); }

// Reads until the peer closes or `timeout_ms` passes without data; `closed` says which.
inline std::string ReadAll(int fd, bool* closed, int timeout_ms = 3000) {
  std::string out;
  char buf[4096];
  *closed = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
    if (out.find("\r\n\r\n") != std::string::npos && timeout_ms > 200) timeout_ms = 200;
  }
}

inline bool SendAll(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// `n` connections, each of which sent `request` (a whole GET /healthz, maybe with more after
// it) and got its 200: accepted, each holding a slot.
inline std::vector<int> HoldSlots(unsigned short port, int n, const std::string& request) {
  std::vector<int> held;
  for (int i = 0; i < n; ++i) {
    int fd = Connect(port);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(SendAll(fd, request));
    bool closed = false;
    EXPECT_EQ(tocsin::testing::StatusOf(ReadAll(fd, &closed)), 200);
    EXPECT_FALSE(closed);
    held.push_back(fd);
  }
  return held;
}

class GuardedServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions opts) {
    auto router = std::make_shared<Router>([](Request& r, Access) -> std::optional<Response> {
      if (r.Header("Authorization").value_or("") != "Bearer good") {
        return Response::Text(401, "no\n");
      }
      return std::nullopt;
    });
    router->AddSync("GET", "/healthz", Access::kPublic,
                    [](const Request&) { return Response::Text(200, "ok\n"); });
    // Answers larger than what the sockets between a client and the server hold.
    router->AddSync("GET", "/big", Access::kPublic,
                    [](const Request&) { return Response::Text(200, std::string(kBig, 'x')); });
    router->AddSync("GET", "/api/v1/big", Access::kViewer,
                    [](const Request&) { return Response::Text(200, std::string(kBig, 'x')); });
    router->AddSync("POST", "/api/v1/x", Access::kResponder, [this](const Request& r) {
      ++calls_;
      return Response::Text(200, std::to_string(r.body.size()));
    });
    server_ = std::make_unique<tocsin::testing::LoopbackServer>(router, registry_, opts);
    ASSERT_TRUE(server_->started());
    port_ = server_->port();
  }
  void StartWithRoomFor(std::size_t connections) {
    ServerOptions opts;
    opts.max_connections = connections;
    Start(opts);
  }
  void TearDown() override { server_.reset(); }
  std::string Metrics() {
    prometheus::TextSerializer s;
    return s.Serialize(registry_.Collect());
  }

  static constexpr std::size_t kBig = 32 * 1024 * 1024;
  prometheus::Registry registry_;
  std::unique_ptr<tocsin::testing::LoopbackServer> server_;
  unsigned short port_ = 0;
  std::atomic<int> calls_{0};
};

}  // namespace tocsin::http::guarded_test
