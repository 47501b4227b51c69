#include "tocsin/http/server.h"

#include <chrono>
#include <optional>
#include <unordered_set>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tocsin::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session;

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_context, ServerOptions opts, prometheus::Registry& registry)
      : io(io_context),
        options(std::move(opts)),
        acceptor(io_context),
        requests(prometheus::BuildCounter()
                     .Name("tocsin_http_requests_total")
                     .Help("HTTP requests served, by route pattern, method and status code.")
                     .Register(registry)),
        durations(prometheus::BuildHistogram()
                      .Name("tocsin_http_request_duration_seconds")
                      .Help("Time from a request being read to its response being written.")
                      .Register(registry)) {}

  void Accept();
  void Count(const std::string& handler, const std::string& method, int status, double seconds) {
    requests.Add({{"handler", handler}, {"method", method}, {"code", std::to_string(status)}})
        .Increment();
    durations
        .Add({{"handler", handler}},
             prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05, 0.1, 0.25, 0.5, 1, 2.5})
        .Observe(seconds);
  }

  asio::io_context& io;
  ServerOptions options;
  tcp::acceptor acceptor;
  std::shared_ptr<const Router> router = std::make_shared<Router>();
  std::unordered_set<Session*> sessions;
  bool stopping = false;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
};

namespace {

std::string_view ReasonOf(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
}

// One connection. Reads a request, hands it to the router, writes the answer, repeats while
// keep-alive holds. Owns itself through shared_ptr, as Beast's examples do.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    server_->sessions.insert(this);
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() { server_->sessions.erase(this); }

  void Start() { ReadRequest(); }

  // Closes the connection if it is idle between requests (used on shutdown).
  void CloseIfIdle() {
    if (!busy_) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }
  }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    // The first request of a connection gets the read timeout; later ones the idle timeout
    // for the wait plus the read timeout once bytes arrive is more than Beast offers, so use
    // the larger of the two as a bound for the whole read.
    auto timeout = requests_served_ == 0
                       ? server_->options.read_timeout
                       : std::max(server_->options.read_timeout, server_->options.idle_timeout);
    stream_.expires_after(timeout);
    busy_ = false;
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return Close();
    }
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
    if (ec) {
      int status = 400;
      std::string why = "malformed request: " + ec.message();
      if (ec == bhttp::error::body_limit) {
        status = 413;
        why = "request body larger than " + std::to_string(server_->options.max_body_bytes) +
              " bytes";
      } else if (ec == bhttp::error::header_limit) {
        status = 431;
        why = "request headers larger than " + std::to_string(server_->options.max_header_bytes) +
              " bytes";
      }
      keep_alive_ = false;
      method_ = "INVALID";
      return Write(Response::Text(status, why + "\n"), "invalid");
    }
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_address = remote_;
    method_ = req.method;
    keep_alive_ = msg.keep_alive();
    auto q = req.target.find('?');
    auto raw_path = std::string_view(req.target).substr(0, q);
    auto path = PercentDecode(raw_path, false);
    if (!path || raw_path.empty() || raw_path.front() != '/') {
      keep_alive_ = false;
      return Write(Response::Text(400, "malformed request target\n"), "invalid");
    }
    req.path = std::move(*path);
    if (q != std::string::npos) req.query = ParseFormEncoded(req.target.substr(q + 1));
    for (const auto& field : msg) {
      req.headers[std::string(field.name_string())] = std::string(field.value());
    }
    req.body = std::move(msg.body());

    router_ = server_->router;  // keep the router alive until the response is written
    auto match = router_->Find(req);
    if (match.handler == nullptr) {
      if (match.method_not_allowed) {
        Response r = Response::Text(405, "method not allowed\n");
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        r.headers["Allow"] = allow;
        return Write(std::move(r), "unmatched");
      }
      return Write(Response::Text(404, "not found\n"), "unmatched");
    }
    std::string pattern = match.pattern;
    auto answered = std::make_shared<bool>(false);
    auto self = shared_from_this();
    Respond respond = [self, answered, pattern](Response r) {
      if (*answered) return;  // a handler that answers twice keeps its first answer
      *answered = true;
      self->Write(std::move(r), pattern);
    };
    try {
      if (match.guard != nullptr) {
        if (auto refused = (*match.guard)(req)) return respond(std::move(*refused));
      }
      (*match.handler)(req, respond);
    } catch (const std::exception& e) {
      spdlog::error("http: handler {} threw: {}", pattern, e.what());
      respond(Response::Text(500, "internal error\n"));
    }
  }

  void Write(Response r, const std::string& handler) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->reason(ReasonOf(r.status));
    res->set(bhttp::field::server, "tocsin");
    res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    bool keep = keep_alive_ && !server_->stopping;
    res->keep_alive(keep);
    if (method_ == "HEAD") {
      // Same headers as GET, no body.
      res->prepare_payload();
      res->set(bhttp::field::content_length, std::to_string(r.body.size()));
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_->Count(handler, method_, r.status, secs);
    ++requests_served_;
    stream_.expires_after(server_->options.read_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
                         if (ec || !keep) return self->Close();
                         self->ReadRequest();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Server::Impl> server_;
  std::shared_ptr<const Router> router_;
  std::string remote_;
  std::string method_;
  bool keep_alive_ = false;
  bool busy_ = false;
  std::uint64_t requests_served_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopping || ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::make_shared<Session>(std::move(socket), self)->Start();
    } else {
      spdlog::warn("http: accept failed: {}", ec.message());
    }
    self->Accept();
  });
}

Server::Server(asio::io_context& io, ServerOptions options, prometheus::Registry& registry)
    : impl_(std::make_shared<Impl>(io, std::move(options), registry)) {}

Server::~Server() { Stop(); }

Result<void> Server::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    // Not an IP literal: resolve it (e.g. "localhost").
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(impl_->options.host, std::to_string(impl_->options.port), ec);
    if (ec || results.empty()) {
      return Fail(
          Error::Io("cannot resolve listen host \"" + impl_->options.host + "\": " + ec.message()));
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Error::Io("cannot listen on " + impl_->options.host + ":" +
                          std::to_string(impl_->options.port) + ": " + ec.message()));
  }
  impl_->Accept();
  return {};
}

void Server::Stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  // Copy: closing may destroy sessions, which erase themselves from the set.
  std::vector<Session*> sessions(impl_->sessions.begin(), impl_->sessions.end());
  for (auto* s : sessions) s->CloseIfIdle();
}

void Server::SetRouter(std::shared_ptr<const Router> router) { impl_->router = std::move(router); }

unsigned short Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::size_t Server::open_connections() const { return impl_->sessions.size(); }

}  // namespace tocsin::http
