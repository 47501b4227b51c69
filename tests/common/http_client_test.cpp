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

TEST(CurlHttpClientTest, ConnectionFailureIsTransientAndHidesCredentials) {
  log::AddSecret("hunter2-password");
  CurlHttpClient client;
  HttpClientRequest req;
  req.url = "http://user:hunter2-password@127.0.0.1:1/api?token=zzz";
  req.timeout = std::chrono::seconds(2);
  auto res = client.Send(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind(), Error::Kind::kTransient);
  EXPECT_EQ(res.error().message().find("hunter2"), std::string::npos) << res.error().message();
  EXPECT_EQ(res.error().message().find("zzz"), std::string::npos) << res.error().message();
  log::ClearSecrets();
}

TEST(FormEncodeTest, EncodesReservedCharacters) {
  EXPECT_EQ(FormEncode({{"query", "sum(rate(x[5m])) > 0.3"}, {"time", "1.5"}}),
            "query=sum%28rate%28x%5B5m%5D%29%29%20%3E%200.3&time=1.5");
}

}  // namespace
}  // namespace tocsin
