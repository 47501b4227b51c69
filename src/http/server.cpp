// The HTTP/1.1 server: the acceptor, one Session per connection (read, guard, dispatch, write,
// keep-alive) and their metrics. Over 500 lines: one translation unit for Beast's HTTP
// machinery keeps a rebuild fast (the other modules see only tocsin/http/server.h).
#include "tocsin/http/server.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <unordered_set>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tocsin/common/log.h"
#include "tocsin/common/text.h"

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
        backoff_timer(io_context),
        requests(prometheus::BuildCounter()
                     .Name("tocsin_http_requests_total")
                     .Help("HTTP requests served, by route pattern, method and status code.")
                     .Register(registry)),
        durations(prometheus::BuildHistogram()
                      .Name("tocsin_http_request_duration_seconds")
                      .Help("Time from a request being read to its response being written.")
                      .Register(registry)),
        open_gauge(prometheus::BuildGauge()
                       .Name("tocsin_http_open_connections")
                       .Help("HTTP connections open now.")
                       .Register(registry)
                       .Add({})),
        refused(prometheus::BuildCounter()
                    .Name("tocsin_http_connections_refused_total")
                    .Help("Connections closed on accept because server.max_connections were "
                          "open and none of them was idle.")
                    .Register(registry)
                    .Add({})),
        evicted(prometheus::BuildCounter()
                    .Name("tocsin_http_idle_connections_closed_total")
                    .Help("Idle connections closed to make room for a new one because "
                          "server.max_connections were open.")
                    .Register(registry)
                    .Add({})),
        stalled(prometheus::BuildCounter()
                    .Name("tocsin_http_stalled_connections_closed_total")
                    .Help("Connections whose request header stopped arriving (or the body of a "
                          "request without a token), closed to make room for a new one because "
                          "server.max_connections were open.")
                    .Register(registry)
                    .Add({})),
        backoffs(prometheus::BuildCounter()
                     .Name("tocsin_http_accept_backoffs_total")
                     .Help("Pauses of the accept loop because the process was out of file "
                           "descriptors or memory.")
                     .Register(registry)
                     .Add({})) {}

  void Accept();
  // Full: closes the connection idle the longest (waiting for a request, none in progress), or
  // else the one stalled the longest on a header, so that neither idle keep-alive connections
  // nor trickled headers, a stranger's included, lock Prometheus out. Whether one was closed.
  bool CloseLongestIdle();
  // An error of a guard or handler that threw, at most once per interval per route.
  void LogThrow(const char* what, const std::string& pattern, const char* error) {
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    auto note = throws.Pass(fmt::format("{} {}\n{}", what, pattern, error),
                            static_cast<std::uint64_t>(now));
    if (note) spdlog::error("http: {} of {} threw: {}{}", what, pattern, error, *note);
  }
  void Count(const std::string& handler, std::string_view method, int status, double seconds) {
    if (detached) return;
    requests
        .Add({{"handler", handler},
              {"method", std::string(method)},
              {"code", std::to_string(status)}})
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
  asio::steady_timer backoff_timer;
  bool backing_off = false;  // in an episode of accept failures: logged once per episode
  std::shared_ptr<const Router> router = std::make_shared<Router>();
  std::unordered_set<Session*> sessions;
  log::RepeatLimiter throws;
  bool stopping = false;
  // Set when the Server is destroyed: sessions that outlive it (destroyed with the
  // io_context's pending handlers) must not touch metrics of a registry that may be gone.
  bool detached = false;
  void SetOpenGauge() {
    if (!detached) open_gauge.Set(static_cast<double>(sessions.size()));
  }
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
  prometheus::Gauge& open_gauge;
  prometheus::Counter& refused;
  prometheus::Counter& evicted;
  prometheus::Counter& stalled;
  prometheus::Counter& backoffs;
};

