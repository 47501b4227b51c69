// IncidentManager, a cluster's standby and active (docs/operations.md, "What a standby does"):
// a read-only manager hands what a person asks to its forwarder, and the active applies what
// standbys forwarded through the same calls, once per request.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

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
    case Kind::kUnacknowledge:
      return UnacknowledgeAsync(c.incident_id, c.actor, now, c.origin, delivery, std::move(done));
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
    case Kind::kPostmortem:
      return ApplyThenRecord(std::move(change), now, std::move(done));
    case Kind::kEscalate:
    case Kind::kStatusUpdate:
      break;
  }
  // These two carry no delivery into their commit: the delivery is recorded first, and one
  // already recorded means the change was applied (or its commit was lost with a crash: a page
  // not sent twice is the lesser harm).
  auto apply = [this, c, now, done]() {
    if (c.kind == Kind::kEscalate) {
      return EscalateNowAsync(c.incident_id, c.actor, now, c.origin, done);
    }
    PostStatusUpdateAsync(c.incident_id, c.actor, c.update, now, c.origin, done);
  };
  if (!delivery) return apply();
  RecordDeliveryAsync(*delivery, [this, c, apply, done](Result<void> r) {
    if (!r && r.error().kind() == Error::Kind::kConflict) return done(AlreadyApplied(c));
    if (!r) return done(Fail(r.error()));
    apply();
  });
}

// An opening, a drill and a post-mortem record are applied first and their delivery recorded
// after: a crash in between applies the request again, and that finds what the first one made
// (the open incident by its group's key, the post-mortem by its URL in the timeline) instead of
// making it twice. Recorded first, a crash in between lost the change while the next active
// answered that it had been applied. (An incident opened, then resolved within the seconds
// before the next active applies the request again, would be reopened: the lesser harm.)
void IncidentManager::ApplyThenRecord(ForwardedChange c, TimePoint now, Done<Incident> done) {
  using Kind = ForwardedChange::Kind;
  if (c.kind != Kind::kPostmortem && !c.group) {
    return done(Fail(Error::Invalid("the group to open is missing")));
  }
  if (c.kind == Kind::kDrill && !c.drill) {
    return done(Fail(Error::Invalid("the drill to start is missing")));
  }
  if (c.delivery) {
    auto seen = HasDelivery(c.delivery->source, c.delivery->id);
    if (!seen) return done(Fail(seen.error()));
    if (*seen) return done(AlreadyApplied(c));
  }
  // A drill's key is its own (scenario and time): in use means this request opened it.
  if (c.kind == Kind::kDrill &&
      (open_by_key_.count(c.group->key) || recent_resolved_.count(c.group->key))) {
    return done(AlreadyApplied(c));
  }
  // A post-mortem already recorded (the same person, the same URL) is found in its lane
  // (RecordPostmortemAsync).
  auto delivery = c.delivery;
  auto record = [this, delivery, done](Result<Incident> made) {
    if (!made || !delivery) return done(std::move(made));
    RecordDeliveryAsync(*delivery, [made, done](Result<void> recorded) {
      // The change is made either way; unrecorded, a replay finds it by key or URL.
      if (!recorded && recorded.error().kind() != Error::Kind::kConflict) {
        spdlog::warn("incident {}: the forwarded request is applied but not recorded: {}", made->id,
                     recorded.error().message());
      }
      done(made);
    });
  };
  if (delivery) delivery->received_at = now;
  switch (c.kind) {
    case Kind::kOpen:
      return OpenAsync(*c.group, c.actor, now, record);
    case Kind::kDrill:
      return OpenDrillAsync(*c.group, *c.drill, c.actor, now, record);
    default:
      return RecordPostmortemAsync(c.incident_id, c.actor, c.text, now, record);
  }
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
