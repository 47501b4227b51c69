#pragma once

#include <memory>
#include <string>
#include <thread>

#include <prometheus/registry.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "provider_sim.h"
#include "smtp_sink.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/http/server.h"

namespace tocsin::notify::testing {

// The provider simulator in this process, on its own loop thread, on ephemeral ports.
class SimServer {
 public:
  // As Opsgenie does, the simulator takes aliases with an encoded '/' in the path.
  static http::ServerOptions SimOptions() {
    http::ServerOptions o;
    o.encoded_slash_is_separator = true;
    return o;
  }
  SimServer() : sim_(io_), server_(io_, SimOptions(), registry_) {
    server_.SetRouter(sim_.BuildRouter());
    (void)server_.Start();
    smtp_ = std::make_unique<sim::SmtpSink>(sim_, "127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SimServer() {
    boost::asio::post(io_, [this] { server_.Stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  unsigned short smtp_port() const { return smtp_->port(); }

  // Over HTTP, as any test or person would.
  void Fault(const nlohmann::json& fault) { Call("POST", "/_sim/faults", fault.dump()); }
  void Reset() {
    Call("DELETE", "/_sim/faults", "");
    Call("DELETE", "/_sim/requests", "");
  }
  nlohmann::json Requests(const std::string& path) {
    return nlohmann::json::parse(Call("GET", "/_sim/requests?path=" + UrlEncode(path), ""));
  }
  std::string Call(const std::string& method, const std::string& path, const std::string& body) {
    HttpClientRequest r;
    r.method = method;
    r.url = url() + path;
    r.body = body;
    auto res = client_.Send(r);
    return res ? res->body : "";
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  prometheus::Registry registry_;
  sim::ProviderSim sim_;
  http::Server server_;
  std::unique_ptr<sim::SmtpSink> smtp_;
  std::thread thread_;
  CurlHttpClient client_;
};

// The simulator as PagerDuty and Slack (with a bot token, channel #incidents), and as Opsgenie
// when `opsgenie`.
inline config::ProvidersConfig SimProviders(const std::string& url, bool opsgenie) {
  config::ProvidersConfig p;
  p.pagerduty = config::PagerDutyConfig{url, "0123456789abcdef0123456789abcdef", ""};
  if (opsgenie) p.opsgenie = config::OpsgenieConfig{url, "genie-key", "", ""};
  config::SlackConfig slack;
  slack.api_url = url;
  slack.bot_token = "xoxb-token";
  slack.channel = "#incidents";
  p.slack = slack;
  return p;
}

}  // namespace tocsin::notify::testing
