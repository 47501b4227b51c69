#pragma once

#include <prometheus/registry.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tocsin/common/http_client.h"
#include "tocsin/http/router.h"
#include "tocsin/http/server.h"

namespace tocsin::testing {

// tocsin's real HTTP server on 127.0.0.1 and a free port, serving `router` from its own loop
// thread, for handler tests that talk HTTP to it. Stopped and joined on destruction. Handlers
// run on the loop thread; the test thread only sends requests, as a client does.
class LoopbackServer {
 public:
  LoopbackServer(std::shared_ptr<http::Router> router, prometheus::Registry& registry,
                 http::ServerOptions options = {})
      : server_(io_, options, registry) {
    server_.SetRouter(std::move(router));
    started_ = static_cast<bool>(server_.Start());
    loop_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~LoopbackServer() {
    boost::asio::post(io_, [this] { server_.Stop(); });
    io_.stop();
    loop_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  bool started() const { return started_; }
  unsigned short port() const { return server_.port(); }
  // The loop the server runs on, for handlers that answer from a later turn of it.
  boost::asio::io_context& io() { return io_; }
  // Runs `fn` on the loop thread and waits for it: how a test touches what the handlers own
  // (advancing the simulated clock, say) without racing them.
  void RunOnLoop(const std::function<void()>& fn) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  // One request to `path` on this server through `client` (a JSON body gets its content
  // type); a transport failure fails the test and answers an empty response.
  HttpClientResponse Call(HttpClient& client, const std::string& method, const std::string& path,
                          const std::string& body = {}) {
    HttpClientRequest req;
    req.method = method;
    req.url = url() + path;
    req.body = body;
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    auto r = client.Send(req);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : HttpClientResponse{};
  }

 private:
  boost::asio::io_context io_;
  http::Server server_;
  bool started_ = false;
  std::thread loop_;
};

}  // namespace tocsin::testing
