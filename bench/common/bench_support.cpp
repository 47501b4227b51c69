#include "bench_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tocsin::bench {

namespace {

int ConnectTo(unsigned short port, int timeout_s) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Sha256Hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Connection::Connection(unsigned short port, int timeout_s) : fd_(ConnectTo(port, timeout_s)) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

int Connection::Exchange(const std::string& request, std::string* body,
                         Clock::time_point* first_byte) {
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
    if (first_byte && buf_.empty()) *first_byte = Clock::now();
    buf_.append(chunk, static_cast<std::size_t>(n));
    header_end = buf_.find("\r\n\r\n");
  }
  int status = std::atoi(buf_.c_str() + 9);
  std::string lower = Lower(buf_.substr(0, header_end));
  std::size_t length = 0;
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

std::string Request(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body) {
  std::string auth = token.empty() ? "" : fmt::format("Authorization: Bearer {}\r\n", token);
  if (method == "GET") {
    return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n", path, auth);
  }
  return fmt::format(
      "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{}"
      "Content-Length: {}\r\n\r\n{}",
      method, path, auth, body.size(), body);
}

std::string ShippedConfig(const std::string& source_dir, const std::string& dir,
                          const ConfigEdits& edits) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (const char* sub : {"config", "rules", "runbooks"}) {
    fs::copy(fs::path(source_dir) / sub, fs::path(dir) / sub, fs::copy_options::recursive);
  }
  fs::path path = fs::path(dir) / "config" / "tocsin.yaml";
  std::string text = ReadFile(path);
  if (text.find("\napi:") != std::string::npos || text.find("\nproviders:") != std::string::npos) {
    throw std::runtime_error(
        "config/tocsin.yaml now has an api or providers section; update bench/common");
  }
  if (!edits.group_wait.empty()) {
    const std::string from = "\n  group_wait: 30s";
    auto at = text.find(from);
    if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
      throw std::runtime_error("config/tocsin.yaml: expected one root `group_wait: 30s`");
    }
    text.replace(at, from.size(), "\n  group_wait: " + edits.group_wait);
  }
  if (!edits.synchronous.empty()) {
    const std::string from = "\n  synchronous: full";
    auto at = text.find(from);
    if (at == std::string::npos) {
      throw std::runtime_error("config/tocsin.yaml: expected `store.synchronous: full`");
    }
    text.replace(at, from.size(), "\n  synchronous: " + edits.synchronous);
  }
  text += fmt::format(
      "\n# Added by the benchmark: the tokens a user configures (docs/api.md).\n"
      "api:\n  tokens:\n"
      "    - name: prometheus\n      sha256: {}\n      role: intake\n"
      "    - name: grafana\n      sha256: {}\n      role: viewer\n"
      "    - name: olena-laptop\n      sha256: {}\n      role: responder\n      person: olena\n"
      "      requests_per_minute: 100000   # the store benchmark acts far faster than a person\n",
      Sha256Hex(Tokens::kIntake), Sha256Hex(Tokens::kViewer), Sha256Hex(Tokens::kResponder));
  std::string providers;
  if (!edits.pagerduty_url.empty()) {
    std::string key_file = (fs::path(dir) / "pagerduty_routing_key").string();
    std::ofstream(key_file) << "0123456789abcdef0123456789abcdef\n";
    providers += fmt::format("  pagerduty:\n    events_url: {}\n    routing_key_file: {}\n",
                             edits.pagerduty_url, key_file);
  }
  if (!edits.slack_webhook_url.empty() || !edits.slack_signing_secret.empty()) {
    providers += "  slack:\n";
    if (!edits.slack_webhook_url.empty()) {
      providers += fmt::format("    webhook_url: {}\n", edits.slack_webhook_url);
    }
    if (!edits.slack_signing_secret.empty()) {
      providers += fmt::format("    signing_secret: {}\n", edits.slack_signing_secret);
    }
  }
  if (!providers.empty()) text += "providers:\n" + providers;
  std::ofstream(path, std::ios::trunc) << text;
  return path.string();
}

std::string AlertmanagerConfig(const std::string& group_wait, const std::string& webhook_url) {
  std::string receiver = webhook_url.empty()
                             ? "  - name: receiver\n"
                             : fmt::format(
                                   "  - name: receiver\n    webhook_configs:\n      - url: {}\n"
                                   "        send_resolved: false\n",
                                   webhook_url);
  return fmt::format(R"(route:
  receiver: receiver
  group_by: [alertname, service, region]
  group_wait: {}
  group_interval: 5m
  repeat_interval: 4h
receivers:
{}inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity=~"warning|critical"']
    equal: [region]
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, service, region]
)",
                     group_wait, receiver);
}

