// Alert ingest and alert listing, tocsin against the real Alertmanager (Debian
// prometheus-alertmanager), one after the other on the same machine with the same load:
// a burst of alerts over many distinct label sets, posted in batches by several threads on
// keep-alive connections. tocsin runs the SHIPPED config (config/tocsin.yaml with its rules,
// roster and runbooks, copied to a temp dir) behind the same API guard a user has: Prometheus
// authenticates with a bearer token (an `api.tokens` entry appended to the copy). Alertmanager
// gets the same grouping and inhibition rules. A 503 (intake queue full) is sent again after
// 100 ms, as a sender honouring Retry-After would, and counted. Prints alerts/s accepted, p99 POST
// latency and peak RSS (VmHWM) for both and the ratios, then times GET /api/v2/alerts with every
// alert active. Not a CTest test: run it by hand.
//
//   alertmanager_bench [--alerts 100000] [--batch 64] [--threads 4] [--get-timeout 60]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
using tocsin::testing::Process;

struct Options {
  int alerts = 100000;
  int batch = 64;  // Prometheus' default max batch size
  int threads = 4;
  int get_timeout_s = 60;
  std::string alertmanager = "/usr/bin/prometheus-alertmanager";
  std::string tocsin = TOCSIN_BINARY;
  std::string source_dir = TOCSIN_SOURCE_DIR;  // config/, rules/, runbooks/ come from here
};

// Prometheus' bearer token for the run, and its SHA-256 as `api.tokens[].sha256` wants it.
constexpr const char* kToken = "tocsin-bench-prometheus-token";
constexpr const char* kTokenSha256 =
    "23050877a4c76e9851be42d888eb12fc745395511583965f9e3975adcfb2ec6e";

// One keep-alive HTTP/1.1 connection on raw sockets: the load generator must cost far less
// than the servers it measures, so no client library, no per-request allocation beyond the
// response buffer.
class Connection {
 public:
  explicit Connection(unsigned short port, int timeout_s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // Sends a request and reads one response; returns the status (0 on failure).
  int Exchange(const std::string& request, std::string* body = nullptr) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      sent += static_cast<std::size_t>(n);
    }
    buf_.clear();
    std::size_t header_end = std::string::npos;
    char chunk[65536];
    while (header_end == std::string::npos) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return 0;
      buf_.append(chunk, static_cast<std::size_t>(n));
      header_end = buf_.find("\r\n\r\n");
    }
    int status = std::atoi(buf_.c_str() + 9);
    std::size_t length = 0;
    std::string lower = buf_.substr(0, header_end);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto cl = lower.find("content-length:");
    if (cl != std::string::npos) length = std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
    bool chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
    std::size_t want = header_end + 4 + length;
    while (chunked ? buf_.find("\r\n0\r\n\r\n", header_end) == std::string::npos
                   : buf_.size() < want) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return 0;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
    if (body) *body = buf_.substr(header_end + 4);
    return status;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string Post(const std::string& path, const std::string& body) {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{}",
      path, kToken, body.size(), body);
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char out[32];
  std::strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// Distinct label sets: 50 alert names x 100 services x 5 regions x unique instance; a
// RegionDown source per region makes the inhibition rule do work for every warning.
std::vector<std::string> Batches(const Options& o) {
  auto now = std::chrono::system_clock::now();
  std::string starts = Rfc3339(now), ends = Rfc3339(now + std::chrono::hours(2));
  std::vector<std::string> out;
  std::string body;
  int in_batch = 0;
  for (int i = 0; i < o.alerts; ++i) {
    std::string alert;
    if (i < 5) {
      alert = fmt::format(
          R"({{"labels":{{"alertname":"RegionDown","region":"r{}","severity":"critical"}},)"
          R"("annotations":{{"summary":"region down"}},"startsAt":"{}","endsAt":"{}",)"
          R"("generatorURL":"http://prometheus:9090/graph?g0.expr=up"}})",
          i, starts, ends);
    } else {
      alert = fmt::format(
          R"({{"labels":{{"alertname":"Alert{}","service":"svc{}","region":"r{}",)"
          R"("instance":"10.{}.{}.{}:9100","severity":"{}","job":"node"}},)"
          R"("annotations":{{"summary":"Deposit success 97.2 % (SLO 99.85 %) on {}",)"
          R"("runbook":"deposit-psp"}},"startsAt":"{}","endsAt":"{}",)"
          R"("generatorURL":"http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29"}})",
          i % 50, i % 100, i % 5, (i >> 16) & 255, (i >> 8) & 255, i & 255,
          i % 10 == 0 ? "critical" : "warning", i, starts, ends);
    }
    body += in_batch ? "," : "[";
    body += alert;
    if (++in_batch == o.batch || i == o.alerts - 1) {
      body += "]";
      out.push_back(Post("/api/v2/alerts", body));
      body.clear();
      in_batch = 0;
    }
  }
  return out;
}

