// The libcurl client against tocsin's own HTTP server on a real loopback socket.
#include "tocsin/common/http_client.h"

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <boost/asio/io_context.hpp>
#include <thread>

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