namespace {

std::string_view ReasonOf(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
}

bool ClientWentAway(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == bhttp::error::partial_message;
}

// Fields that carry a credential, what a signature covers, or who is asking: sent twice, they
// are refused (a second Host is a 400 by RFC 9112, 3.2).
bool IsCredential(std::string_view name) {
  static constexpr std::string_view kFields[] = {"Authorization",
                                                 "Cookie",
                                                 "Host",
                                                 "X-Tocsin-Actor",
                                                 "X-Tocsin-Token",
                                                 "X-Slack-Signature",
                                                 "X-Slack-Request-Timestamp",
                                                 "X-Twilio-Signature",
                                                 "X-PagerDuty-Signature",
                                                 "Content-Type"};
  return std::any_of(std::begin(kFields), std::end(kFields),
                     [&](std::string_view f) { return beast::iequals(f, name); });
}

// RFC 9112, 3.2.2: a server accepts a target in absolute form (`GET http://host/path?q`, what
// a client sends to a proxy) as the path and query it names, and takes the host from it
// instead of the Host field. Returns {origin form, authority}; any other target is returned as
// it came (with no authority), for the path check to judge.
std::pair<std::string, std::optional<std::string>> OriginForm(std::string_view target) {
  auto sep = target.find("://");
  if (target.empty() || target.front() == '/' || sep == std::string_view::npos) {
    return {std::string(target), std::nullopt};
  }
  auto scheme = target.substr(0, sep);
  if (!beast::iequals(scheme, "http") && !beast::iequals(scheme, "https")) {
    return {std::string(target), std::nullopt};
  }
  auto rest = target.substr(sep + 3);
  auto end = rest.find_first_of("/?");
  std::string authority(rest.substr(0, end));
  if (end == std::string_view::npos) return {"/", authority};
  std::string origin(rest.substr(end));
  if (origin.front() == '?') origin.insert(0, "/");
  return {origin, authority};
}

// host[:port] as RFC 3986 writes it: a name or IPv4 address, or an IPv6 literal in brackets.
// Anything else (empty, user info, a stray '#' or '\\') would be read one way here and another
// way by a proxy (RFC 9110, 4.2.1 and 4.2.4).
bool ValidAuthority(std::string_view a) {
  std::string_view host = a;
  if (auto colon = a.rfind(':'); colon != std::string_view::npos && a.find(']', colon) == a.npos) {
    auto port = a.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(std::string(port)) > 65535) {
      return false;
    }
    host = a.substr(0, colon);
  }
  if (host.empty() || host.size() > 255) return false;
  if (host.front() == '[') {
    return host.size() > 2 && host.back() == ']' &&
           std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
           });
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           c == '~';
  });
}

