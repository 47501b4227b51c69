#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/responder_request_store.h"
#include "tocsin/oncall/person.h"

namespace tocsin::notify {

// Adds the people of a ladder step to the PagerDuty incident that an Events v2 dedup_key opened,
// through PagerDuty's REST API: finds the open incident by its incident_key, leaves alone whoever
// is already assigned to it, and sends one responder request per other person (so that one bad
// user id in the roster does not keep the others from being paged). A retried step does not page
// a person twice: responder requests PagerDuty accepted, per step page, are written to a
// ResponderRequestStore
// (the daemon's is durable, so this holds across a restart or a SIGKILL) and remembered in
// memory too, so a store that fails a write still keeps this process from paging twice.
// Thread-safety: AddPeople may run on several threads at once (the memory is under a mutex,
// the store is thread-safe).
class PagerDutyResponders {
 public:
  struct Person {
    std::string id;       // roster id, as the timeline names people
    std::string user_id;  // pagerduty_user_id
    std::string role;
  };

  // `store` null: accepted requests are remembered for the life of the process only (a
  // one-off command such as `tocsin notify test`).
  PagerDutyResponders(const config::PagerDutyConfig& config, std::shared_ptr<HttpClient> http,
                      ResponderRequestStore* store);

  // Ok when every person is on the incident now (accepted or already there); the detail names
  // who was paged and how, and who was not and why.
  // `request_key`: the step page's idempotency key. A retry of the step has the same one, so
  // nobody it added is requested again; a later page of the same people (an escalation asked
  // for, an acknowledge that timed out, a repeat, a reopen: PagerDuty then has a new incident
  // for the dedup key) has its own and requests them again.
  // `at`: when the step was decided (kept with each accepted request).
  DeliveryResult AddPeople(const std::string& dedup_key, const std::string& request_key,
                           const std::string& message, const std::vector<Person>& people,
                           TimePoint at);

 private:
  HttpClientRequest Request(std::string method, std::string path, std::string body = {}) const;

  std::string api_url_;
  std::string token_;
  std::string from_;
  std::string requester_id_;
  std::shared_ptr<HttpClient> http_;
  ResponderRequestStore* store_;  // may be null
  std::mutex mu_;
  // "request_key\nuser_id" PagerDuty accepted, with when (steady clock); entries go a day and
  // an hour after, past the outbox's default retries of a delivery (notify.give_up_after 24h),
  // so a step retried without a store, or whose store write failed, still finds them.
  std::map<std::string, std::chrono::steady_clock::time_point> requested_;
  std::size_t requested_after_prune_ = 0;
};

}  // namespace tocsin::notify
