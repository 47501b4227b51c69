#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/oncall/person.h"
#include "tocsin/rules/alert.h"

namespace tocsin::incident {

enum class Sev { kSev1 = 1, kSev2 = 2, kSev3 = 3, kSev4 = 4 };

enum class PageAction {
  kTrigger,      // new incident or a new ladder step: reach these people
  kAcknowledge,  // mirror an ack to the providers
  kResolve,      // mirror a resolve
  kUpdate,       // state or content changed (Slack message update)
  kNote,         // a timeline entry worth showing (Slack thread reply)
  kReminder,     // status update due (SEV-1/2)
};
std::string_view PageActionName(PageAction a);

// The channels a ladder step may use; a provider may be unconfigured, then the next applies.
enum class Channel { kPagerDuty, kOpsgenie, kSlack, kEmail, kWebhook };
std::string_view ChannelName(Channel c);

struct PageTarget {
  oncall::Person person;
  std::string role;  // "l1", "l2-payments", "comms", "duty-manager", "shadow", ...
  std::vector<Channel> channels;
  // What the outbox made of this target, filled in the copies of a trigger it queues for
  // Slack so that the incident message and its thread say what happened rather than what was
  // meant: the channel that pages them, or `unroutable` when no configured channel of the
  // step reaches them. Both unset anywhere else (and in rows queued before they existed).
  std::optional<Channel> paged_via = std::nullopt;
  bool unroutable = false;
  friend bool operator==(const PageTarget&, const PageTarget&) = default;
};

// What the incident side asks the notify side to deliver. The notify side writes it to the
// durable outbox before sending, renders it per provider, and reports each delivery back
// through DeliveryObserver. `dedup_key` is the incident's stable key (PagerDuty dedup_key,
// Opsgenie alias); `idempotency_key` identifies this one request across retries and restarts.
struct PageRequest {
  std::string incident_id;  // "INC-42"
  std::string dedup_key;
  std::string idempotency_key;  // e.g. "INC-42/step-1/trigger"
  PageAction action = PageAction::kTrigger;
  int step = 0;  // ladder step index (0 = first)
  Sev sev = Sev::kSev3;
  std::string title;
  std::string state;  // "triggered", "acknowledged", "resolved"
  std::vector<PageTarget> targets;
  std::vector<Alert> alerts;  // the incident's alerts (firing first)
  std::vector<Alert> causes;  // cause candidates from inhibition
  std::string text;           // for kNote / kReminder: the line to show
  std::string actor;          // who acknowledged / resolved / wrote the note
  // Where the action came from: "pagerduty" | "opsgenie" | "slack" | "api" | "cli" | "" (tocsin
  // itself). Set on kAcknowledge, kResolve and kNote mirrors only, never on kTrigger. The notify
  // side must not send the mirror back to the provider it came from: origin "pagerduty" skips
  // the PagerDuty channel, "opsgenie" skips Opsgenie (that provider already has the state, and a
  // new event there would echo back as another webhook). Every other channel, Slack included,
  // still gets it: the incident message must show who acknowledged, wherever that happened.
  std::string origin;
  TimePoint opened_at{};
  TimePoint at{};  // when the request was made
  friend bool operator==(const PageRequest&, const PageRequest&) = default;
};

// PageRequest::origin values.
inline constexpr const char* kOriginPagerDuty = "pagerduty";
inline constexpr const char* kOriginOpsgenie = "opsgenie";
inline constexpr const char* kOriginSlack = "slack";
inline constexpr const char* kOriginApi = "api";
inline constexpr const char* kOriginCli = "cli";
// True for origins whose provider authenticated the actor itself (a signed webhook), so the
// actor ("pagerduty:Olena Kovalenko") need not be a roster person id.
inline bool IsProviderOrigin(std::string_view origin) {
  return origin == kOriginPagerDuty || origin == kOriginOpsgenie;
}

// Whether `channel` can reach `person` at all: PagerDuty needs the person's PagerDuty user,
// Opsgenie their Opsgenie username (the alert's responder), Slack their Slack user (the
// mention that notifies them), e-mail an address. A webhook carries the targets to the
// system behind it, which does its own routing, so it counts as reaching everyone.
bool ChannelReaches(Channel channel, const oncall::Person& person);

// One delivery the outbox holds for a page: which provider, which operation ("page", "post",
// "update", "thread"), the person it is addressed to when it is one per person (e-mail), and
// the people it is meant to reach (empty: channel-wide, such as the update of the Slack
// incident message).
struct QueuedDelivery {
  Channel channel = Channel::kSlack;
  std::string kind;
  std::string person_id;
  std::vector<std::string> people;
  friend bool operator==(const QueuedDelivery&, const QueuedDelivery&) = default;
};

// A target of a page that no configured channel of its step reaches.
struct UnroutableTarget {
  std::string person_id;
  std::string role;
  std::string reason;  // which channels were tried and what each lacks
  friend bool operator==(const UnroutableTarget&, const UnroutableTarget&) = default;
};

// What Pager::Send made durable: every delivery now in the outbox for the request (also those
// an earlier Send of the same idempotency key had queued), and the targets nobody can reach.
struct PageReceipt {
  std::vector<QueuedDelivery> queued;
  std::vector<UnroutableTarget> unroutable;
  friend bool operator==(const PageReceipt&, const PageReceipt&) = default;
};

// Implemented by the notify module. Send() makes the request durable (the outbox) before it
// returns ok, so that a crash after it returns never loses the page. An error means nothing of
// the request was written: the caller must send the same request (same idempotency key) again
// later; nothing may say it was queued. Loop thread only.
class Pager {
 public:
  virtual ~Pager() = default;
  virtual Result<PageReceipt> Send(const PageRequest& request) = 0;
};

// What became of one delivery attempt. Names are what the timeline and the API show.
enum class DeliveryOutcome {
  kSent,      // the provider accepted it (2xx, SMTP 250)
  kRetrying,  // it failed and will be tried again
  kFailed,    // it failed for good: permanent error, given up, or the provider went away
  kSkipped,   // deliberately not sent (the action came from that provider)
};
std::string_view DeliveryOutcomeName(DeliveryOutcome o);  // "sent", "retrying", ...

struct DeliveryReport {
  std::string incident_id;
  std::string idempotency_key;
  std::string person_id;                       // empty for channel-wide deliveries
  Channel channel = Channel::kSlack;           // provider it went through
  Channel original_channel = Channel::kSlack;  // provider it was queued for (fail-over differs)
  std::string kind;                            // outbox operation: "page", "post", ...
  DeliveryOutcome outcome = DeliveryOutcome::kSent;
  int status = 0;            // HTTP status (or SMTP code); 0 when there was no answer
  std::string provider_ref;  // e.g. Slack's "channel ts" of the posted message
  std::string detail;        // provider answer or error, secrets redacted
  Duration retry_in{0};      // kRetrying: when the next attempt is due
  TimePoint at{};
};

// Implemented by the incident module: every delivery outcome lands in the timeline.
class DeliveryObserver {
 public:
  virtual ~DeliveryObserver() = default;
  virtual void OnDelivery(const DeliveryReport& report) = 0;
};

}  // namespace tocsin::incident
