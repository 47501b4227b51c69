#pragma once

#include <compare>
#include <functional>
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
  kTrigger,       // new incident or a new ladder step: reach these people
  kAcknowledge,   // mirror an ack to the providers
  kResolve,       // mirror a resolve
  kUpdate,        // state or content changed (Slack message update)
  kNote,          // a timeline entry worth showing (Slack thread reply)
  kReminder,      // status update due (SEV-1/2)
  kStatusUpdate,  // a person posted the status template: war room and status page
};
std::string_view PageActionName(PageAction a);

// A paging provider a ladder step may use, by the name config, store and API spell it
// ("pagerduty"). Which names exist is the notify module's provider registry's business, so a
// new provider adds nothing here; the incident side only carries channels and names the few it
// picks itself (the default ladder, the commander's page). Stored and compared by name, never
// by position. Plain value, cheap to copy; its text lives for the whole process.
class Channel {
 public:
  static const Channel kPagerDuty;
  static const Channel kOpsgenie;
  static const Channel kSlack;
  static const Channel kEmail;
  static const Channel kWebhook;
  static const Channel kTwilio;

  // The channel called `name` (from config or a stored row). Whether such a provider exists is
  // checked where names are read (config) or used (an unknown one is "not configured").
  static Channel Named(std::string_view name);
  constexpr std::string_view name() const { return name_; }
  friend constexpr bool operator==(const Channel& a, const Channel& b) {
    return a.name_ == b.name_;
  }
  friend constexpr auto operator<=>(const Channel& a, const Channel& b) {
    return a.name_ <=> b.name_;
  }

 private:
  // Only for string literals, whose storage lives for the whole process.
  struct Literal {};
  constexpr Channel(Literal, std::string_view name) : name_(name) {}
  std::string_view name_;
};
inline constexpr Channel Channel::kPagerDuty{Literal{}, "pagerduty"};
inline constexpr Channel Channel::kOpsgenie{Literal{}, "opsgenie"};
inline constexpr Channel Channel::kSlack{Literal{}, "slack"};
inline constexpr Channel Channel::kEmail{Literal{}, "email"};
inline constexpr Channel Channel::kWebhook{Literal{}, "webhook"};
inline constexpr Channel Channel::kTwilio{Literal{}, "twilio"};
inline std::string_view ChannelName(Channel c) { return c.name(); }

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
  std::string text;           // for kNote / kReminder / kStatusUpdate: the line(s) to show
  // kStatusUpdate: the update as a JSON object (situation, affected, measures, next update),
  // for receivers that want it structured (the status-page webhook). Empty otherwise.
  std::string details;
  std::string actor;  // who acknowledged / resolved / wrote the note
  // Where the action came from: "pagerduty" | "opsgenie" | "slack" | "api" | "cli" | "" (tocsin
  // itself). Set on kAcknowledge, kResolve and kNote mirrors only, never on kTrigger. The notify
  // side must not send the mirror back to the provider it came from: origin "pagerduty" skips
  // the PagerDuty channel, "opsgenie" skips Opsgenie (that provider already has the state, and a
  // new event there would echo back as another webhook). Every other channel, Slack included,
  // still gets it: the incident message must show who acknowledged, wherever that happened.
  std::string origin;
  TimePoint opened_at{};
  TimePoint at{};  // when the request was made
  // A drill (`tocsin drill start`): every provider marks what it sends as such, so nobody
  // mistakes it for a real page.
  bool drill = false;
  friend bool operator==(const PageRequest&, const PageRequest&) = default;
};

// What marks a drill in every title and message people see ("DRILL — [SEV-2] INC-7: ...").
inline constexpr std::string_view kDrillMark = "DRILL \u2014 ";

// PageRequest::origin values.
inline constexpr const char* kOriginPagerDuty = "pagerduty";
inline constexpr const char* kOriginOpsgenie = "opsgenie";
inline constexpr const char* kOriginJsm = "jsm";
inline constexpr const char* kOriginSlack = "slack";
inline constexpr const char* kOriginApi = "api";
inline constexpr const char* kOriginCli = "cli";
inline constexpr const char* kOriginTwilio = "twilio";  // an SMS reply or a keypress
// True for origins whose provider authenticated the actor itself (a signed webhook), so the
// actor ("pagerduty:Olena Kovalenko") need not be a roster person id.
inline bool IsProviderOrigin(std::string_view origin) {
  return origin == kOriginPagerDuty || origin == kOriginOpsgenie || origin == kOriginJsm;
}

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

// Implemented by the notify module. Send() plans the request and writes it to the outbox
// without blocking (the write joins the store thread's next group commit); `done` runs on the
// loop once the request is durable, with what was queued, so that a crash after an ok never
// loses the page. An error means nothing of the request was written: the caller must send the
// same request (same idempotency key) again later; nothing may say it was queued. `done` may
// run before Send returns (a store without a writer thread) or later; it does not run when the
// Pager is destroyed first (the request, if written, goes out after the next start). Loop
// thread only.
class Pager {
 public:
  using SendDone = std::function<void(Result<PageReceipt>)>;
  virtual ~Pager() = default;
  virtual void Send(const PageRequest& request, SendDone done) = 0;
  // Send() for a request whose intent is not durable yet: the IncidentStore write that records
  // it was submitted before this call, to the store writer this Pager writes through, and has
  // not completed. The request is written only if its intent is recorded when the Pager's write
  // runs (writes run in submission order, so the intent's write ran first: usually both land in
  // one group commit, one fsync for the two); when it is not (that change failed), nothing is
  // written and `done` gets kNotFound. `done` runs after the intent's own completion, except
  // when the store is shutting down (it refuses at once): the caller must not take a refusal
  // for the change's failure.
  // Only for a Pager the composition root declared to share the incident store's writer
  // (IncidentManager::SetPagerSharesWriter); the default refuses, writing nothing.
  virtual void SendOnceDecided(const PageRequest& request, SendDone done);
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
  PageAction action = PageAction::kTrigger;    // what the delivery does at the provider
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
