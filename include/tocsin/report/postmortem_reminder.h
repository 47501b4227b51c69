#pragma once

#include <memory>
#include <set>
#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::report {

// Reminds the war room of every SEV-1/2 resolved more than `business_days` business days ago
// (report::PostmortemDue) that has no post-mortem recorded. A check runs at Start() and then
// every `interval` on the Scheduler: it lists the incidents opened within `horizon` from the
// store and asks the incident manager to remind each due one; the manager writes the reminder
// to the timeline and posts it to the incident's Slack thread only when the timeline holds
// neither a post-mortem nor a reminder, so each incident is reminded once, across restarts.
// Incidents found done are remembered, so their timelines are read once per process.
//
// Thread-safety: loop thread only. Stop() (and the destructor) cancel the timer.
class PostmortemReminder {
 public:
  struct Options {
    int business_days = 5;
    Duration interval = std::chrono::hours(1);
    Duration horizon = std::chrono::hours(24 * 30);
  };

  PostmortemReminder(Scheduler& scheduler, incident::IncidentManager& manager, Options options);
  ~PostmortemReminder();
  PostmortemReminder(const PostmortemReminder&) = delete;
  PostmortemReminder& operator=(const PostmortemReminder&) = delete;

  void Start();
  void Stop();
  // One check at the scheduler's now (Start and the timer call it).
  void Check();

 private:
  void Arm();

  Scheduler& scheduler_;
  incident::IncidentManager& manager_;
  Options options_;
  TimerId timer_ = 0;
  std::set<std::string> done_;     // reminded or recorded: never asked again
  std::set<std::string> pending_;  // asked, no answer yet
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::report
