#pragma once

// What every benchmark program shares: a raw-socket HTTP client and a one-thread HTTP sink that
// time requests without costing the servers anything, the shipped configuration with the
// tokens a user configures, the peer Alertmanager's config, and reading a process's peak memory
// and CPU time. Not thread-safe unless a function says so.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace tocsin::testing {
class Process;
}  // namespace tocsin::testing

namespace tocsin::bench {

using Clock = std::chrono::steady_clock;

// One keep-alive HTTP/1.1 connection on raw sockets: the load generator must cost far less
// than the servers it measures, so no client library, no per-request allocation beyond the
// response buffer.
class Connection {
 public:
  Connection(unsigned short port, int timeout_s);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Sends a request and reads one response; returns the status (0 on failure). When
  // `first_byte` is given, it receives the time the response's first byte arrived.
  int Exchange(const std::string& request, std::string* body = nullptr,
               Clock::time_point* first_byte = nullptr);

 private:
  int fd_ = -1;
  std::string buf_;
};

// A whole request with a bearer token ("" for none) and, for POST, a JSON body.
std::string Request(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = {});

// The tokens of a run, as a user configures them (docs/api.md): Prometheus posts with an
// `intake` token, a dashboard reads with a `viewer` token (default budget), a person acts with a
// `responder` token tied to a roster person. Only the person's per-minute budget is raised
// (store-transition benchmark: far more calls than a person makes).
struct Tokens {
  static constexpr const char* kIntake = "tocsin-bench-prometheus-intake";
  static constexpr const char* kViewer = "tocsin-bench-grafana-viewer";
  static constexpr const char* kResponder = "tocsin-bench-olena-responder";
};

// What a benchmark changes in its copy of the shipped config: nothing else differs.
struct ConfigEdits {
  std::string group_wait;     // replaces the root route's `group_wait: 30s` when not empty
  std::string pagerduty_url;  // adds providers.pagerduty with this events_url when not empty
  std::string synchronous;    // replaces `store.synchronous: full` when not empty
  // Adds providers.slack with this incoming-webhook URL and signing secret when not empty
  // (Slack's buttons and slash commands are refused without a signing secret).
  std::string slack_webhook_url;
  std::string slack_signing_secret;
};

// Copies the shipped config/, rules/ and runbooks/ from `source_dir` into `dir` and appends
// the `api.tokens` above, plus `edits`. Returns the config path; throws std::runtime_error when
// the shipped file no longer looks the way an edit expects.
std::string ShippedConfig(const std::string& source_dir, const std::string& dir,
                          const ConfigEdits& edits = {});

// Alertmanager's config with the shipped config's grouping and both inhibition rules; its
// receiver is a webhook to `webhook_url`, or sends nothing when empty.
std::string AlertmanagerConfig(const std::string& group_wait, const std::string& webhook_url);

// Polls GET `path` until it answers 200 (true) or `timeout` passes (false).
bool WaitReady(unsigned short port, const std::string& path,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

long PeakRssKb(pid_t pid);     // VmHWM from /proc/PID/status, -1 when unreadable
double CpuSeconds(pid_t pid);  // user + system time so far, from /proc/PID/stat

// p in [0, 100] of `v` (sorted in place); 0 for an empty vector.
double Percentile(std::vector<double>& v, double p);

std::string Rfc3339(std::chrono::system_clock::time_point t);

// Records every request it receives with its arrival time and answers 202 with a PagerDuty
// Events v2 success body (Alertmanager's webhook takes any 2xx). Stands in for a provider so
// that the benchmark, not a separate process, reads the clock when a request arrives.
class RequestSink {
 public:
  struct Received {
    Clock::time_point at;
    std::string path;
    std::string body;
  };
  RequestSink();
  ~RequestSink();
  RequestSink(const RequestSink&) = delete;
  RequestSink& operator=(const RequestSink&) = delete;
  unsigned short port() const { return port_; }
  // Thread-safe.
  std::vector<Received> Take();
  // Waits until a request for exactly `path` has arrived (or `deadline` passes), and takes it
  // out of what Take() returns. Thread-safe.
  std::optional<Received> Await(const std::string& path, Clock::time_point deadline);
  // The same for the first request that `match` accepts. The caller sleeps on a condition
  // variable meanwhile: polling would take CPU from the server being measured.
  std::optional<Received> Await(const std::function<bool(const Received&)>& match,
                                Clock::time_point deadline);

 private:
  void Serve(int fd);
  int listen_fd_ = -1;
  unsigned short port_ = 0;
  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<Received> received_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  bool stopping_ = false;
};

// Waits until this disk's flushes are back to their idle pace: windows of 2 s of 4 KiB writes,
// each followed by fdatasync, in a file under `dir` (the servers' data dirs' filesystem), until a
// whole window has no flush over `max_ms`, or `give_up` passes. The benchmarks before a
// latency run leave the disk (a VM's disk: its host's cache) flushing for seconds after they
// end, and the server measured first would pay for it. Returns how long it waited and the
// slowest flush of the last window.
struct Settled {
  double waited_s = 0;
  double last_window_max_ms = 0;
  bool settled = false;
};
Settled SettleDisk(const std::string& dir, double max_ms = 5.0,
                   std::chrono::seconds give_up = std::chrono::seconds(30));

// The last `lines` lines of a file (a server's log when it did not start: the temp dir that
// holds it is removed on exit).
std::string Tail(const std::string& path, int lines = 20);

// A program's options: "--name value" for numbers and strings, "--name" for flags. Returns
// false, having said why on stderr, for an unknown option or one without its value.
struct Flags {
  std::map<std::string, int*> ints;
  std::map<std::string, std::string*> strings;
  std::map<std::string, bool*> bools;
};
bool ParseFlags(int argc, char** argv, const Flags& flags);

// A server under test, started and ready; stopped (SIGKILL) when destroyed unless stopped first.
// servers.cpp: only in programs linked with the test support (tocsin_test_support).
struct Server {
  Server();
  ~Server();
  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  explicit operator bool() const { return process != nullptr; }
  pid_t pid() const;
  void Stop(int signo);  // signals it and waits up to 15 s for it to exit

  std::unique_ptr<testing::Process> process;  // null: it did not get ready
  unsigned short port = 0;
};

// `tocsin serve --config CONFIG --data-dir DATA_DIR` on 127.0.0.1:port (a free one when 0),
// stdout and stderr to `log`; waits for /readyz. On failure the log's tail goes to stderr.
Server StartTocsin(const std::string& binary, const std::string& config,
                   const std::string& data_dir, const std::string& log, unsigned short port = 0,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Alertmanager with `config_text`, its config, storage and log in `dir`, clustering off; waits
// for /-/ready. On failure the log's tail goes to stderr.
Server StartAlertmanager(const std::string& binary, const std::string& dir,
                         const std::string& config_text);

// One benchmark program's figures, printed as one JSON line after "BENCH_JSON " so that
// bench/run can read them among the human-readable lines.
void PrintJson(const nlohmann::json& figures);

}  // namespace tocsin::bench
