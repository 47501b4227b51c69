// The real `tocsin serve` process under every hostile case of the HTTP layer at once, as an
// outsider would try it: /healthz must answer within 50 ms throughout, and strangers' bodies
// must not grow the daemon's memory. A separate process so that its memory (/proc/<pid>) and
// its event loop are measured alone, not mixed with the attackers of the test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/process.h"
#include "support/raw_http.h"
#include "support/sanitizer.h"
#include "support/temp_dir.h"
#include "tocsin/common/crypto.h"
#include "tocsin/http/signatures.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Process;
using SteadyClock = std::chrono::steady_clock;

#if defined(TOCSIN_ASAN)
// AddressSanitizer makes every allocation and parse several times slower and keeps freed
// memory in quarantine (256 MB by default), so both budgets scale for that build only.
constexpr double kSanitizerScale = 4.0;
#else
constexpr double kSanitizerScale = 1.0;
#endif

const std::map<std::string, std::string> kTokens = {
    {"responder", "hostile-responder-token-0123456789abcdef"},
    {"intake", "hostile-intake-token-0123456789abcdef"},
};

using testing::ReadFile;

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"), or -1.
long StatusKb(pid_t pid, const std::string& field) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// How long thread `tid` of `pid` has been runnable but waiting for a CPU, in milliseconds: the
// second field of /proc/<pid>/task/<tid>/schedstat (nanoseconds), or -1 when unavailable.
double RunQueueWaitMs(pid_t pid, pid_t tid) {
  std::istringstream in(
      ReadFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat"));
  unsigned long long run_ns = 0, wait_ns = 0;
  if (!(in >> run_ns >> wait_ns)) return -1;
  return static_cast<double>(wait_ns) / 1e6;
}

std::string Request(const std::string& method, const std::string& target, const std::string& role,
                    const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: tocsin\r\nConnection: close\r\n";
  if (!role.empty()) r += "Authorization: Bearer " + kTokens.at(role) + "\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\n";
  return r + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class HostileDaemonTest : public ::testing::Test {
 protected:
  void StartDaemon() {
    std::string cfg = "log: {level: warn}\napi:\n  tokens:\n";
    for (const auto& [role, token] : kTokens) {
      // With the responder's default budget (120 a minute) an idle machine answers the
      // deep-JSON attacker fast enough to spend it within the attack, and the deep case then
      // gets 429 from the guard instead of 400 from the parser it is here to test. (The
      // oversized attacker's 413 comes from the header, before the guard.) The budget is
      // covered by http_guard_test; alert intake has none.
      std::string budget = role == "responder" ? ", requests_per_minute: 100000" : "";
      cfg += "    - {name: " + role + ", sha256: " + Sha256Hex(token) + ", role: " + role + budget +
             "}\n";
    }
    auto config = dir_.Write("tocsin.yaml", cfg);
    port_ = testing::FreePort();
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 dir_.path() + "/data"},
        std::vector<std::string>{}, dir_.path() + "/daemon.log");
    ASSERT_TRUE(testing::WaitForPort(port_, 20s)) << ReadFile(dir_.path() + "/daemon.log");
    // Served once: everything a first request allocates is in the baseline.
    ASSERT_EQ(Status(Request("GET", "/healthz", "")), 200);
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_TRUE(daemon_->running())
          << "the daemon died: " << ReadFile(dir_.path() + "/daemon.log");
      daemon_->Signal(SIGTERM);
      daemon_->Wait(15s);
    }
  }
  int Status(const std::string& bytes, int timeout_ms = 5000) {
    return testing::StatusOf(testing::RawExchange(port_, bytes, timeout_ms));
  }

  testing::TempDir dir_;
  unsigned short port_ = 0;
  std::unique_ptr<Process> daemon_;
};

std::string DeepLabels(int depth) {
  std::string s = R"({"title":"deep","alerts":[{"labels":)";
  for (int i = 0; i < depth; ++i) s += R"({"a":)";
  s += "\"x\"";
  s += std::string(static_cast<std::size_t>(depth), '}');
  return s + "}]}";
}

