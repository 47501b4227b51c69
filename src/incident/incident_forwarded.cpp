// IncidentManager, a cluster's standby and active (docs/operations.md, "What a standby does"):
// a read-only manager hands what a person asks to its forwarder, and the active applies what
// standbys forwarded through the same calls, once per request.
#include <fmt/format.h>

#include "tocsin/incident/forwarded_change.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

bool IncidentManager::ForwardOrRefuse(ForwardedChange change, const Done<Incident>& done) {
  if (!read_only_) return false;
  if (forwarder_) {
    forwarder_(std::move(change), done);
  } else {
    done(Fail(Error::Transient(*read_only_)));
  }
  return true;
}

void IncidentManager::ApplyForwarded(ForwardedChange change, TimePoint now, Done<Incident> done) {
  using Kind = ForwardedChange::Kind;
  if (read_only_) return done(Fail(Error::Transient(*read_only_)));
  auto delivery = change.delivery;
  if (delivery) delivery->received_at = now;
  auto& c = change;
  switch (c.kind) {
    case Kind::kAcknowledge:
      return AcknowledgeAsync(c.incident_id, c.actor, now, c.origin, delivery, std::move(done));
    case Kind::kResolve:
      return ResolveAsync(c.incident_id, c.actor, now, c.origin, delivery, std::move(done));
    case Kind::kNote:
      return AddNoteAsync(c.incident_id, c.actor, c.text, now, c.origin, delivery, std::move(done));
    case Kind::kRecordDelivery:
      if (!delivery) return done(Fail(Error::Invalid("a delivery to record is missing")));
      return RecordDeliveryAsync(*delivery, [done](Result<void> r) {
        if (!r) return done(Fail(r.error()));
        done(Incident{});
      });
    case Kind::kOpen:
    case Kind::kDrill:
      if (!c.group) return done(Fail(Error::Invalid("the group to open is missing")));
      if (c.kind == Kind::kDrill && !c.drill) {
        return done(Fail(Error::Invalid("the drill to start is missing")));
      }
      break;
    case Kind::kEscalate:
    case Kind::kStatusUpdate:
    case Kind::kPostmortem:
      break;
  }
  // These carry no delivery into their commit: the delivery is recorded first, and one
  // already recorded means the change was applied (or its commit was lost with a crash: a page
  // not sent twice is the lesser harm).
  auto apply = [this, c, now, done]() {
    switch (c.kind) {
      case Kind::kEscalate:
        return EscalateNowAsync(c.incident_id, c.actor, now, c.origin, done);
      case Kind::kOpen:
        return OpenAsync(*c.group, c.actor, now, done);
      case Kind::kDrill:
        return OpenDrillAsync(*c.group, *c.drill, c.actor, now, done);
      case Kind::kPostmortem:
        return RecordPostmortemAsync(c.incident_id, c.actor, c.text, now, done);
      default:
        return PostStatusUpdateAsync(c.incident_id, c.actor, c.update, now, c.origin, done);
    }
  };
  if (!delivery) return apply();
  RecordDeliveryAsync(*delivery, [this, c, apply, done](Result<void> r) {
    if (!r && r.error().kind() == Error::Kind::kConflict) return done(AlreadyApplied(c));
    if (!r) return done(Fail(r.error()));
    apply();
  });
}

Result<Incident> IncidentManager::AlreadyApplied(const ForwardedChange& change) {
  if (!change.group) return Current(change.incident_id);
  // The incident the first application opened, by its group's key, while it is open.
  if (auto it = open_by_key_.find(change.group->key); it != open_by_key_.end()) {
    return Current(it->second);
  }
  return Fail(Error::Conflict(
      fmt::format("this {} was applied already, and the incident it opened is no longer open",
                  ForwardedKindName(change.kind))));
}

}  // namespace tocsin::incident
