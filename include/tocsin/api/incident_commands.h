#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/oncall/person.h"

namespace tocsin::http {

// Where an action came from. The incident side uses it to avoid echoing an action back to the
// provider it came from (an ack done in PagerDuty is not sent to PagerDuty again).
enum class ActionOrigin { kApi, kCli, kSlack, kPagerDuty, kOpsgenie, kTwilio, kJsm, kPanel };
std::string_view ActionOriginName(ActionOrigin o);

// kUnacknowledge comes from providers only (an ack withdrawn in PagerDuty or Opsgenie).
enum class IncidentAction { kAcknowledge, kResolve, kEscalate, kNote, kUnacknowledge };
std::string_view IncidentActionName(IncidentAction a);

// One inbound request, for "act once": a provider's webhook delivery (source "pagerduty" and
// the signed event id) or a signed Slack request (source "slack" and its signature).
struct DeliveryKey {
  std::string source;
  std::string id;
};

struct ActionRequest {
  std::string incident_ref;  // "INC-42", or a provider dedup key / alias
  IncidentAction action = IncidentAction::kAcknowledge;
  std::string actor;  // roster person id, or "pagerduty:Olena Kovalenko", "token:ci"
  ActionOrigin origin = ActionOrigin::kApi;
  std::string text;  // for notes
  // The request that asks for the action, if it came in one that may be delivered again.
  std::optional<DeliveryKey> delivery;
};

struct ActionOutcome {
  std::string incident_id;
  std::string state;     // state after the action: "triggered" | "acknowledged" | "resolved"
  bool changed = false;  // false when it was already so (a double click)
  std::string title;
  bool duplicate = false;  // the delivery was processed before: nothing was done this time
};

struct IncidentBrief {
  std::string id;
  std::string title;
  std::string state;
  int sev = 3;
  std::string opened_at;           // RFC 3339
  std::vector<std::string> paged;  // person ids the ladder reached so far
};

// What the inbound endpoints (Slack, provider webhooks) need from the incident side.
// kNotFound for an unknown incident, kInvalid for an action that makes no sense (resolving a
// resolved incident is not an error: changed=false). Loop thread only.
//
// Act with a `delivery` records it durably together with the action's effect (or alone when
// the action changed nothing), so a delivery is processed once: a delivery processed before
// answers duplicate=true, and one whose action failed is not recorded, so its retry is acted
// on.
//
// The …Async forms answer through `done`, on the loop, once the effect is durable; an
// implementation over a store that commits on its own thread answers only through them (the
// daemon's handlers use them). Their defaults call the synchronous forms.
class IncidentCommands {
 public:
  template <typename T>
  using Done = std::function<void(Result<T>)>;
  virtual ~IncidentCommands() = default;
  virtual Result<ActionOutcome> Act(const ActionRequest& request) = 0;
  virtual void ActAsync(const ActionRequest& request, Done<ActionOutcome> done) {
    done(Act(request));
  }
  // Whether the delivery was processed (by Act, or recorded by RecordProcessed).
  virtual Result<bool> Processed(const DeliveryKey& delivery) = 0;
  // Records a delivery that asks for nothing Act does (`who`, a silence, a refusal), so that a
  // replay of it is recognised; kConflict when it was already recorded.
  virtual Result<void> RecordProcessed(const DeliveryKey& delivery) = 0;
  virtual void RecordProcessedAsync(const DeliveryKey& delivery, Done<void> done) {
    done(RecordProcessed(delivery));
  }
  virtual std::vector<IncidentBrief> OpenIncidents() = 0;
};

// What the inbound endpoints need from the roster.
class PersonDirectory {
 public:
  virtual ~PersonDirectory() = default;
  virtual std::optional<oncall::Person> BySlackUserId(const std::string& slack_user_id) = 0;
  // The person whose roster `phone` is `e164` ("+380501110001"; blanks, dashes, dots and
  // parentheses in the roster's spelling are ignored).
  virtual std::optional<oncall::Person> ByPhone(const std::string& e164) = 0;
  // One line per role currently on call, optionally for one team: "L1: Olena (U024BE7LH)".
  virtual std::vector<std::string> WhoIsOnCall(const std::string& team) = 0;
};

}  // namespace tocsin::http
