// Every line the process logs while a LogCapture lives (text lines at `level` and above, from
// any thread); the default text logger is put back when it goes.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/log.h"

namespace tocsin::testing {

class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level = spdlog::level::info) {
    log::Setup(log::Format::kText, level, false, [this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::Setup(log::Format::kText, spdlog::level::info); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace tocsin::testing
