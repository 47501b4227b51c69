// tocsin-provider-sim: PagerDuty, Opsgenie, Slack, webhook and SMTP stand-ins for tests and
// for the live demo. See docs/notifications.md ("The provider simulator").
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "provider_sim.h"
#include "smtp_sink.h"
#include "tocsin/config/config.h"
#include "tocsin/http/server.h"

int main(int argc, char** argv) {
  CLI::App cli{
      "tocsin-provider-sim: speaks PagerDuty Events v2 (/v2/enqueue), Opsgenie (/v2/alerts, "
      "ack/close/notes by alias, /v2/alerts/requests/{id}, /v2/heartbeats/{name}/ping), Slack "
      "(/api/chat.postMessage, /api/chat.update, incoming webhooks under /services/..., "
      "response_url under /slack/response/...), a generic webhook receiver (/webhook/...) and "
      "SMTP. Test API: GET|DELETE /_sim/requests?path=PREFIX, POST|DELETE /_sim/faults "
      "{path,status,retry_after,latency_ms,drop,count,skip}, POST /_sim/send-webhook "
      "{url,kind:pagerduty|opsgenie|slack,secret,body}."};
  std::string listen = "127.0.0.1:0";
  std::string smtp_listen = "127.0.0.1:0";
  std::string port_file;
  cli.add_option("--listen", listen, "HTTP address host:port (port 0 picks a free one)");
  cli.add_option("--smtp-listen", smtp_listen, "SMTP address host:port, or 'off'");
  cli.add_option("--port-file", port_file,
                 "write the HTTP port (line 1) and SMTP port (line 2) here once listening");
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_pattern("%H:%M:%S.%e sim %v");

  tocsin::http::ServerOptions opts;
  opts.encoded_slash_is_separator = true;  // Opsgenie aliases with "/" come encoded
  std::string err;
  if (!tocsin::config::ParseListenAddress(listen, &opts.host, &opts.port, &err)) {
    std::fprintf(stderr, "--listen: %s\n", err.c_str());
    return 2;
  }
  boost::asio::io_context io;
  prometheus::Registry registry;
  tocsin::sim::ProviderSim sim(io);
  tocsin::http::Server server(io, opts, registry);
  server.SetRouter(sim.BuildRouter());
  if (auto started = server.Start(); !started) {
    std::fprintf(stderr, "cannot listen on %s: %s\n", listen.c_str(),
                 started.error().message().c_str());
    return 2;
  }
  std::unique_ptr<tocsin::sim::SmtpSink> smtp;
  if (smtp_listen != "off") {
    std::string host;
    unsigned short port = 0;
    if (!tocsin::config::ParseListenAddress(smtp_listen, &host, &port, &err)) {
      std::fprintf(stderr, "--smtp-listen: %s\n", err.c_str());
      return 2;
    }
    smtp = std::make_unique<tocsin::sim::SmtpSink>(sim, host, port);
  }
  spdlog::info("listening on http://{}:{} (smtp {})", opts.host, server.port(),
               smtp ? std::to_string(smtp->port()) : "off");
  if (!port_file.empty()) {
    // Written whole then renamed, so a reader never sees half a file.
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n" << (smtp ? smtp->port() : 0) << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });
  io.run();
  return 0;
}