// Errors of accept() that say the process is out of a resource: retrying at once fails again
// and spins the loop, so accepting pauses instead.
bool OutOfResources(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors ||  // EMFILE
         ec == beast::errc::too_many_files_open_in_system || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

// Beast's string_body, except that a piece of body is appended: string_body resizes the string
// (writing zeros over it) and then copies the bytes in, so every byte of an alert batch was
// written twice. The parser has checked the length against body_limit before init. Room is
// made for at most kReserveBytes up front: a client that announces 4 MiB and sends a trickle
// holds that room and what it sent, not 4 MiB, and a larger body grows as it arrives.
struct AppendedStringBody {
  static constexpr std::uint64_t kReserveBytes = 256 * 1024;
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>& /*header*/, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length) body_.reserve(static_cast<std::size_t>(std::min(*length, kReserveBytes)));
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// One connection. Reads a request's header, routes it and runs its guard, reads the body only
// if the guard let it in, hands it to the handler, writes the answer, repeats while keep-alive
// holds. Owns itself through shared_ptr, as Beast's examples do.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    // Bytes read and not yet parsed: at most a header and a body read's room. A chunk header,
    // its extensions or a trailer line that never ends is held whole until its CRLF, and grew
    // the buffer without bound (hundreds of MB from one connection without credentials).
    buffer_.max_size(static_cast<std::size_t>(server_->options.max_header_bytes + kBodyReadRoom));
    server_->sessions.insert(this);
    server_->SetOpenGauge();
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() {
    server_->sessions.erase(this);
    server_->SetOpenGauge();
  }

  void Start() { ReadHeader(); }

  // Closes the connection if it is idle between requests (used on shutdown, and to make room
  // when the server is full).
  void CloseIfIdle() {
    if (!busy_) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }
  }
  // Waiting for a request's header since `idle_since()`; none is in progress.
  bool idle() const { return !busy_ && stream_.socket().is_open(); }
  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }
  // A slot held, not a request in progress: some bytes of a request came and the rest of its
  // header has not for `after` (a client sends a header in one write), or the body of a request
  // no token admitted (a public route's, a webhook's: anyone can send their header fields) has
  // had no byte for `after`, or is still not all there kStrangerBodyFactor times `after` after
  // its header (a click or an event is one small write; a trickle is not one). Strangers who
  // sent a header and then nothing held every slot and locked Prometheus out. Or an answer to
  // such a request that its client has taken no byte of for `after`, or not all of
  // kStrangerBodyFactor times `after` after it began: strangers who sent pipelined requests and
  // read no answer held every slot while their writes waited, for the read timeout each.
  bool Stalled(std::chrono::steady_clock::time_point now, Duration after) const {
    if (!busy_ || !stream_.socket().is_open()) return false;
    if (reading_header_) return now - idle_since_ >= after;
    if (writing_) {
      return stranger_ && (now - write_progress_ >= after ||
                           now - write_started_ >= kStrangerBodyFactor * after);
    }
    return reading_stranger_body_ &&
           (now - body_progress_ >= after || now - started_ >= kStrangerBodyFactor * after);
  }
  // When the stall began (by the rules of Stalled): the longest stalled is closed first.
  std::chrono::steady_clock::time_point stalled_since(Duration after) const {
    if (reading_header_) return idle_since_ + after;
    if (writing_) {
      return std::min(write_progress_ + after, write_started_ + kStrangerBodyFactor * after);
    }
    return std::min(body_progress_ + after, started_ + kStrangerBodyFactor * after);
  }
  void CloseStalled() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    body_limit_ = server_->options.max_body_bytes;
    parser_->body_limit(body_limit_);
    // The first request of a connection gets the read timeout; later ones the idle timeout
    // for the wait plus the read timeout once bytes arrive is more than Beast offers, so use
    // the larger of the two as a bound for the whole read.
    // Bytes of the next request already read (a pipelining client): not idle, whatever Beast
    // does with them next, and no idle wait either: the rest of its header comes within the
    // read timeout (a request and one byte of the next held a slot for the idle timeout).
    busy_ = buffer_.size() != 0;
    auto timeout = requests_served_ == 0 || busy_
                       ? server_->options.read_timeout
                       : std::max(server_->options.read_timeout, server_->options.idle_timeout);
    stream_.expires_after(timeout);
    reading_header_ = true;
    idle_since_ = std::chrono::steady_clock::now();
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  // Answers a request that could not be read; the connection closes after it.
  void RefuseUnreadable(const beast::error_code& ec) {
    int status = 400;
    std::string why = "malformed request: " + ec.message();
    if (ec == bhttp::error::body_limit) {
      status = 413;
      why = "request body larger than " + std::to_string(body_limit_) + " bytes";
    } else if (ec == bhttp::error::buffer_overflow) {
      why = "a chunk header, chunk extension or trailer field longer than " +
            std::to_string(buffer_.max_size()) + " bytes";
    } else if (ec == bhttp::error::header_limit) {
      status = 431;
      why = "request headers larger than " + std::to_string(server_->options.max_header_bytes) +
            " bytes";
    }
    keep_alive_ = false;
    Write(Response::Text(status, why + "\n"), "invalid");
  }

  void OnHeader(beast::error_code ec) {
    reading_header_ = false;
    stranger_ = true;  // until a token admits the request
    if (ClientWentAway(ec)) return Close();
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
    method_.clear();
    method_label_ = "other";
    if (ec) return RefuseUnreadable(ec);
    auto& msg = parser_->get();
    req_ = Request{};
    req_.method = std::string(msg.method_string());
    request_version_ = msg.version();
    auto [target, authority] = OriginForm(msg.target());
    req_.target = std::move(target);
    req_.remote_address = remote_;
    method_ = req_.method;
    method_label_ = MethodLabel(method_);
    if (authority && !ValidAuthority(*authority)) {
      keep_alive_ = false;
      return Write(Response::Text(400, "the request target's host \"" + *authority +
                                           "\" is not host[:port]\n"),
                   "invalid");
    }
    // RFC 9112, 3.2: an HTTP/1.1 request without Host is a 400 (a second one is refused below
    // with the other fields that must come once).
    if (auto host = msg.find(bhttp::field::host); host == msg.end()) {
      if (msg.version() >= 11) {
        keep_alive_ = false;
        return Write(Response::Text(400, "an HTTP/1.1 request needs a Host header field\n"),
                     "invalid");
      }
    } else if (!authority && !host->value().empty() && !ValidAuthority(host->value())) {
      // (With a target in absolute form, its host stands for the field: RFC 9112, 3.2.2.)
      // The panel reads it (its own address, for the session cookie's checks).
      keep_alive_ = false;
      return Write(Response::Text(400, "the Host field \"" + std::string(host->value()) +
                                           "\" is not host[:port]\n"),
                   "invalid");
    }
    // Beast reads a body only for a final `chunked` coding or a Content-Length: under
    // `Transfer-Encoding: gzip` the body would be left on the connection and read as the next
    // request, and under `gzip, chunked` the compressed bytes would be taken as the body. One
    // field saying `chunked` is accepted; every field is read (an empty one, then `gzip`, is
    // still gzip), and HTTP/1.0 has no transfer codings (RFC 9112, 6.1).
    if (auto [te_first, te_end] = msg.equal_range(bhttp::field::transfer_encoding);
        te_first != te_end) {
      std::string te;
      int fields = 0;
      for (auto it = te_first; it != te_end; ++it, ++fields) {
        te += (fields ? ", " : "") + std::string(it->value());
      }
      if (msg.version() < 11) {
        keep_alive_ = false;
        return Write(Response::Text(400,
                                    "HTTP/1.0 has no Transfer-Encoding: send the body with "
                                    "Content-Length\n"),
                     "invalid");
      }
      if (fields != 1 || !beast::iequals(TrimSpace(te), "chunked")) {
        keep_alive_ = false;
        return Write(Response::Text(501, "Transfer-Encoding \"" + te +
                                             "\" is not supported: send the body as it is, with "
                                             "Content-Length or chunked\n"),
                     "invalid");
      }
    }
    // A request answered before its body was read cannot share the connection with the next
    // one: the unread body would be taken for it.
    keep_alive_ = msg.keep_alive() && parser_->is_done();
    auto q = req_.target.find('?');
    std::string raw_path = req_.target.substr(0, q);
    if (server_->options.encoded_slash_is_separator) {
      for (auto p = raw_path.find('%'); p != std::string::npos; p = raw_path.find('%', p + 1)) {
        if (raw_path.compare(p, 3, "%2F") == 0 || raw_path.compare(p, 3, "%2f") == 0) {
          raw_path.replace(p, 3, "/");
        }
      }
    }
    if (const auto& prefix = server_->options.path_prefix; !prefix.empty()) {
      if (raw_path == prefix || raw_path == prefix + "/") {
        raw_path = "/";
      } else if (raw_path.size() > prefix.size() &&
                 raw_path.compare(0, prefix.size(), prefix) == 0 &&
                 raw_path[prefix.size()] == '/') {
        raw_path.erase(0, prefix.size());
      } else {
        return Write(Response::Text(404, "not found: this listener serves " + prefix + "/\n"),
                     "unmatched");
      }
    }
    auto path = CanonicalPath(raw_path);
    if (!path) {
      keep_alive_ = false;
      return Write(Response::Text(400, path.error().message() + "\n"), "invalid");
    }
    req_.path = std::move(*path);
    if (q != std::string::npos) req_.query = ParseFormEncoded(req_.target.substr(q + 1));
    for (const auto& field : msg) {
      auto [it, added] = req_.headers.emplace(std::string(field.name_string()), field.value());
      if (!added && IsCredential(field.name_string())) {
        // Which one counts would differ between tocsin and a proxy that checked the other.
        keep_alive_ = false;
        return Write(
            Response::Text(400, "header " + it->first + " appears more than once: send it once\n"),
            "invalid");
      }
      if (!added) it->second = std::string(field.value());  // the last one, as before
    }
    if (authority) req_.headers["Host"] = *authority;

    router_ = server_->router;  // keep the router alive until the response is written
    match_ = router_->Find(req_);
    if (match_.handler == nullptr) {
      if (match_.method_not_allowed) {
        Response r = Response::Text(405, "method not allowed\n");
        std::string allow;
        for (const auto& m : match_.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        r.headers["Allow"] = allow;
        return Write(std::move(r), "unmatched");
      }
      return Write(Response::Text(404, "not found\n"), "unmatched");
    }
    try {
      auto refused = router_->Authorize(req_, match_.access);
      if (!refused && match_.screen != nullptr) refused = (*match_.screen)(req_);
      if (refused) {
        keep_alive_ = false;  // refused: never read what it sends, close after answering
        return Write(std::move(*refused), match_.pattern);
      }
    } catch (const std::exception& e) {
      server_->LogThrow("guard", match_.pattern, e.what());
      keep_alive_ = false;
      return Write(Response::Text(500, "internal error\n"), match_.pattern);
    }
    stranger_ = match_.access == Access::kPublic || match_.access == Access::kSigned;
    if (match_.access == Access::kSigned) {
      // Beast checked Content-Length against the limit the header was read with; chunks are
      // checked against the new one as they arrive.
      body_limit_ = std::min(body_limit_, server_->options.max_signed_body_bytes);
      if (auto length = parser_->content_length(); length && *length > body_limit_) {
        return RefuseUnreadable(bhttp::error::body_limit);
      }
      parser_->body_limit(body_limit_);
    }
    if (parser_->is_done()) return Dispatch();
    keep_alive_ = msg.keep_alive();
    if (beast::iequals(req_.Header("Expect").value_or(""), "100-continue")) {
      // The client waits for this before it sends the body.
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       msg.version());
      StartWriting();  // a client that does not take it holds the slot as one that takes no answer
      return bhttp::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
            self->writing_ = false;
            if (e) return self->Close();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_->options.read_timeout);
    reading_stranger_body_ = match_.access == Access::kPublic || match_.access == Access::kSigned;
    // Beast reads at most the room the buffer has past its contents, and at least 512 bytes.
    // The parser takes the body out of the buffer as it arrives, so the buffer would never grow
    // past 512 bytes and a batch of 64 alerts (about 29 KB) would take nearly 60 reads, each a
    // recv, a completion and a timer. Room for the body (up to kBodyReadRoom) makes it a few.
    // Only a request its guard let in gets here, so no stranger makes the server reserve it.
    if (auto length = parser_->content_length(); length && *length > 512) {
      buffer_.reserve(std::min(buffer_.max_size(),
                               buffer_.size() + static_cast<std::size_t>(std::min<std::uint64_t>(
                                                    *length, kBodyReadRoom))));
    }
    body_progress_ = std::chrono::steady_clock::now();
    ReadSomeBody();
  }

  // One read of the body at a time, so that a body still arriving is told from one that
  // stopped (Stalled).
  void ReadSomeBody() {
    bhttp::async_read_some(
        stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (!ec && !self->parser_->is_done()) {
            self->body_progress_ = std::chrono::steady_clock::now();
            return self->ReadSomeBody();
          }
          self->reading_stranger_body_ = false;
          if (ClientWentAway(ec)) return self->Close();
          if (ec) return self->RefuseUnreadable(ec);
          // An idle keep-alive connection does not hold a body's room; a buffer of up to
          // kIdleBufferBytes (a header's size) stays for the next request.
          if (self->buffer_.size() == 0 && self->buffer_.capacity() > kIdleBufferBytes) {
            self->buffer_.shrink_to_fit();
          }
          self->Dispatch();
        });
  }

  void Dispatch() {
    req_.body = std::move(parser_->get().body());
    std::string pattern = match_.pattern;
    auto answered = std::make_shared<bool>(false);
    auto self = shared_from_this();
    Respond respond = [self, answered, pattern](Response r) {
      if (*answered) return;  // a handler that answers twice keeps its first answer
      *answered = true;
      self->Write(std::move(r), pattern);
    };
    try {
      (*match_.handler)(req_, respond);
    } catch (const std::exception& e) {
      server_->LogThrow("handler", pattern, e.what());
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
    for (const auto& [k, v] : server_->options.default_headers) {
      if (r.headers.find(k) == r.headers.end()) res->set(k, v);
    }
    bool keep = keep_alive_ && !server_->stopping;
    res->keep_alive(keep);
    // An HTTP/1.0 client closes unless the answer says keep-alive (1.1's default is not its).
    if (keep && request_version_ < 11) res->set(bhttp::field::connection, "keep-alive");
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
    server_->Count(handler, method_label_, r.status, secs);
    ++requests_served_;
    stream_.expires_after(server_->options.read_timeout);
    StartWriting();
    auto sr = std::make_shared<bhttp::serializer<false, bhttp::string_body>>(*res);
    WriteSome(std::move(res), std::move(sr), keep);
  }

  // Writes a response a part at a time, so that an answer its client is taking is told from one
  // it does not take (Stalled).
  void WriteSome(std::shared_ptr<bhttp::response<bhttp::string_body>> res,
                 std::shared_ptr<bhttp::serializer<false, bhttp::string_body>> sr, bool keep) {
    auto& serializer = *sr;
    bhttp::async_write_some(stream_, serializer,
                            [self = shared_from_this(), res = std::move(res), sr = std::move(sr),
                             keep](beast::error_code ec, std::size_t) mutable {
                              if (!ec && !sr->is_done()) {
                                self->write_progress_ = std::chrono::steady_clock::now();
                                return self->WriteSome(std::move(res), std::move(sr), keep);
                              }
                              self->writing_ = false;
                              if (ec || !keep) return self->Close();
                              self->ReadHeader();
                            });
  }

  void StartWriting() {
    writing_ = true;
    write_started_ = write_progress_ = std::chrono::steady_clock::now();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  static constexpr std::uint64_t kBodyReadRoom = 64 * 1024;
  static constexpr std::size_t kIdleBufferBytes = 4 * 1024;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<AppendedStringBody>> parser_;
  std::shared_ptr<Server::Impl> server_;
  std::shared_ptr<const Router> router_;
  Request req_;
  Router::Match match_;
  std::string remote_;
  std::string method_;
  std::string_view method_label_ = "other";
  bool keep_alive_ = false;
  unsigned request_version_ = 11;  // 10 for HTTP/1.0
  bool busy_ = false;
  bool reading_header_ = false;  // from ReadHeader until its header is read (or fails)
  // From ReadBody until the body is read, for a route without a token (public or signed).
  bool reading_stranger_body_ = false;
  // The request no token admitted (a public or signed route, or refused); its answer is being
  // written since write_started_.
  bool stranger_ = true;
  bool writing_ = false;
  std::chrono::steady_clock::time_point write_started_;
  std::chrono::steady_clock::time_point write_progress_;  // the latest part the client took
  std::chrono::steady_clock::time_point body_progress_;   // the body's latest bytes, or its start
  static constexpr int kStrangerBodyFactor = 5;
  std::uint64_t requests_served_ = 0;
  std::uint64_t body_limit_ = 0;  // the request's: max_body_bytes, or less for a signed route
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point idle_since_;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopping || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (self->backing_off) {
        spdlog::info("http: accepting connections again");
        self->backing_off = false;
      }
      if (self->sessions.size() >= self->options.max_connections && !self->CloseLongestIdle()) {
        // Full of requests in progress: closing at once costs nothing, and keeps the slots for
        // them.
        self->refused.Increment();
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), self)->Start();
      }
      return self->Accept();
    }
    if (OutOfResources(ec)) {
      self->backoffs.Increment();
      if (!self->backing_off) {
        self->backing_off = true;
        spdlog::error(
            "http: cannot accept connections: {} ({} open); pausing accepts for {} ms at a time "
            "until it clears (raise the file-descriptor limit, or lower server.max_connections)",
            ec.message(), self->sessions.size(), self->options.accept_backoff.count());
      }
      self->backoff_timer.expires_after(self->options.accept_backoff);
      self->backoff_timer.async_wait([self](beast::error_code e) {
        if (e || self->stopping) return;
        self->Accept();
      });
      return;
    }
    // A failure of this one connection (aborted by the peer before accept): take the next.
    spdlog::warn("http: accept failed: {}", ec.message());
    self->Accept();
  });
}

