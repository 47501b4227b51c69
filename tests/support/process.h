#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tocsin::testing {

// A child process started with fork/exec, for tests that drive the real `tocsin` binary or a
// real server (Prometheus, the provider simulator). Its stdout and stderr go to `log_file`
// when given. The destructor kills it (SIGKILL) if it is still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> extra_env = {},
          std::string log_file = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Signal(int signo) const;
  // Waits for exit up to `timeout`; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A command run to completion, with its stdout and stderr kept apart (CLI tests check which
// stream a message goes to).
struct CommandResult {
  int exit_code = -1;  // or 128+signal
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

// Polls `url`-less TCP connect to 127.0.0.1:port until it accepts or the timeout passes.
bool WaitForPort(unsigned short port, std::chrono::milliseconds timeout);
// The ports another process (the provider simulator's --port-file) writes to `path`, one per
// line: waits up to 5 s until `count` of them are there; empty when they never come.
std::vector<unsigned short> ReadPortFile(const std::string& path, std::size_t count = 1);
// The provider simulator (`binary`, tests/fakes/provider_sim) on a free loopback port, its
// output in `dir`/sim.log; `url` is empty (and `process` null) when it did not start.
struct SimProcess {
  std::unique_ptr<Process> process;
  std::string url;  // http://127.0.0.1:PORT
};
SimProcess StartProviderSim(const std::string& binary, const std::string& dir);
// A TCP port that was free a moment ago (bind to 0, read, close).
unsigned short FreePort();

}  // namespace tocsin::testing
