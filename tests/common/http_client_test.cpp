// The libcurl client against tocsin's own HTTP server on a real loopback socket.
#include "tocsin/common/http_client.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/registry.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "tocsin/common/log.h"
#include "tocsin/http/server.h"

namespace tocsin {
namespace {

TEST(CurlHttpClientTest, PostsBodyAndHeadersAndReadsResponse) {
  boost::asio::io_context io;
  prometheus::Registry registry;
  http::Server server(io, {}, registry);
  auto router = std::make_shared<http::Router>();
  router->AddSync("POST", "/echo", http::Access::kPublic, [](const http::Request& r) {
    auto res = http::Response::Json(202, r.body);
    res.headers["X-Seen-Auth"] = r.Header("Authorization").value_or("");
    res.headers["Retry-After"] = "7";
    return res;
  });
  server.SetRouter(router);
  ASSERT_TRUE(server.Start());
  std::thread loop([&] { io.run(); });

  CurlHttpClient client;
  HttpClientRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/echo";
  req.headers = {{"Authorization", "GenieKey k"}, {"Content-Type", "application/json"}};
  req.body = R"({"message":"hi"})";
  auto res = client.Send(req);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(res->body, R"({"message":"hi"})");
  EXPECT_EQ(res->Header("x-seen-auth"), "GenieKey k");
  EXPECT_EQ(res->Header("retry-after"), "7");

  io.stop();
  loop.join();
}

// A keep-alive HTTP/1.1 server on a raw loopback socket, one connection at a time, that counts
// the connections it accepted and keeps each request's head. After `close_after` responses on
// a connection it closes it without saying so (as a provider's idle timeout does). With
// `drop_request` N > 0, the first connection's Nth request is read and then the connection
// closes without an answer (the provider's idle timeout striking while the request travels).
class CountingServer {
 public:
  explicit CountingServer(int close_after, int drop_request = 0)
      : close_after_(close_after), drop_request_(drop_request) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    EXPECT_EQ(::bind(listener_, sa, len), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    EXPECT_EQ(::getsockname(listener_, sa, &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CountingServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  CountingServer(const CountingServer&) = delete;
  CountingServer& operator=(const CountingServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/enqueue"; }
  int connections() const { return connections_.load(); }
  std::vector<std::string> heads() const {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  void Serve() {
    for (;;) {
      int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      const bool first_connection = ++connections_ == 1;
      std::string buffer;
      int answered = 0;
      char chunk[4096];
      while (answered < close_after_) {
        auto end = buffer.find("\r\n\r\n");
        if (end == std::string::npos) {
          auto n = ::read(c, chunk, sizeof chunk);
          if (n <= 0) break;
          buffer.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        std::string head = buffer.substr(0, end);
        std::size_t length = 0;
        if (auto at = head.find("Content-Length: "); at != std::string::npos)
          length = std::stoul(head.substr(at + 16));
        if (buffer.size() < end + 4 + length) {
          auto n = ::read(c, chunk, sizeof chunk);
          if (n <= 0) break;
          buffer.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        buffer.erase(0, end + 4 + length);
        {
          std::lock_guard lock(mu_);
          heads_.push_back(head);
        }
        if (first_connection && answered + 1 == drop_request_) break;
        std::string_view answer = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
        EXPECT_EQ(::write(c, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
        ++answered;
      }
      ::close(c);
    }
  }

  int close_after_;
  int drop_request_;
  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::thread thread_;
};

HttpClientRequest PostTo(const std::string& url) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = R"({"event_action":"trigger"})";
  req.timeout = std::chrono::seconds(5);
  return req;
}

// The network sockets (TCP, not libcurl's internal socketpair) of this process that a child
// process would inherit: a kept connection must not live on in a child (a test's daemon, a
// hook) after this process is done with it.
std::vector<std::string> InheritableSockets() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (ec || target.string().rfind("socket:", 0) != 0) continue;
    int fd = std::stoi(entry.path().filename().string());
    int domain = 0;
    socklen_t size = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 ||
        (domain != AF_INET && domain != AF_INET6)) {
      continue;
    }
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) out.push_back(target.string());
  }
  return out;
}

// Pages to one provider share its connection (no new TCP or TLS handshake per page), and
// nothing of one request (its headers, credentials, method or body) rides along with the next.
TEST(CurlHttpClientTest, KeepsTheConnectionAndNothingOfTheLastRequest) {
  CountingServer server(/*close_after=*/100);
  CurlHttpClient client;
  auto first = PostTo(server.url());
  first.headers.emplace_back("Authorization", "Token token=first-secret");
  first.basic_user = "user";
  first.basic_password = "pass";
  HttpClientRequest get;
  get.url = server.url();
  for (const auto& req : {first, PostTo(server.url()), PostTo(server.url()), get}) {
    auto res = client.Send(req);
    ASSERT_TRUE(res) << res.error().message();
    EXPECT_EQ(res->status, 202);
  }
  EXPECT_EQ(server.connections(), 1);
  auto heads = server.heads();
  ASSERT_EQ(heads.size(), 4U);
  EXPECT_NE(heads[0].find("first-secret"), std::string::npos) << heads[0];
  for (std::size_t i = 1; i < heads.size(); ++i) {
    EXPECT_EQ(heads[i].find("Authorization"), std::string::npos) << heads[i];
  }
  EXPECT_EQ(heads[3].rfind("GET /enqueue ", 0), 0U) << heads[3];
  EXPECT_EQ(heads[3].find("Content-Length"), std::string::npos) << heads[3];
  EXPECT_THAT(InheritableSockets(), ::testing::IsEmpty());
}

// The peer closes a kept connection after the request reached it and before answering: libcurl
// sends the request again on a new connection and returns that answer. The provider saw it
// twice, with the same idempotency key: the at-least-once case docs/notifications.md names.
TEST(CurlHttpClientTest, ARequestTheKeptConnectionLostUnansweredIsSentAgainOnANewOne) {
  CountingServer server(/*close_after=*/100, /*drop_request=*/2);
  CurlHttpClient client;
  for (int i = 0; i < 2; ++i) {
    auto res = client.Send(PostTo(server.url()));
    ASSERT_TRUE(res) << "request " << i << ": " << res.error().message();
    EXPECT_EQ(res->status, 202);
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.heads().size(), 3U);
}

// A kept connection the provider closed meanwhile costs nothing: the next request connects
// anew and is answered.
TEST(CurlHttpClientTest, AConnectionThePeerClosedIsReplacedByANewOne) {
  CountingServer server(/*close_after=*/1);
  CurlHttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto res = client.Send(PostTo(server.url()));
    ASSERT_TRUE(res) << "request " << i << ": " << res.error().message();
    EXPECT_EQ(res->status, 202);
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.heads().size(), 3U);
}

// The error of a request to `url`, which cannot succeed.
Error FailedSend(const std::string& url) {
  CurlHttpClient client;
  HttpClientRequest req;
  req.url = url;
  req.timeout = std::chrono::seconds(2);
  auto res = client.Send(req);
  EXPECT_FALSE(res);
  return res ? Error::Invalid("the request succeeded") : res.error();
}

TEST(CurlHttpClientTest, ConnectionFailureIsTransientAndHidesCredentials) {
  log::AddSecret("hunter2-password");
  Error e = FailedSend("http://user:hunter2-password@127.0.0.1:1/api?token=zzz");
  EXPECT_EQ(e.kind(), Error::Kind::kTransient);
  EXPECT_EQ(e.message().find("hunter2"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("zzz"), std::string::npos) << e.message();
  // What is left says where the request went.
  EXPECT_NE(e.message().find("GET http://127.0.0.1:1/api: "), std::string::npos) << e.message();
  log::ClearSecrets();
}

TEST(CurlHttpClientTest, UnparseableUrlIsNotEchoed) {
  Error e = FailedSend("http://[not-a-host/secret-path");
  EXPECT_EQ(e.message().find("secret-path"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("(unparseable URL)"), std::string::npos) << e.message();
}

// runbooks.base_url written with or without its trailing slash gives the same link; an
// absolute link is kept as it is, and no base leaves the path alone.
TEST(UrlUnderTest, OneSlashBetweenBaseAndPathWhateverEitherBrings) {
  EXPECT_EQ(UrlUnder("https://git.example.com/runbooks", "psp.md"),
            "https://git.example.com/runbooks/psp.md");
  EXPECT_EQ(UrlUnder("https://git.example.com/runbooks/", "psp.md"),
            "https://git.example.com/runbooks/psp.md");
  EXPECT_EQ(UrlUnder("https://git.example.com/runbooks/", "/psp.md"),
            "https://git.example.com/runbooks/psp.md");
  EXPECT_EQ(UrlUnder("https://git.example.com/runbooks", "https://wiki.example/psp"),
            "https://wiki.example/psp");
  EXPECT_EQ(UrlUnder("", "psp.md"), "psp.md");
  // A file whose name merely starts with "http" is a file, not a link.
  EXPECT_EQ(UrlUnder("https://x.example/rb", "http-errors.md"),
            "https://x.example/rb/http-errors.md");
  EXPECT_TRUE(IsAbsoluteHttpUrl("http://a"));
  EXPECT_TRUE(IsAbsoluteHttpUrl("https://a"));
  EXPECT_FALSE(IsAbsoluteHttpUrl("httpx://a"));
  EXPECT_FALSE(IsAbsoluteHttpUrl("ftp://a"));
}

TEST(UrlEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UrlEncode("a b/c?d=e&f+g%"), "a%20b%2Fc%3Fd%3De%26f%2Bg%25");
  EXPECT_EQ(UrlEncode("Köln"), "K%C3%B6ln");
  EXPECT_EQ(UrlEncode(std::string("\0\x7f", 2)), "%00%7F");
  EXPECT_EQ(UrlEncode(""), "");
}

TEST(FormEncodeTest, EncodesReservedCharacters) {
  EXPECT_EQ(FormEncode({{"query", "sum(rate(x[5m])) > 0.3"}, {"time", "1.5"}}),
            "query=sum%28rate%28x%5B5m%5D%29%29%20%3E%200.3&time=1.5");
}

}  // namespace
}  // namespace tocsin