bool Server::Impl::CloseLongestIdle() {
  Session* longest = nullptr;
  for (auto* s : sessions) {
    if (s->idle() && (longest == nullptr || s->idle_since() < longest->idle_since())) longest = s;
  }
  if (longest != nullptr) {
    // Its read completes with an error and the session goes; the new one may briefly make the
    // count one over the cap.
    longest->CloseIfIdle();
    evicted.Increment();
    return true;
  }
  // None idle: a request and the first byte of the next one, sent on every slot, held them all
  // (for the idle timeout, before) while nothing was in progress; so did a header without its
  // body on a route no token guards.
  const auto now = std::chrono::steady_clock::now();
  for (auto* s : sessions) {
    if (s->Stalled(now, options.stalled_header_after) &&
        (longest == nullptr || s->stalled_since(options.stalled_header_after) <
                                   longest->stalled_since(options.stalled_header_after))) {
      longest = s;
    }
  }
  if (longest == nullptr) return false;
  longest->CloseStalled();
  stalled.Increment();
  return true;
}

Server::Server(asio::io_context& io, ServerOptions options, prometheus::Registry& registry)
    : impl_(std::make_shared<Impl>(io, std::move(options), registry)) {}

Server::~Server() {
  Stop();
  impl_->detached = true;
}

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
  impl_->backoff_timer.cancel();
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
