#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace tocsin::testing {

Process::Process(std::vector<std::string> argv, std::vector<std::string> extra_env,
                 std::string log_file) {
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    if (!log_file.empty()) {
      int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
    }
    for (auto& e : extra_env) ::putenv(e.data());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
}

Process::~Process() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(5));
  }
}

bool Process::Signal(int signo) const { return pid_ > 0 && ::kill(pid_, signo) == 0; }

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    // Polling a child's exit: there is no timer here to advance, only another process.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::vector<unsigned short> ReadPortFile(const std::string& path, std::size_t count) {
  for (int i = 0; i < 500; ++i) {
    std::vector<unsigned short> ports;
    std::ifstream in(path);
    unsigned short port = 0;
    while (ports.size() < count && in >> port && port != 0) ports.push_back(port);
    if (ports.size() == count) return ports;
    // Waiting for another process to write a file, not for a timer.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

SimProcess StartProviderSim(const std::string& binary, const std::string& dir) {
  const std::string port_file = dir + "/sim.ports";
  SimProcess sim;
  sim.process = std::make_unique<Process>(
      std::vector<std::string>{binary, "--listen", "127.0.0.1:0", "--port-file", port_file},
      std::vector<std::string>{}, dir + "/sim.log");
  auto ports = ReadPortFile(port_file);
  if (ports.empty()) return {};
  sim.url = "http://127.0.0.1:" + std::to_string(ports[0]);
  return sim;
}

bool WaitForPort(unsigned short port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

unsigned short FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  char out_tmpl[] = "/tmp/tocsin-cmd-out-XXXXXX";
  char err_tmpl[] = "/tmp/tocsin-cmd-err-XXXXXX";
  int out_fd = ::mkstemp(out_tmpl);
  int err_fd = ::mkstemp(err_tmpl);
  CommandResult result;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  int st = 0;
  if (pid > 0 && ::waitpid(pid, &st, 0) == pid) {
    result.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    ::unlink(path);
    return ss.str();
  };
  result.out = slurp(out_tmpl);
  result.err = slurp(err_tmpl);
  return result;
}

}  // namespace tocsin::testing
