#include "tocsin/common/log.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"

namespace tocsin::log {

namespace {

std::mutex& SecretsMutex() {
  static std::mutex mu;
  return mu;
}

// Longest first, so a secret that contains another is redacted whole.
struct LongestFirst {
  bool operator()(const std::string& a, const std::string& b) const {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  }
};

std::set<std::string, LongestFirst>& Secrets() {
  static std::set<std::string, LongestFirst> secrets;
  return secrets;
}

std::string RedactLocked(std::string_view text) {
  std::string out(text);
  for (const auto& secret : Secrets()) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "<redacted>");
      pos += 10;
    }
  }
  return out;
}

// sd-daemon(3) priority of a level: journald reads "<3>" at the start of a line as "error".
int SyslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

// A text line's message with its control characters written as escapes: a newline in an
// alert's annotation would otherwise start a line of its own that reads as another record
// ("2026-... error tocsin stopped"), and journald takes each line for an entry.
std::string EscapeControls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((u < 0x20 && c != '\t') || u == 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// Formats each record as one text or JSON line, redacts secrets, and hands it to the writer.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(Format format, bool journald, Writer writer)
      : format_(format), journald_(journald), writer_(std::move(writer)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string ts;
    AppendRfc3339(ts, std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time),
                  /*always_millis=*/true);
    auto level_sv = spdlog::level::to_string_view(msg.level);
    std::string level(level_sv.data(), level_sv.size());
    std::string text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (format_ == Format::kJson) {
      nlohmann::json j = {{"ts", ts}, {"level", level}, {"msg", text}};
      if (msg.logger_name.size() > 0) {
        j["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
      }
      line = DumpJson(j);
    } else if (journald_) {
      line = level + " " + EscapeControls(text);  // journald stamps every line itself
    } else {
      line = ts + " " + level + " " + EscapeControls(text);
    }
    if (journald_) line = "<" + std::to_string(SyslogPriority(msg.level)) + ">" + line;
    {
      std::lock_guard lock(SecretsMutex());
      line = RedactLocked(line);
    }
    writer_(line);
  }
  void flush_() override {}

 private:
  Format format_;
  bool journald_;
  Writer writer_;
};

}  // namespace

bool StderrIsJournal() {
  // systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected; a program whose
  // stderr was redirected elsewhere since (a pipe in a test, a file) must not prefix lines.
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void Setup(Format format, spdlog::level::level_enum level, Writer writer) {
  Setup(format, level, writer ? false : StderrIsJournal(), std::move(writer));
}

void Setup(Format format, spdlog::level::level_enum level, bool journald, Writer writer) {
  if (!writer) {
    // One write(2) per line (stderr is unbuffered): a reader of the journal's pipe never gets
    // a line without its end, and the event loop makes one system call, not two.
    writer = [](std::string_view line) {
      std::string out;
      out.reserve(line.size() + 1);
      out.append(line);
      out.push_back('\n');
      std::fwrite(out.data(), 1, out.size(), stderr);
    };
  }
  auto sink = std::make_shared<RedactingSink>(format, journald, std::move(writer));
  auto logger = std::make_shared<spdlog::logger>("tocsin", sink);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void AddSecret(std::string_view secret) {
  if (secret.size() < 4) return;
  std::lock_guard lock(SecretsMutex());
  Secrets().emplace(secret);
}

void ClearSecrets() {
  std::lock_guard lock(SecretsMutex());
  Secrets().clear();
}

std::string Redact(std::string_view text) {
  std::lock_guard lock(SecretsMutex());
  return RedactLocked(text);
}

bool ParseLevel(std::string_view level, spdlog::level::level_enum* out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"trace", spdlog::level::trace}};
  for (const auto& [name, lvl] : kLevels) {
    if (name == level) {
      *out = lvl;
      return true;
    }
  }
  return false;
}

std::optional<std::string> RepeatLimiter::Pass(std::string_view key, std::uint64_t now_us) {
  const auto interval_s = interval_us_ / 1'000'000;
  std::lock_guard lock(mu_);
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxKeys) {
      // The key logged longest ago goes (with what it held back): the others keep their limit.
      seen_.erase(std::min_element(seen_.begin(), seen_.end(), [](const auto& a, const auto& b) {
        return a.second.last_us < b.second.last_us;
      }));
    }
    seen_.emplace(std::string(key), Seen{now_us, 0});
    return fmt::format(" (a repeat within {} s is not logged)", interval_s);
  }
  Seen& seen = it->second;
  // A time read before the lock by another thread may be behind the last line's: within.
  if (now_us < seen.last_us + interval_us_) {
    ++seen.held;
    return std::nullopt;
  }
  const auto since_s = (now_us - seen.last_us) / 1'000'000;
  const auto held = std::exchange(seen.held, 0);
  seen.last_us = now_us;
  if (held == 0) return fmt::format(" (a repeat within {} s is not logged)", interval_s);
  return fmt::format(
      " ({} more like it in the {} s since the last such line {} not logged; a repeat within {} "
      "s is not logged)",
      held, since_s, held == 1 ? "was" : "were", interval_s);
}

}  // namespace tocsin::log
