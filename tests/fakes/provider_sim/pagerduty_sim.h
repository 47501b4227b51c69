#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tocsin/http/router.h"

namespace tocsin::sim {

class ProviderSim;

// PagerDuty as the simulator plays it, beyond accepting Events v2: an account (API token, users
// with e-mail and id, which users each routing key's escalation policy pages), incidents kept
// by (routing key, dedup_key) so that a repeated trigger folds into the open incident and pages
// nobody new, and the REST API calls tocsin makes to add people (GET /incidents by incident_key,
// GET /incidents/{id}, POST /incidents/{id}/responder_requests), as strict as the real one:
// `Authorization: Token token=<key>`, the v2 Accept header, a From header naming a user of the
// account on writes, 404 for an unknown incident or user. Records which user was paged, when
// and how (GET /_sim/pagerduty/pages). Faults (429 + Retry-After, 5xx) come from the shared
// fault table. Thread-safety: state under its own mutex.
class PagerDutySim {
 public:
  explicit PagerDutySim(ProviderSim& sim) : sim_(sim) {}
  void AddRoutes(http::Router& router);
  // An Events v2 event the simulator accepted (called by ProviderSim, after its checks).
  void OnEvent(const nlohmann::json& event, const std::string& dedup_key);

 private:
  struct User {
    std::string id, email, name;
  };
  struct Incident {
    std::string id;
    std::int64_t number = 0;
    std::string routing_key, dedup_key, title, status;
    int alert_count = 0;
    std::vector<std::string> assigned;    // user ids (the escalation policy's)
    std::vector<std::string> responders;  // user ids added by responder requests
  };
  void ListIncidents(const http::Request& req, http::Respond respond);
  void GetIncident(const http::Request& req, http::Respond respond);
  void ResponderRequest(const http::Request& req, http::Respond respond);
  // The reason a REST request is refused, with its status; {0, ""} when it may go on.
  std::pair<int, std::string> CheckRest(const http::Request& req, bool write);
  nlohmann::json IncidentJson(const Incident& i) const;
  void Page(const std::string& user, const Incident& i, const std::string& how);
  Incident* FindIncident(const std::string& id);

  ProviderSim& sim_;
  mutable std::mutex mu_;
  std::string token_;
  std::map<std::string, User> users_;                         // by id
  std::map<std::string, std::vector<std::string>> services_;  // routing key -> user ids
  std::vector<Incident> incidents_;
  nlohmann::json pages_ = nlohmann::json::array();
  std::int64_t next_number_ = 1;
};

}  // namespace tocsin::sim