bool WaitReady(unsigned short port, const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    Connection c(port, 2);
    if (c.ok() && c.Exchange(Request("GET", path, "")) == 200) return true;
    // Polling another process's readiness: there is no timer of ours to advance.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
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

RequestSink::RequestSink() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("request sink: cannot listen on loopback");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  threads_.emplace_back([this] {
    for (;;) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  });
}

RequestSink::~RequestSink() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  threads_.front().join();  // the accept loop: no thread is added after it returns
  for (std::size_t i = 1; i < threads_.size(); ++i) threads_[i].join();
  for (int fd : fds_) ::close(fd);
  ::close(listen_fd_);
}

void RequestSink::Serve(int fd) {
  static const std::string kBody =
      R"({"status":"success","message":"Event processed","dedup_key":"bench"})";
  static const std::string kAnswer = fmt::format(
      "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
      kBody.size(), kBody);
  std::string buf;
  char chunk[65536];
  for (;;) {
    auto header_end = buf.find("\r\n\r\n");
    std::size_t want = 0;
    if (header_end != std::string::npos) {
      std::string lower = Lower(buf.substr(0, header_end));
      auto cl = lower.find("content-length:");
      std::size_t length =
          cl == std::string::npos ? 0 : std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
      want = header_end + 4 + length;
    }
    if (header_end == std::string::npos || buf.size() < want) {
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    Received r;
    r.at = Clock::now();
    auto sp1 = buf.find(' ');
    auto sp2 = buf.find(' ', sp1 + 1);
    r.path = buf.substr(sp1 + 1, sp2 - sp1 - 1);
    r.body = buf.substr(header_end + 4, want - header_end - 4);
    buf.erase(0, want);
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(std::move(r));
    }
    arrived_.notify_all();
    if (::send(fd, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL) <= 0) return;
  }
}

std::vector<RequestSink::Received> RequestSink::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(received_, {});
}

std::optional<RequestSink::Received> RequestSink::Await(const std::string& path,
                                                        Clock::time_point deadline) {
  return Await([&](const Received& r) { return r.path == path; }, deadline);
}

std::optional<RequestSink::Received> RequestSink::Await(
    const std::function<bool(const Received&)>& match, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<Received> found;
  arrived_.wait_until(lock, deadline, [&] {
    auto it = std::find_if(received_.begin(), received_.end(), match);
    if (it == received_.end()) return false;
    found = std::move(*it);
    received_.erase(it);
    return true;
  });
  return found;
}

Settled SettleDisk(const std::string& dir, double max_ms, std::chrono::seconds give_up) {
  Settled out;
  const std::string path = dir + "/settle-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("SettleDisk: cannot create " + path);
  const std::string page(4096, 'p');
  const auto start = Clock::now();
  while (true) {
    double worst = 0;
    const auto window_end = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < window_end) {
      if (::pwrite(fd, page.data(), page.size(), 0) != static_cast<ssize_t>(page.size())) {
        ::close(fd);
        throw std::runtime_error("SettleDisk: cannot write " + path);
      }
      const auto t0 = Clock::now();
      ::fdatasync(fd);
      worst = std::max(worst, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    out.last_window_max_ms = worst;
    out.waited_s = std::chrono::duration<double>(Clock::now() - start).count();
    out.settled = worst <= max_ms;
    if (out.settled || Clock::now() - start >= give_up) break;
  }
  ::close(fd);
  ::unlink(path.c_str());
  return out;
}

std::string Tail(const std::string& path, int lines) {
  std::string text = ReadFile(path);
  std::size_t at = text.size();
  for (int n = 0; n <= lines && at != std::string::npos && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

bool ParseFlags(int argc, char** argv, const Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (auto b = flags.bools.find(k); b != flags.bools.end()) {
      *b->second = true;
      continue;
    }
    auto n = flags.ints.find(k);
    auto s = flags.strings.find(k);
    if (n == flags.ints.end() && s == flags.strings.end()) {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return false;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", k.c_str());
      return false;
    }
    std::string v = argv[++i];
    if (s != flags.strings.end()) {
      *s->second = v;
      continue;
    }
    char* end = nullptr;
    long value = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') {
      std::fprintf(stderr, "%s: expected a whole number, got \"%s\"\n", k.c_str(), v.c_str());
      return false;
    }
    *n->second = static_cast<int>(value);
  }
  return true;
}

void PrintJson(const nlohmann::json& figures) {
  std::printf("BENCH_JSON %s\n", figures.dump().c_str());
  std::fflush(stdout);
}

}  // namespace tocsin::bench
