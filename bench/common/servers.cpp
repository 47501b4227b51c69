// The servers under test, started as real processes (tests/support's Process). Kept apart from
// bench_support.cpp so that programs without the test support (bench_eval) link without it.
#include <signal.h>

#include <fmt/format.h>
#include <filesystem>
#include <fstream>

#include "bench_support.h"
#include "support/process.h"

namespace tocsin::bench {

Server::Server() = default;
Server::~Server() = default;
Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;

pid_t Server::pid() const { return process ? process->pid() : -1; }

void Server::Stop(int signo) {
  if (!process) return;
  process->Signal(signo);
  process->Wait(std::chrono::seconds(15));
  process.reset();
}

Server StartTocsin(const std::string& binary, const std::string& config,
                   const std::string& data_dir, const std::string& log, unsigned short port,
                   std::chrono::milliseconds timeout) {
  Server s;
  s.port = port != 0 ? port : testing::FreePort();
  s.process = std::make_unique<testing::Process>(
      std::vector<std::string>{binary, "serve", "--config", config, "--listen",
                               "127.0.0.1:" + std::to_string(s.port), "--data-dir", data_dir},
      std::vector<std::string>{}, log);
  if (!WaitReady(s.port, "/readyz", timeout)) {
    fmt::print(stderr, "tocsin did not get ready:\n{}", Tail(log));
    s.process.reset();
  }
  return s;
}

Server StartAlertmanager(const std::string& binary, const std::string& dir,
                         const std::string& config_text) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(dir) / "data");
  std::string config = (fs::path(dir) / "alertmanager.yml").string();
  std::string log = (fs::path(dir) / "alertmanager.log").string();
  std::ofstream(config) << config_text;
  Server s;
  s.port = testing::FreePort();
  s.process = std::make_unique<testing::Process>(
      std::vector<std::string>{binary, "--config.file=" + config,
                               "--storage.path=" + (fs::path(dir) / "data").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(s.port),
                               "--cluster.listen-address=", "--log.level=warn"},
      std::vector<std::string>{}, log);
  if (!WaitReady(s.port, "/-/ready")) {
    fmt::print(stderr, "alertmanager did not get ready:\n{}", Tail(log));
    s.process.reset();
  }
  return s;
}

}  // namespace tocsin::bench
