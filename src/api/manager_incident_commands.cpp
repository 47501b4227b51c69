#include "tocsin/api/manager_incident_commands.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/common/text.h"

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
  // A drill's key is "tocsin/drill/INC-7".
  if (id.rfind("drill/", 0) == 0) id = id.substr(6);
  return AsciiUpper(std::move(id));
}

void ManagerIncidentCommands::ActAsync(const http::ActionRequest& request,
                                       Done<http::ActionOutcome> done) {
  const std::string origin(http::ActionOriginName(request.origin));
  if (request.actor.empty()) return done(Fail(Error::Invalid("an action needs an actor")));
  auto schedule = manager_.schedule();
  if (!IsProviderOrigin(origin) && schedule && !schedule->roster().FindPerson(request.actor)) {
    return done(Fail(Error::Unauthorized(fmt::format(
        "\"{}\" is not a person of the roster; only rostered people can act on incidents",
        request.actor))));
  }
  const std::string id = IncidentIdOf(request.incident_ref);
  manager_.Serialize("act/" + id, [this, request, id, origin,
                                   done](IncidentManager::Release release) {
    auto finish = [release, done](Result<http::ActionOutcome> r) {
      release();
      done(std::move(r));
    };
    auto before = manager_.Get(id);
    if (!before) return finish(Fail(before.error()));
    const TimePoint now = clock_.Now();
    std::optional<InboundDelivery> delivery;
    if (request.delivery) {
      auto seen = manager_.HasDelivery(request.delivery->source, request.delivery->id);
      if (!seen) return finish(Fail(seen.error()));
      if (*seen) return finish(Duplicate(*before));
      delivery = InboundDelivery{request.delivery->source, request.delivery->id, now};
    }
    // Records the delivery alone, then `then`; a delivery recorded meanwhile is a duplicate.
    auto record_alone = [this, delivery, finish, before = *before](std::function<void()> then) {
      manager_.RecordDeliveryAsync(*delivery, [finish, before, then](Result<void> r) {
        if (!r) {
          if (r.error().kind() == Error::Kind::kConflict) return finish(Duplicate(before));
          return finish(Fail(r.error()));
        }
        then();
      });
    };
    // Nothing to do (a double click, the provider echoing tocsin's own mirror): nothing for
    // the timeline, nobody to page; the delivery alone is recorded so that it is not processed
    // again.
    auto unchanged = [delivery, finish, record_alone, before = *before]() {
      if (!delivery) return finish(OutcomeOf(before, false));
      record_alone([finish, before] { finish(OutcomeOf(before, false)); });
    };
    auto after = [finish, before = *before](Result<Incident> r) {
      if (!r) return finish(Fail(r.error()));
      finish(OutcomeOf(*r, r->timeline_seq != before.timeline_seq));
    };
    switch (request.action) {
      case http::IncidentAction::kAcknowledge:
        if (before->state != IncidentState::kTriggered) return unchanged();
        return manager_.AcknowledgeAsync(id, request.actor, now, origin, delivery, after);
      case http::IncidentAction::kUnacknowledge:
        if (!AckWithdrawableFrom(*before, origin)) return unchanged();
        return manager_.UnacknowledgeAsync(id, request.actor, now, origin, delivery, after);
      case http::IncidentAction::kResolve:
        if (before->state == IncidentState::kResolved) return unchanged();
        return manager_.ResolveAsync(id, request.actor, now, origin, delivery, after);
      case http::IncidentAction::kNote:
        return manager_.AddNoteAsync(id, request.actor, request.text, now, origin, delivery, after);
      case http::IncidentAction::kEscalate:
        if (before->state == IncidentState::kResolved) return unchanged();
        // The escalation engine commits the pages; the request is claimed first so that a
        // replay never pages a second time.
        if (delivery) {
          return record_alone([this, id, actor = request.actor, now, origin, after] {
            manager_.EscalateNowAsync(id, actor, now, origin, after);
          });
        }
        return manager_.EscalateNowAsync(id, request.actor, now, origin, after);
    }
    finish(Fail(Error::Invalid("unknown action")));
  });
}

Result<http::ActionOutcome> ManagerIncidentCommands::Act(const http::ActionRequest& request) {
  auto out = std::make_shared<std::optional<Result<http::ActionOutcome>>>();
  ActAsync(request, [out](Result<http::ActionOutcome> r) { *out = std::move(r); });
  if (!*out) {
    return Fail(Error::Transient("the store has not answered yet; use the asynchronous call"));
  }
  return std::move(**out);
}

Result<bool> ManagerIncidentCommands::Processed(const http::DeliveryKey& delivery) {
  return manager_.HasDelivery(delivery.source, delivery.id);
}

Result<void> ManagerIncidentCommands::RecordProcessed(const http::DeliveryKey& delivery) {
  return manager_.RecordDelivery({delivery.source, delivery.id, clock_.Now()});
}

void ManagerIncidentCommands::RecordProcessedAsync(const http::DeliveryKey& delivery,
                                                   Done<void> done) {
  manager_.RecordDeliveryAsync({delivery.source, delivery.id, clock_.Now()}, std::move(done));
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
                   static_cast<int>(inc.sev), FormatRfc3339(inc.opened_at), inc.paged});
  }
  return out;
}

}  // namespace tocsin::incident
