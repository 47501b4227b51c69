#include "tocsin/incident/manager_incident_commands.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "tocsin/common/duration.h"

namespace tocsin::incident {

namespace {

constexpr std::string_view kDedupPrefix = "tocsin/";

http::ActionOutcome OutcomeOf(const Incident& inc, bool changed) {
  return {inc.id, std::string(IncidentStateName(inc.state)), changed, inc.title};
}

}  // namespace

ManagerIncidentCommands::ManagerIncidentCommands(IncidentManager& manager, const Clock& clock)
    : manager_(manager), clock_(clock) {}

std::string ManagerIncidentCommands::IncidentIdOf(const std::string& ref) {
  std::string id = ref;
  if (id.rfind(kDedupPrefix, 0) == 0) id = id.substr(kDedupPrefix.size());
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return id;
}

Result<http::ActionOutcome> ManagerIncidentCommands::Act(const http::ActionRequest& request) {
  const std::string origin(http::ActionOriginName(request.origin));
  if (request.actor.empty()) return Fail(Error::Invalid("an action needs an actor"));
  auto schedule = manager_.schedule();
  if (!IsProviderOrigin(origin) && schedule && !schedule->roster().FindPerson(request.actor)) {
    return Fail(Error::Unauthorized(fmt::format(
        "\"{}\" is not a person of the roster; only rostered people can act on incidents",
        request.actor)));
  }
  const std::string id = IncidentIdOf(request.incident_ref);
  auto before = manager_.Get(id);
  if (!before) return Fail(before.error());
  const TimePoint now = clock_.Now();
  Result<Incident> after = *before;
  switch (request.action) {
    case http::IncidentAction::kAcknowledge:
      // Already acknowledged (a double click, or the provider echoing tocsin's own mirror) or
      // already resolved: nothing to do, nothing to record, nobody to page.
      if (before->state != IncidentState::kTriggered) return OutcomeOf(*before, false);
      after = manager_.Acknowledge(id, request.actor, now, origin);
      break;
    case http::IncidentAction::kResolve:
      if (before->state == IncidentState::kResolved) return OutcomeOf(*before, false);
      after = manager_.Resolve(id, request.actor, now, origin);
      break;
    case http::IncidentAction::kNote:
      after = manager_.AddNote(id, request.actor, request.text, now, origin);
      break;
    case http::IncidentAction::kEscalate:
      if (before->state == IncidentState::kResolved) return OutcomeOf(*before, false);
      after = manager_.EscalateNow(id, request.actor, now, origin);
      break;
  }
  if (!after) return Fail(after.error());
  return OutcomeOf(*after, after->timeline_seq != before->timeline_seq);
}

std::vector<http::IncidentBrief> ManagerIncidentCommands::OpenIncidents() {
  IncidentFilter filter;
  filter.open_only = true;
  filter.limit = 50;
  std::vector<http::IncidentBrief> out;
  auto list = manager_.List(filter);
  if (!list) return out;
  for (const auto& inc : *list) {
    out.push_back({inc.id, inc.title, std::string(IncidentStateName(inc.state)),
                   static_cast<int>(inc.sev), FormatRfc3339(inc.opened_at)});
  }
  return out;
}

}  // namespace tocsin::incident
