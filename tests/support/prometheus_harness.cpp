#include "support/prometheus_harness.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tocsin/common/http_client.h"

namespace tocsin::testing {

PrometheusHarness::PrometheusHarness(Options options) : options_(std::move(options)) {}

PrometheusHarness::~PrometheusHarness() { Stop(); }

std::string PrometheusHarness::Binary() {
  const char* env = std::getenv("TOCSIN_PROMETHEUS");
  return env != nullptr ? env : "/usr/bin/prometheus";
}

bool PrometheusHarness::Start(std::string* error) {
  port_ = FreePort();
  std::string cfg = options_.work_dir + "/prometheus.yml";
  {
    std::ofstream out(cfg);
    out << "global:\n  scrape_interval: " << options_.scrape_interval
        << "\n  evaluation_interval: " << options_.evaluation_interval << "\n";
    if (!options_.rule_files.empty()) {
      out << "rule_files:\n";
      for (const auto& f : options_.rule_files) out << "  - " << f << "\n";
    }
    if (!options_.alertmanager_targets.empty()) {
      out << "alerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n"
             "        - targets: [";
      for (std::size_t i = 0; i < options_.alertmanager_targets.size(); ++i) {
        out << (i ? ", " : "") << "'" << options_.alertmanager_targets[i] << "'";
      }
      out << "]\n";
    }
    out << "scrape_configs:\n  - job_name: sli\n    static_configs:\n      - targets: [";
    for (std::size_t i = 0; i < options_.scrape_targets.size(); ++i) {
      out << (i ? ", " : "") << "'" << options_.scrape_targets[i] << "'";
    }
    out << "]\n";
  }
  std::filesystem::create_directories(options_.work_dir + "/prometheus-data");
  if (!options_.backfill_openmetrics.empty()) {
    // One block for the whole span: promtool's default 2 h blocks take minutes to write.
    auto r = RunCommand({"promtool", "tsdb", "create-blocks-from", "openmetrics",
                         "--max-block-duration=1000h", "--quiet", options_.backfill_openmetrics,
                         options_.work_dir + "/prometheus-data"});
    if (r.exit_code != 0) {
      if (error != nullptr) *error = "promtool could not backfill: " + r.out + r.err;
      return false;
    }
    // The history may be months old by the wall clock; the default 15 d retention would drop it.
    options_.extra_args.push_back("--storage.tsdb.retention.time=100y");
  }
  std::vector<std::string> argv{Binary(), "--config.file=" + cfg,
                                "--storage.tsdb.path=" + options_.work_dir + "/prometheus-data",
                                "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                "--log.level=warn"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = std::make_unique<Process>(argv, std::vector<std::string>{}, log_path());
  CurlHttpClient client;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) break;
    HttpClientRequest req;
    req.url = url() + "/-/ready";
    req.timeout = std::chrono::seconds(1);
    auto r = client.Send(req);
    if (r && r->status == 200) return true;
    // Waiting for another process to come up; there is no simulated time to advance here.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (error != nullptr) *error = "prometheus did not become ready; see " + log_path();
  return false;
}

bool PrometheusHarness::WaitForTargetsUp(std::size_t n, std::chrono::milliseconds timeout) {
  CurlHttpClient client;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpClientRequest req;
    req.method = "POST";
    req.url = url() + "/api/v1/query";
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = FormEncode({{"query", "count(up == 1)"}});
    auto r = client.Send(req);
    if (r && r->status == 200) {
      auto pos = r->body.find("\"value\":[");
      if (pos != std::string::npos) {
        auto q = r->body.find(",\"", pos);
        auto end = r->body.find('"', q + 2);
        if (q != std::string::npos && end != std::string::npos &&
            std::stoul(r->body.substr(q + 2, end - q - 2)) >= n) {
          return true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

void PrometheusHarness::Stop() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(10))) {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(5));
  }
  process_.reset();
}

}  // namespace tocsin::testing
