#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/http/router.h"

namespace boost::asio {
class io_context;
}

namespace tocsin::sim {

// Milliseconds since the Unix epoch by the wall clock: what Recorded::time_ms holds.
std::int64_t WallMs();
// Characters of UTF-8 text, as the providers count them in their length limits.
std::size_t CodePoints(std::string_view s);
// `s` cut to at most `max` bytes at a character boundary, "…" marking a cut: for log lines.
std::string Short(std::string s, std::size_t max = 60);

class PagerDutySim;  // pagerduty_sim.h
class OpsgenieSim;   // opsgenie_sim.h
class TwilioSim;     // twilio_sim.h

// One request the simulator received (HTTP, or an SMTP transaction with method "SMTP").
struct Recorded {
  std::uint64_t id = 0;
  std::string method;
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;
  std::string body;
  std::int64_t time_ms = 0;
  int status = 0;
  std::string summary;  // the one-line log summary
};

// A fault for the next `count` requests whose path starts with `path`.
struct Fault {
  std::string path;
  int status = 0;            // 0: answer normally (latency only)
  std::string retry_after;   // Retry-After header value
  std::string body;          // body of the faulty answer
  long long latency_ms = 0;  // delay before answering
  bool drop = false;         // never answer: the client times out
  long long count = 1;       // -1: until cleared
  long long skip = 0;        // let this many matching requests through first
};

// The provider simulator: PagerDuty Events v2, Opsgenie Alert API v2 (+ request status and
// heartbeats), Slack Web API (chat.postMessage / chat.update), Slack incoming webhooks and
// response_url, and a generic webhook receiver, each validating the documented limits like the
// real service. Records every request (GET /_sim/requests?path=prefix), injects faults
// (POST /_sim/faults), and sends PagerDuty v3 / Opsgenie / Slack webhooks on request
// (POST /_sim/send-webhook). Thread-safety: handlers run on the io_context thread; the record
// and fault tables are also read by the SMTP sink, hence the mutex.
class ProviderSim {
 public:
  explicit ProviderSim(boost::asio::io_context& io);
  std::shared_ptr<http::Router> BuildRouter();

  // Shared with the SMTP sink.
  void Record(Recorded r);
  std::optional<Fault> TakeFault(const std::string& path);
  std::vector<Recorded> Requests(const std::string& path_prefix) const;
  // Records the request and answers it, unless a fault for its path says otherwise;
  // `on_answered` runs (before the answer leaves) only when no fault replaced or dropped it.
  void Handle(const http::Request& req, http::Respond respond, int default_status, std::string body,
              std::string summary, std::string content_type = "application/json",
              std::function<void()> on_answered = nullptr);
  std::string NewRequestId();
  boost::asio::io_context& io() { return io_; }

 private:
  void PagerDuty(const http::Request& req, http::Respond respond);
  void OpsgenieCreate(const http::Request& req, http::Respond respond);
  void OpsgenieAction(const http::Request& req, http::Respond respond);
  void OpsgenieRequestStatus(const http::Request& req, http::Respond respond);
  void OpsgenieHeartbeat(const http::Request& req, http::Respond respond);
  void SlackApi(const http::Request& req, http::Respond respond, bool update);
  void SlackWebhook(const http::Request& req, http::Respond respond);
  void SendWebhook(const http::Request& req, http::Respond respond);

  boost::asio::io_context& io_;
  mutable std::mutex mu_;
  std::deque<Recorded> requests_;
  std::vector<Fault> faults_;
  std::uint64_t next_id_ = 1;
  // Opsgenie request id -> {action, alias}; Slack "channel ts" -> exists.
  std::map<std::string, std::pair<std::string, std::string>> og_requests_;
  std::map<std::string, std::string> slack_messages_;
  std::uint64_t slack_counter_ = 0;
  std::shared_ptr<PagerDutySim> pagerduty_;
  std::shared_ptr<OpsgenieSim> opsgenie_;
  std::shared_ptr<TwilioSim> twilio_;
};

}  // namespace tocsin::sim
