#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/api/incident_commands.h"
#include "tocsin/common/clock.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::incident {

// The roster as the Slack and Twilio endpoints see it: who a Slack user or a phone number is, and
// who is on call now. Reads the schedule through `schedule` on every call, so a config reload's new
// roster applies at once. Thread-safety: loop thread only (the Schedule itself is immutable).
class RosterPersonDirectory final : public http::PersonDirectory {
 public:
  using ScheduleSource = std::function<std::shared_ptr<const oncall::Schedule>()>;
  RosterPersonDirectory(ScheduleSource schedule, const Clock& clock);

  std::optional<oncall::Person> BySlackUserId(const std::string& slack_user_id) override;
  std::optional<oncall::Person> ByPhone(const std::string& e164) override;
  // "L1: Olena Kovalenko (<@U024BE7LH>)", one line per shift holding now, ordered by role;
  // only the rotations of `team` when it is not empty (an unknown team gives no lines).
  std::vector<std::string> WhoIsOnCall(const std::string& team) override;

 private:
  ScheduleSource schedule_;
  const Clock& clock_;
};

}  // namespace tocsin::incident
