#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/incident/status_update.h"

namespace tocsin::incident {

// A change a person asked a standby instance of a cluster for, carried to the active one
// through the database (docs/operations.md, "What a standby does"): the standby's manager
// hands it to its Forwarder instead of refusing, and the active's applies it with
// IncidentManager::ApplyForwarded, as if it had been asked itself.
struct ForwardedChange {
  enum class Kind {
    kAcknowledge,
    kResolve,
    kNote,
    kEscalate,
    kStatusUpdate,
    kRecordDelivery,
    kOpen,           // an incident opened by hand: `group`
    kDrill,          // a drill started: `group` and `drill`
    kPostmortem,     // where the post-mortem is: `text` holds its URL
    kUnacknowledge,  // an ack withdrawn at a provider (its webhook reached the standby)
  };
  Kind kind = Kind::kAcknowledge;
  std::string incident_id;  // empty for kRecordDelivery, kOpen and kDrill
  std::string actor;
  std::string origin;   // where the person asked: "api", "slack", "pagerduty", ...
  std::string text;     // kNote; the URL of kPostmortem
  StatusUpdate update;  // kStatusUpdate
  // kOpen and kDrill: the group as the standby built it from the request, with its key (so a
  // request applied twice finds the incident it opened) and the standby's clock in the times.
  std::optional<dispatch::AlertGroup> group;
  std::optional<DrillSpec> drill;  // kDrill
  // The inbound request that asked (a Slack or webhook delivery), so that a replay of it to
  // either instance is recognised; required for kRecordDelivery.
  std::optional<InboundDelivery> delivery;
  friend bool operator==(const ForwardedChange&, const ForwardedChange&) = default;
};

ForwardedChange MakeForwardedChange(ForwardedChange::Kind kind, std::string incident_id,
                                    std::string actor, std::string origin,
                                    std::optional<InboundDelivery> delivery = std::nullopt);
std::string_view ForwardedKindName(ForwardedChange::Kind kind);
nlohmann::json ForwardedChangeToJson(const ForwardedChange& change);
// kInvalid naming the field when `j` is not a change ForwardedChangeToJson wrote.
Result<ForwardedChange> ForwardedChangeFromJson(const nlohmann::json& j);

}  // namespace tocsin::incident