long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

struct Result {
  std::string name;
  double alerts_per_s = 0;
  double p99_ms = 0;
  long rss_kb = 0;            // VmHWM after the burst
  long rss_after_get_kb = 0;  // VmHWM after GET /api/v2/alerts as well
  int failed = 0;
  int retried = 0;              // 503 + Retry-After answers, sent again
  std::optional<double> get_s;  // nullopt: no answer within the timeout
  std::size_t get_bytes = 0;
};

Result Measure(const std::string& name, unsigned short port, pid_t pid, const Options& o,
               const std::vector<std::string>& batches) {
  Result r;
  r.name = name;
  std::atomic<std::size_t> next{0};
  std::atomic<int> failed{0};
  std::atomic<int> retried{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(o.threads));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      Connection c(port, 120);
      if (!c.ok()) {
        failed += 1;
        return;
      }
      for (std::size_t i = next++; i < batches.size(); i = next++) {
        auto t0 = Clock::now();
        int status = c.Exchange(batches[i]);
        // Back-pressure: the alerts come again (Prometheus' next re-send); here the same batch,
        // a bounded number of times.
        for (int again = 0; status == 503 && again < 100; ++again) {
          retried += 1;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          status = c.Exchange(batches[i]);
        }
        latencies[static_cast<std::size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (status / 100 != 2) failed += 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  r.alerts_per_s = o.alerts / seconds;
  r.p99_ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.failed = failed;
  r.retried = retried;

  r.rss_kb = PeakRssKb(pid);
  Connection c(port, o.get_timeout_s);
  std::string body;
  auto g0 = Clock::now();
  int status = c.ok() ? c.Exchange(fmt::format("GET /api/v2/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                               "Authorization: Bearer {}\r\n\r\n",
                                               kToken),
                                   &body)
                      : 0;
  if (status == 200) {
    r.get_s = std::chrono::duration<double>(Clock::now() - g0).count();
    r.get_bytes = body.size();
  }
  r.rss_after_get_kb = PeakRssKb(pid);
  return r;
}

bool WaitReady(unsigned short port, const std::string& path) {
  for (int i = 0; i < 300; ++i) {
    Connection c(port, 2);
    if (c.ok() &&
        c.Exchange(fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path)) == 200) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Alertmanager with the shipped config's grouping and inhibition rules (its receivers do not
// exist in Alertmanager; one that sends nothing stands for them).
const char* kAlertmanagerConfig = R"(route:
  receiver: blackhole
  group_by: [alertname, service, region]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity=~"warning|critical"']
    equal: [region]
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, service, region]
)";

// The shipped config and what it reads, laid out as in the source tree; plus the token a
// user's Prometheus posts with. Its budget is raised above the burst's request rate: alert
// intake must not be throttled like a person.
std::string ShippedConfig(const Options& o, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (const char* sub : {"config", "rules", "runbooks"}) {
    fs::copy(fs::path(o.source_dir) / sub, fs::path(dir) / sub, fs::copy_options::recursive);
  }
  std::string path = dir + "/config/tocsin.yaml";
  std::ofstream(path, std::ios::app) << fmt::format(
      "\n# Added by alertmanager_bench: the token Prometheus posts alerts with.\n"
      "api:\n  tokens:\n    - name: prometheus\n      sha256: {}\n      role: responder\n"
      "      requests_per_minute: 100000\n",
      kTokenSha256);
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--alerts")
      o.alerts = std::stoi(v);
    else if (k == "--batch")
      o.batch = std::stoi(v);
    else if (k == "--threads")
      o.threads = std::stoi(v);
    else if (k == "--get-timeout")
      o.get_timeout_s = std::stoi(v);
    else if (k == "--alertmanager")
      o.alertmanager = v;
    else if (k == "--tocsin")
      o.tocsin = v;
    else if (k == "--source-dir")
      o.source_dir = v;
    else {
      fmt::print(stderr, "unknown option {}\n", k);
      return 2;
    }
  }
  if (!std::filesystem::exists(o.alertmanager)) {
    fmt::print(stderr, "{} not found (apt-get install prometheus-alertmanager)\n", o.alertmanager);
    return 2;
  }
  tocsin::testing::TempDir dir;
  fmt::print(
      "{} alerts in batches of {} from {} keep-alive connections; tocsin on the shipped "
      "config/tocsin.yaml behind its API guard (bearer token), Alertmanager with the same "
      "grouping and inhibition rules\n",
      o.alerts, o.batch, o.threads);
  auto batches = Batches(o);  // built before timing: the generator only writes bytes

  std::vector<Result> results;
  {
    unsigned short port = tocsin::testing::FreePort();
    auto cfg = ShippedConfig(o, dir.path() + "/shipped");
    Process p({o.tocsin, "serve", "--config", cfg, "--listen", "127.0.0.1:" + std::to_string(port),
               "--data-dir", dir.path() + "/tocsin-data"},
              {}, dir.path() + "/tocsin.log");
    if (!WaitReady(port, "/readyz")) {
      fmt::print(stderr, "tocsin did not start; see {}/tocsin.log\n", dir.path());
      return 1;
    }
    results.push_back(Measure("tocsin", port, p.pid(), o, batches));
    p.Signal(SIGTERM);
    p.Wait(std::chrono::seconds(15));
  }
  {
    unsigned short port = tocsin::testing::FreePort();
    auto cfg = dir.Write("alertmanager.yml", kAlertmanagerConfig);
    std::filesystem::create_directories(dir.path() + "/am-data");
    Process p({o.alertmanager, "--config.file=" + cfg, "--storage.path=" + dir.path() + "/am-data",
               "--web.listen-address=127.0.0.1:" + std::to_string(port),
               "--cluster.listen-address=", "--log.level=warn"},
              {}, dir.path() + "/alertmanager.log");
    if (!WaitReady(port, "/-/ready")) {
      fmt::print(stderr, "alertmanager did not start; see {}/alertmanager.log\n", dir.path());
      return 1;
    }
    results.push_back(Measure("alertmanager", port, p.pid(), o, batches));
    p.Signal(SIGKILL);  // it may still be busy with the GET; nothing to keep
    p.Wait(std::chrono::seconds(15));
  }

  fmt::print("\n{:<14} {:>10} {:>12} {:>14} {:>16} {:>7} {:>8}   {}\n", "server", "alerts/s",
             "p99 POST ms", "peak RSS MiB", "(incl. GET) MiB", "failed", "503s",
             "GET /api/v2/alerts (all active)");
  for (const auto& r : results) {
    std::string get = r.get_s ? fmt::format("{:.3f} s ({:.1f} MiB)", *r.get_s,
                                            static_cast<double>(r.get_bytes) / (1 << 20))
                              : fmt::format("no answer within {} s", o.get_timeout_s);
    fmt::print("{:<14} {:>10.0f} {:>12.2f} {:>14.1f} {:>16.1f} {:>7} {:>8}   {}\n", r.name,
               r.alerts_per_s, r.p99_ms, static_cast<double>(r.rss_kb) / 1024,
               static_cast<double>(r.rss_after_get_kb) / 1024, r.failed, r.retried, get);
  }
  const auto& t = results[0];
  const auto& a = results[1];
  fmt::print(
      "\ntocsin / alertmanager: throughput x{:.1f} (target >= 5), p99 latency x{:.2f}, "
      "peak memory x{:.2f} after the burst (target <= 0.33), x{:.2f} including the GET\n",
      t.alerts_per_s / a.alerts_per_s, t.p99_ms / a.p99_ms,
      static_cast<double>(t.rss_kb) / static_cast<double>(a.rss_kb),
      static_cast<double>(t.rss_after_get_kb) / static_cast<double>(a.rss_after_get_kb));
  return t.failed || a.failed ? 1 : 0;
}
