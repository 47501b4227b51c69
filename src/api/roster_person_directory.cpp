#include "tocsin/api/roster_person_directory.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "tocsin/oncall/phone.h"

namespace tocsin::incident {

namespace {

// "l1" -> "L1", "l2-payments" -> "L2-payments"; other roles read fine as they are.
std::string RoleLabel(const std::string& role) {
  if (role.size() >= 2 && role[0] == 'l' && std::isdigit(static_cast<unsigned char>(role[1]))) {
    return "L" + role.substr(1);
  }
  return role;
}

}  // namespace

RosterPersonDirectory::RosterPersonDirectory(ScheduleSource schedule, const Clock& clock)
    : schedule_(std::move(schedule)), clock_(clock) {}

std::optional<oncall::Person> RosterPersonDirectory::BySlackUserId(
    const std::string& slack_user_id) {
  auto schedule = schedule_();
  if (!schedule || slack_user_id.empty()) return std::nullopt;
  for (const auto& [id, person] : schedule->roster().people) {
    if (person.slack_user_id == slack_user_id) return person;
  }
  return std::nullopt;
}

std::optional<oncall::Person> RosterPersonDirectory::ByPhone(const std::string& e164) {
  auto schedule = schedule_();
  if (!schedule || e164.empty()) return std::nullopt;
  for (const auto& [id, person] : schedule->roster().people) {
    if (oncall::PhoneE164(person.phone) == e164) return person;
  }
  return std::nullopt;
}

std::vector<std::string> RosterPersonDirectory::WhoIsOnCall(const std::string& team) {
  std::vector<std::string> out;
  auto schedule = schedule_();
  if (!schedule) return out;
  auto shifts = schedule->OnCall(clock_.Now());
  std::stable_sort(shifts.begin(), shifts.end(),
                   [](const oncall::Shift& a, const oncall::Shift& b) { return a.role < b.role; });
  for (const auto& s : shifts) {
    if (!team.empty() && s.team != team) continue;
    const auto* p = schedule->roster().FindPerson(s.person);
    std::string name = p != nullptr && !p->name.empty() ? p->name : s.person;
    std::string slack = p != nullptr && !p->slack_user_id.empty()
                            ? fmt::format(" (<@{}>)", p->slack_user_id)
                            : std::string();
    out.push_back(fmt::format("{}: {}{}", RoleLabel(s.role), name, slack));
  }
  return out;
}

}  // namespace tocsin::incident
