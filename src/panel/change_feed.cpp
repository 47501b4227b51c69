#include "tocsin/panel/change_feed.h"

#include <set>

#include <nlohmann/json.hpp>

#include "tocsin/common/json.h"

namespace tocsin::panel {

namespace {
// More ids than this in one answer: the page reloads the list instead.
constexpr std::size_t kMaxIds = 200;
// How soon the browser asks again after an answer (EventSource honours it too).
constexpr int kRetryMillis = 1000;
}  // namespace

ChangeFeed::ChangeFeed(Scheduler& scheduler, Duration hold, std::size_t max_waiting)
    : scheduler_(scheduler), hold_(hold), max_waiting_(max_waiting) {}

ChangeFeed::~ChangeFeed() {
  *alive_ = false;
  for (auto& [n, w] : waiters_) scheduler_.Cancel(w.timer);
}

void ChangeFeed::Changed(const std::string& incident_id) {
  recent_.emplace_back(++seq_, incident_id);
  while (recent_.size() > kRemembered) recent_.pop_front();
  if (waiters_.empty() || flush_posted_) return;
  // Changes of one loop turn (a burst of alerts) go out in one answer.
  flush_posted_ = true;
  scheduler_.Post([this, alive = alive_] {
    if (*alive) Flush();
  });
}

void ChangeFeed::Flush() {
  flush_posted_ = false;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [n, w] : waiters) {
    scheduler_.Cancel(w.timer);
    w.respond(Answer(w.since));
  }
}

http::Response ChangeFeed::Answer(std::uint64_t since) const {
  nlohmann::json data{{"seq", seq_}};
  std::string event = "heartbeat";
  bool reset = since > seq_ || (!recent_.empty() && since + 1 < recent_.front().first);
  if (reset) {
    event = "reset";
  } else if (since < seq_) {
    std::set<std::string> ids;
    for (const auto& [n, id] : recent_) {
      if (n > since) ids.insert(id);
    }
    event = ids.size() > kMaxIds ? "reset" : "incidents";
    if (event == "incidents") data["ids"] = ids;
  }
  std::string body = "retry: " + std::to_string(kRetryMillis) + "\nid: " + std::to_string(seq_) +
                     "\nevent: " + event + "\ndata: " + DumpJson(data) + "\n\n";
  http::Response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.body = std::move(body);
  r.headers["Cache-Control"] = "no-store";
  return r;
}

void ChangeFeed::Wait(std::optional<std::uint64_t> since, http::Respond respond) {
  std::uint64_t from = since.value_or(seq_);
  if (stopped_ || from != seq_) return respond(Answer(from));
  if (waiters_.size() >= max_waiting_) {
    http::Response busy = http::Response::Text(503, "too many open live-update streams\n");
    busy.headers["Retry-After"] = "5";
    return respond(busy);
  }
  std::uint64_t n = next_waiter_++;
  TimerId timer = scheduler_.ScheduleAfter(hold_, [this, alive = alive_, n] {
    if (!*alive) return;
    auto it = waiters_.find(n);
    if (it == waiters_.end()) return;
    Waiter w = std::move(it->second);
    waiters_.erase(it);
    w.respond(Answer(w.since));
  });
  waiters_[n] = Waiter{from, std::move(respond), timer};
}

void ChangeFeed::Stop() {
  stopped_ = true;
  Flush();
}

}  // namespace tocsin::panel
