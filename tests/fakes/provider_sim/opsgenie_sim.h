#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tocsin/http/router.h"

namespace tocsin::sim {

// What Opsgenie does with the alerts the simulator accepted: alerts kept by alias, a create
// while the alias is open only bumps its count (nobody new is notified), responders given on
// create or added later are notified once each while the alert is open. Records which user was
// notified, when and how, and each alert's status by alias (GET /_sim/opsgenie/pages:
// {"pages", "failed", "alerts": {alias: "open"|"acked"|"closed"}}). With a user list configured
// (POST /_sim/opsgenie/account {"users":[username...]}), an unknown responder is not notified
// and is listed under "failed", as Opsgenie's asynchronous request status would report it.
// Thread-safety: state under its own mutex.
class OpsgenieSim {
 public:
  void AddRoutes(http::Router& router);
  // Called by ProviderSim for a create / an alias action it answered with 202.
  void OnCreate(const nlohmann::json& body);
  void OnAction(const std::string& action, const std::string& alias, const nlohmann::json& body);

 private:
  struct Alert {
    bool open = true;
    std::string status = "open";
    int count = 1;
    std::set<std::string> responders;
  };
  void Notify(Alert& a, const std::string& alias, const nlohmann::json& responder,
              const std::string& how);

  mutable std::mutex mu_;
  std::set<std::string> users_;  // empty: any username is a user
  std::map<std::string, Alert> alerts_;
  nlohmann::json pages_ = nlohmann::json::array();
  nlohmann::json failed_ = nlohmann::json::array();
};

}  // namespace tocsin::sim