// A connection that sends its request header one byte at a time, slower than any timeout
// would like: a slowloris client.
struct SlowClient {
  int fd = -1;
  std::size_t sent = 0;
};

// /healthz answered within 50 ms throughout every hostile case at once: JSON nested 100,000
// levels deep, invented methods, strangers' 4 MB POSTs, bodies over the limit with a valid
// token, 50,000-alert intake batches, slowloris clients and hundreds of idle connections. The
// answers of the attacks are checked too, so that a case that stopped running cannot make
// the measurement look good.
TEST_F(HostileDaemonTest, HealthzAnswersWithin50msWhileEveryHostileCaseRunsAtOnce) {
#if defined(TOCSIN_ASAN)
  // The promise is about the daemon people run. Under ASan the loop's own work on a 1,000-alert
  // chunk or a 4 MB body is several times slower (one answer spent 400 ms of the loop's own
  // time here), so this build proves nothing about it; the default build runs this test.
  GTEST_SKIP() << "latency budget of the release build; not meaningful under ASan";
#endif
  StartDaemon();
  if (HasFatalFailure()) return;

  // Many connections: held open, idle, for the whole test.
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    int fd = testing::ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  std::vector<SlowClient> slow(20);
  const std::string slow_request = "GET /healthz HTTP/1.1\r\nHost: tocsin\r\nX-Slow: ";
  for (auto& c : slow) {
    c.fd = testing::ConnectLoopback(port_);
    ASSERT_GE(c.fd, 0);
  }

  json batch = json::array();
  for (int i = 0; i < 50000; ++i) {
    batch.push_back({{"labels", {{"alertname", "Flood"}, {"instance", "h" + std::to_string(i)}}}});
  }
  const std::string big_batch = Request("POST", "/api/v2/alerts", "intake", batch.dump());
  const std::string deep = Request("POST", "/api/v1/incidents", "responder", DeepLabels(100000));
  const std::string stranger =
      "POST /api/v2/alerts HTTP/1.1\r\nHost: tocsin\r\nContent-Length: 4194304\r\n\r\n" +
      std::string(4194304, 'x');
  const std::string oversized =
      Request("POST", "/api/v1/incidents", "responder", std::string(5 * 1024 * 1024, ' '));

  enum Kind { kDeep, kMethod, kStranger, kOversized, kBigBatch, kKinds };
  const std::array<const char*, kKinds> names = {"deep JSON", "invented method", "stranger's 4 MB",
                                                 "body over the limit", "50,000-alert batch"};
  std::array<std::atomic<int>, kKinds> done{};
  std::array<std::atomic<int>, kKinds> wrong{};
  std::atomic<bool> stop{false};
  auto attack = [&](Kind kind) {
    for (int i = 0; !stop; ++i) {
      int status = 0;
      bool ok = false;
      switch (kind) {
        case kDeep:
          ok = Status(deep) == 400;
          break;
        case kMethod:
          ok = Status(Request("M" + std::to_string(i), "/api/v1/incidents", "")) == 405;
          break;
        case kStranger:
          status = Status(stranger);
          ok = status == 401 || status == 0;  // answered from the header, or closed
          break;
        case kOversized:
          status = Status(oversized);
          ok = status == 413 || status == 0;
          break;
        default:
          ok = Status(big_batch, 30000) == 200;
          break;
      }
      if (!ok) ++wrong[kind];
      ++done[kind];
    }
  };
  std::vector<std::thread> attackers;
  for (int k = 0; k < kKinds; ++k) attackers.emplace_back(attack, static_cast<Kind>(k));
  std::thread dribble([&] {
    while (!stop) {
      for (auto& c : slow) {
        if (c.fd < 0) continue;
        char b = slow_request[c.sent % slow_request.size()];
        if (::send(c.fd, &b, 1, MSG_NOSIGNAL) != 1) {
          ::close(c.fd);  // the server's read timeout closed it: a new slow client takes over
          c = SlowClient{testing::ConnectLoopback(port_), 0};
          continue;
        }
        ++c.sent;
      }
      std::this_thread::sleep_for(100ms);  // the pace of a slow client, not a wait for tocsin
    }
  });

  // Measure until every kind of attack has run at least twice more during the measurement
  // (a 50,000-alert batch takes the longest), and at least 300 probes.
  std::array<int, kKinds> started{};
  for (int k = 0; k < kKinds; ++k) started[k] = done[k].load();
  auto all_ran = [&] {
    for (int k = 0; k < kKinds; ++k) {
      if (done[k] < started[k] + 2) return false;
    }
    return true;
  };
  // Each probe's latency, and the part of it that the kernel's scheduler took: the time the
  // daemon's event loop (its main thread) and this probing thread were runnable but waiting
  // for a CPU during the probe. On a shared 2-core machine with other builds running, one
  // such wait alone can exceed 25 ms (seen with `perf sched timehist`); it is not tocsin's.
  const pid_t loop_tid = daemon_->pid();
  const pid_t self = ::getpid();
  const pid_t probe_tid = static_cast<pid_t>(::gettid());
  ASSERT_GE(RunQueueWaitMs(loop_tid, loop_tid), 0) << "no schedstat for the daemon";
  struct Probe {
    double ms;         // wall time of the whole exchange
    double waited_ms;  // of which the loop or the prober waited for a CPU
  };
  std::vector<Probe> probes;
  const auto limit = SteadyClock::now() + 120s;
  while ((probes.size() < 300 || !all_ran()) && SteadyClock::now() < limit) {
    const double loop_wait0 = RunQueueWaitMs(loop_tid, loop_tid);
    const double probe_wait0 = RunQueueWaitMs(self, probe_tid);
    auto t0 = SteadyClock::now();
    int status = Status(Request("GET", "/healthz", ""));
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
    const double waited = (RunQueueWaitMs(loop_tid, loop_tid) - loop_wait0) +
                          (RunQueueWaitMs(self, probe_tid) - probe_wait0);
    probes.push_back({ms, waited});
    EXPECT_EQ(status, 200);
    // Probes at the pace of a busy load balancer, so the attacks get the loop most of the
    // time rather than the probe.
    std::this_thread::sleep_for(5ms);
  }
  stop = true;
  for (auto& t : attackers) t.join();
  dribble.join();
  for (int fd : idle) ::close(fd);
  for (auto& c : slow) {
    if (c.fd >= 0) ::close(c.fd);
  }

  for (int k = 0; k < kKinds; ++k) {
    EXPECT_GE(done[k], started[k] + 2) << names[k] << " did not run during the measurement";
    EXPECT_EQ(wrong[k], 0) << names[k] << " got an unexpected answer " << wrong[k] << " times";
  }
  ASSERT_FALSE(probes.empty());
  std::vector<double> ms;
  double worst_own = 0;
  Probe worst{};
  for (const auto& p : probes) {
    ms.push_back(p.ms);
    const double own = p.ms - p.waited_ms;
    if (own > worst_own) {
      worst_own = own;
      worst = p;
    }
  }
  std::sort(ms.begin(), ms.end());
  const double p99 = ms[ms.size() * 99 / 100];
  std::string slowest;
  for (std::size_t i = ms.size() >= 5 ? ms.size() - 5 : 0; i < ms.size(); ++i) {
    slowest += std::to_string(ms[i]) + " ";
  }
  const std::string summary = std::to_string(probes.size()) + " probes; median " +
                              std::to_string(ms[ms.size() / 2]) + " ms; p99 " +
                              std::to_string(p99) + " ms; slowest (ms): " + slowest;
  // The promise of docs/operations.md, for every probe: what tocsin itself took (the
  // latency less the time the scheduler kept the loop or the prober off a CPU) is within
  // 50 ms. The whole latency, scheduler included, is bounded too: a stall of the loop could
  // not hide behind the subtraction, since the loop's own running time is not subtracted.
  EXPECT_LE(worst_own, 50.0 * kSanitizerScale)
      << "a /healthz answer took " << worst.ms << " ms, of which only " << worst.waited_ms
      << " ms were the scheduler's; " << summary;
  EXPECT_LE(ms.back(), 1000.0 * kSanitizerScale) << summary;
  std::printf("healthz under attack: %s; worst own share %.2f ms\n", summary.c_str(), worst_own);
}

