#include "tocsin/api/manager_incident_commands.h"

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

http::ActionOutcome Duplicate(const Incident& inc) {
  http::ActionOutcome out = OutcomeOf(inc, false);
  out.duplicate = true;
  return out;
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
  std::optional<InboundDelivery> delivery;
  if (request.delivery) {
    auto seen = manager_.HasDelivery(request.delivery->source, request.delivery->id);
    if (!seen) return Fail(seen.error());
    if (*seen) return Duplicate(*before);
    delivery = InboundDelivery{request.delivery->source, request.delivery->id, now};
  }
  // Nothing to do (a double click, the provider echoing tocsin's own mirror): nothing for the
  // timeline, nobody to page; the delivery alone is recorded so that it is not processed again.
  auto unchanged = [&]() -> Result<http::ActionOutcome> {
    if (delivery) {
      if (auto r = manager_.RecordDelivery(*delivery); !r) {
        if (r.error().kind() == Error::Kind::kConflict) return Duplicate(*before);
        return Fail(r.error());
      }
    }
    return OutcomeOf(*before, false);
  };
  Result<Incident> after = *before;
  switch (request.action) {
    case http::IncidentAction::kAcknowledge:
      if (before->state != IncidentState::kTriggered) return unchanged();
      after = manager_.Acknowledge(id, request.actor, now, origin, delivery);
      break;
    case http::IncidentAction::kResolve:
      if (before->state == IncidentState::kResolved) return unchanged();
      after = manager_.Resolve(id, request.actor, now, origin, delivery);
      break;
    case http::IncidentAction::kNote:
      after = manager_.AddNote(id, request.actor, request.text, now, origin, delivery);
      break;
    case http::IncidentAction::kEscalate:
      if (before->state == IncidentState::kResolved) return unchanged();
      // The escalation engine commits the pages; the request is claimed first so that a replay
      // never pages a second time.
      if (delivery) {
        if (auto r = manager_.RecordDelivery(*delivery); !r) {
          if (r.error().kind() == Error::Kind::kConflict) return Duplicate(*before);
          return Fail(r.error());
        }
      }
      after = manager_.EscalateNow(id, request.actor, now, origin);
      break;
  }
  if (!after) return Fail(after.error());
  return OutcomeOf(*after, after->timeline_seq != before->timeline_seq);
}

Result<bool> ManagerIncidentCommands::Processed(const http::DeliveryKey& delivery) {
  return manager_.HasDelivery(delivery.source, delivery.id);
}

Result<void> ManagerIncidentCommands::RecordProcessed(const http::DeliveryKey& delivery) {
  return manager_.RecordDelivery({delivery.source, delivery.id, clock_.Now()});
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
