// tocsin-sli-exporter: a casino SLI exporter for Prometheus, with fault injection over HTTP.
#include <fmt/format.h>
#include <prometheus/text_serializer.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sli_simulator.h"
#include "tocsin/config/config.h"
#include "tocsin/http/router.h"
#include "tocsin/http/server.h"

namespace {

const char* kHelp = R"(Serves simulated casino SLIs for Prometheus at GET /metrics:
  casino_login_requests_total{outcome}            casino_deposit_requests_total{psp,market,outcome}
  casino_psp_requests_total{psp,outcome}          casino_game_launch_requests_total{provider,outcome}
  casino_ws_rtt_seconds{region} (histogram)       casino_ttfs_seconds{provider} (histogram)
  casino_provider_launch_latency_seconds{provider} (histogram)
  casino_db_connections_in_use{pool} / casino_db_connections_max{pool}   casino_queue_lag_seconds{queue}
PSPs PSP-A, PSP-B; markets DE, UK; regions eu, apac; providers spinco, livetables.

Faults (form or query parameters):
  POST /fault?deposit_error_ratio=0.5&psp=PSP-A      deposits of PSP-A fail 50 % (add &market=DE
                                                     with psp for one market only)
  POST /fault?ws_rtt_ms=250&region=apac              WebSocket RTT around 250 ms in apac
  POST /fault?login_error_ratio=0.01                 other faults: psp_timeout_ratio (psp=),
                                                     game_launch_error_ratio, ttfs_ms,
                                                     provider_latency_ms (provider=),
                                                     db_saturation (0..1), queue_lag_s
  GET /fault                                         current faults
  DELETE /fault  (or POST /reset)                    back to healthy
Example: curl -X POST 'http://127.0.0.1:9700/fault?deposit_error_ratio=0.3&psp=PSP-A'
)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tocsin-sli-exporter: casino SLI metrics with fault injection"};
  app.footer(kHelp);
  std::string listen = "127.0.0.1:9700";
  int tick_ms = 100;
  app.add_option("--listen", listen, "host:port to serve on")->default_val(listen);
  app.add_option("--tick-ms", tick_ms, "Simulated traffic is recorded every N ms")
      ->default_val(tick_ms)
      ->check(CLI::Range(10, 10000));
  CLI11_PARSE(app, argc, argv);

  tocsin::http::ServerOptions opts;
  std::string err;
  if (!tocsin::config::ParseListenAddress(listen, &opts.host, &opts.port, &err)) {
    fmt::print(stderr, "tocsin-sli-exporter: {}\n", err);
    return 2;
  }
  boost::asio::io_context io(1);
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Registry server_registry;  // the server's own metrics stay off /metrics
  tocsin::fakes::SliSimulator sim(*registry);

  auto router = std::make_shared<tocsin::http::Router>();
  router->AddSync("GET", "/metrics", tocsin::http::Access::kPublic,
                  [registry](const tocsin::http::Request&) {
                    tocsin::http::Response r;
                    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                    r.body = prometheus::TextSerializer().Serialize(registry->Collect());
                    return r;
                  });
  auto set_fault = [&sim](const tocsin::http::Request& req) {
    auto params = req.query;
    for (auto& p : tocsin::http::ParseFormEncoded(req.body)) params.push_back(p);
    std::string scope, market;
    for (const auto& [k, v] : params) {
      if (k == "psp" || k == "region" || k == "provider") scope = v;
      if (k == "market") market = v;
    }
    if (!market.empty()) scope += "/" + market;
    int applied = 0;
    for (const auto& [k, v] : params) {
      if (k == "psp" || k == "region" || k == "provider" || k == "market") continue;
      char* end = nullptr;
      double value = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0') {
        return tocsin::http::Response::Text(400, "fault " + k + ": not a number\n");
      }
      if (auto e = sim.SetFault(k, value, scope); !e.empty()) {
        return tocsin::http::Response::Text(400, e + "\n");
      }
      ++applied;
    }
    if (applied == 0) return tocsin::http::Response::Text(400, "no fault given; see --help\n");
    return tocsin::http::Response::Text(200, sim.Describe());
  };
  router->AddSync("POST", "/fault", tocsin::http::Access::kPublic, set_fault);
  router->AddSync("GET", "/fault", tocsin::http::Access::kPublic,
                  [&sim](const tocsin::http::Request&) {
                    return tocsin::http::Response::Text(200, sim.Describe());
                  });
  auto reset = [&sim](const tocsin::http::Request&) {
    sim.Reset();
    return tocsin::http::Response::Text(200, sim.Describe());
  };
  router->AddSync("DELETE", "/fault", tocsin::http::Access::kPublic, reset);
  router->AddSync("POST", "/reset", tocsin::http::Access::kPublic, reset);

  tocsin::http::Server server(io, opts, server_registry);
  server.SetRouter(router);
  if (auto started = server.Start(); !started) {
    fmt::print(stderr, "tocsin-sli-exporter: {}\n", started.error().message());
    return 2;
  }
  fmt::print("tocsin-sli-exporter listening on {}:{}\n", opts.host, server.port());
  std::fflush(stdout);

  boost::asio::steady_timer timer(io);
  std::function<void()> schedule = [&] {
    timer.expires_after(std::chrono::milliseconds(tick_ms));
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      sim.Tick();
      schedule();
    });
  };
  schedule();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });
  io.run();
  return 0;
}
