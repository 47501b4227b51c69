#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
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

// Implemented by the notify module. Send() must make the request durable before returning
// (the outbox), so that a crash after it returns never loses the page. Loop thread only.
class Pager {
 public:
  virtual ~Pager() = default;
  virtual void Send(const PageRequest& request) = 0;
};

struct DeliveryReport {
  std::string incident_id;
  std::string idempotency_key;
  std::string person_id;  // empty for channel-wide deliveries
  Channel channel = Channel::kSlack;
  bool ok = false;
  bool permanent_failure = false;  // given up: the timeline and Slack must say so
  std::string detail;              // provider answer or error, secrets redacted
  TimePoint at{};
};

// Implemented by the incident module: every delivery outcome lands in the timeline.
class DeliveryObserver {
 public:
  virtual ~DeliveryObserver() = default;
  virtual void OnDelivery(const DeliveryReport& report) = 0;
};

}  // namespace tocsin::incident