// 200 clients without a token each sending a 4 MB body made the daemon hold 600 MB: the
// token is checked on the header and the body is never read. Measured on the real process:
// its peak resident memory (VmHWM) grows by less than 64 MB, and every client got 401 or 413
// or was closed.
TEST_F(HostileDaemonTest, TwoHundredStrangersWith4MBBodiesLeaveMemoryBounded) {
  StartDaemon();
  if (HasFatalFailure()) return;
  const pid_t pid = daemon_->pid();
  const long hwm_before = StatusKb(pid, "VmHWM");
  ASSERT_GT(hwm_before, 0);

  constexpr int kClients = 200;
  constexpr std::size_t kBody = 4 * 1024 * 1024;
  const std::string head =
      "POST /api/v1/incidents HTTP/1.1\r\nHost: tocsin\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(kBody) + "\r\n\r\n";
  const std::string body(kBody, '{');
  struct Client {
    int fd = -1;
    std::size_t sent = 0;  // of head + body
    std::string got;
    bool closed = false;
  };
  std::vector<Client> clients(kClients);
  // All of them at once: connected, then each sends as fast as the daemon lets it.
  for (auto& c : clients) {
    c.fd = testing::ConnectLoopback(port_);
    ASSERT_GE(c.fd, 0);
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  }
  const std::size_t total = head.size() + kBody;
  const auto deadline = SteadyClock::now() + 30s;
  for (int open = kClients; open > 0 && SteadyClock::now() < deadline;) {
    std::vector<pollfd> fds;
    for (auto& c : clients) {
      if (c.closed) continue;
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.sent < total ? POLLOUT : 0)), 0});
    }
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (auto& c : clients) {
      if (c.closed) continue;
      auto p = std::find_if(fds.begin(), fds.end(), [&](const pollfd& f) { return f.fd == c.fd; });
      if (p->revents & POLLOUT && c.sent < total) {
        const char* data =
            c.sent < head.size() ? head.data() + c.sent : body.data() + (c.sent - head.size());
        std::size_t len = c.sent < head.size() ? head.size() - c.sent : total - c.sent;
        ssize_t n = ::send(c.fd, data, std::min<std::size_t>(len, 65536), MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<std::size_t>(n);
      }
      if (p->revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.got.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          c.closed = true;  // closed by the daemon (a reset counts: it read nothing more)
          --open;
        }
      }
    }
  }
  const long hwm_after = StatusKb(pid, "VmHWM");
  const long rss_after = StatusKb(pid, "VmRSS");

  int answered = 0;
  std::size_t body_bytes_sent = 0;
  for (auto& c : clients) {
    int status = testing::StatusOf(c.got);
    EXPECT_TRUE(c.closed) << "a stranger's connection was left open";
    EXPECT_TRUE(status == 401 || status == 413 || (status == 0 && c.got.empty()))
        << "a stranger got: " << c.got.substr(0, 200);
    answered += status != 0;
    body_bytes_sent += c.sent > head.size() ? c.sent - head.size() : 0;
    ::close(c.fd);
  }
  EXPECT_GT(answered, kClients / 2) << "most strangers must get their 401, not only a close";
  const double growth_mb = static_cast<double>(hwm_after - hwm_before) / 1024.0;
  EXPECT_LT(growth_mb, 64.0 * kSanitizerScale)
      << "peak RSS grew from " << hwm_before << " kB to " << hwm_after << " kB (now " << rss_after
      << " kB) while strangers pushed " << body_bytes_sent / (1024 * 1024) << " MB at it";
  // The daemon still serves.
  EXPECT_EQ(Status(Request("GET", "/healthz", "")), 200);
}

}  // namespace
}  // namespace tocsin
