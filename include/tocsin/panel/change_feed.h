#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/http/http_types.h"

namespace tocsin::panel {

// The panel's live updates: incident changes numbered in order, answered to browsers in the
// server-sent events format (text/event-stream). A request waits until there is a change after
// the number it last saw (its Last-Event-ID) and is then answered with the ids of the incidents
// that changed, or after `hold` with a heartbeat; the browser asks again at once. So a change
// reaches every open page within one loop turn, and a page that hears nothing for longer than
// `hold` knows the connection is gone. A request whose number is too old (or from before a
// restart) gets "reset": the page reloads everything. Thread-safety: loop thread only.
class ChangeFeed {
 public:
  ChangeFeed(Scheduler& scheduler, Duration hold = std::chrono::seconds(20),
             std::size_t max_waiting = 512);
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  void Changed(const std::string& incident_id);
  // Answers now when there is something after `since` (none: from now on), else holds.
  // More than max_waiting held at once: 503.
  void Wait(std::optional<std::uint64_t> since, http::Respond respond);
  // Answers every held request (shutdown: the server waits for open requests).
  void Stop();

  std::uint64_t seq() const { return seq_; }
  std::size_t waiting() const { return waiters_.size(); }
  static constexpr std::size_t kRemembered = 1024;  // changes kept for late askers

 private:
  struct Waiter {
    std::uint64_t since = 0;
    http::Respond respond;
    TimerId timer = 0;
  };
  http::Response Answer(std::uint64_t since) const;
  void Flush();

  Scheduler& scheduler_;
  Duration hold_;
  std::size_t max_waiting_;
  std::uint64_t seq_ = 0;
  std::deque<std::pair<std::uint64_t, std::string>> recent_;
  std::map<std::uint64_t, Waiter> waiters_;
  std::uint64_t next_waiter_ = 0;
  bool flush_posted_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::panel
