#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/http/router.h"

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Registry;
}

namespace tocsin::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;  // 0 picks a free port (tests)
  Duration read_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  std::uint64_t max_header_bytes = 16 * 1024;
  std::uint64_t max_body_bytes = 4 * 1024 * 1024;
  // A signed route's body (Slack, provider webhooks), at most max_body_bytes: their requests
  // are a click or an event, and anyone with plausible header fields gets past their screens.
  std::uint64_t max_signed_body_bytes = 256 * 1024;
  // Connections open at once. Past it, a new connection closes the one idle the longest, else
  // the one that has waited the longest (over stalled_header_after) for the rest of a header
  // whose first bytes came, for the body of a request no token admitted, or for such a
  // request's client to take its answer; with none of these, it is closed as soon as it is
  // accepted.
  std::size_t max_connections = 1024;
  Duration stalled_header_after = std::chrono::seconds(1);
  // How long accepting pauses when the process is out of file descriptors (EMFILE/ENFILE),
  // instead of retrying in a tight loop.
  Duration accept_backoff = std::chrono::milliseconds(100);
  // Takes "%2F" in a path for a '/' instead of refusing it. Only for the provider simulator:
  // Opsgenie's API puts aliases that contain '/' in the path, encoded. tocsin itself keeps
  // the canonical-path rule.
  bool encoded_slash_is_separator = false;
  // Serves everything under this path ("/tocsin", no trailing '/'; empty: at the root), for a
  // reverse proxy that forwards a sub-path: the prefix is removed before the path is made
  // canonical and routed, "<prefix>" and "<prefix>/" are the root "/", and a path outside the
  // prefix is answered 404.
  std::string path_prefix;
  // Added to every response that does not set them itself (the panel's security headers).
  Headers default_headers;
};

// HTTP/1.1 server on the event loop (Boost.Beast). For each request it reads the header only
// (within max_header_bytes and the read timeout), makes the path canonical once
// (CanonicalPath: 400 otherwise), routes it and runs the route's guard (a signed route: its
// screen, Router::AddSigned); only a request let in has its body read (within max_body_bytes:
// 413 otherwise), so an unauthenticated client never makes the server hold a body. A refused
// request is answered and its connection closed. Malformed requests get 400, oversized headers 431;
// one connection's error never reaches another. At most max_connections are open at once; out of
// file descriptors, it pauses accepting for accept_backoff. Every request is counted in
// tocsin_http_requests_total{handler, method, code} (both labels bounded: route patterns and
// MethodLabel) and timed in tocsin_http_request_duration_seconds{handler}.
// Thread-safety: loop thread only. The router is shared so that a reload can swap it
// (SetRouter) without dropping connections.
class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, prometheus::Registry& registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Fails with kIo when the address cannot be bound.
  Result<void> Start();
  // Stops accepting and closes idle connections; in-flight requests finish.
  void Stop();
  void SetRouter(std::shared_ptr<const Router> router);
  unsigned short port() const;
  std::size_t open_connections() const;

  // Defined in server.cpp; public only so that connections there can refer to it.
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tocsin::http
