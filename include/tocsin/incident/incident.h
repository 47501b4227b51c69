#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/incident/page.h"
#include "tocsin/rules/alert.h"

namespace tocsin::incident {

// The actor of what tocsin does by itself (ladder steps, alerts firing and resolving) in
// timelines and page requests; what a person does carries their id instead.
inline constexpr const char* kSystemActor = "tocsin";

enum class IncidentState { kTriggered, kAcknowledged, kResolved };
std::string_view IncidentStateName(IncidentState s);  // "triggered", "acknowledged", "resolved"
std::optional<IncidentState> ParseIncidentState(std::string_view s);

// SEV from the alerts: a `sev` label ("1".."4", or "sev-1") on any firing alert wins (the rule
// author knows when a critical symptom is SEV-1); otherwise critical -> SEV-2, error -> SEV-3,
// warning/info -> SEV-4.
Sev SevOf(const std::vector<Alert>& alerts);
std::string SevName(Sev s);  // "SEV-1"

// One incident: what fired, who owns it, where the ladder stands. Plain value; the incident
// manager owns the live copies and writes every change to the IncidentStore before it is
// announced. Deadlines are absolute so a restart re-arms them exactly.
struct Incident {
  std::string id;  // "INC-42"
  std::int64_t number = 0;
  std::string key;  // the dispatcher's group key (or "manual/<id>")
  std::string title;
  std::string receiver;
  std::string policy;
  std::string domain;  // from the alerts' `domain` label, selects the L2
  Sev sev = Sev::kSev3;
  IncidentState state = IncidentState::kTriggered;
  Labels group_labels;
  std::vector<Alert> alerts;
  std::vector<Alert> causes;
  TimePoint opened_at{};
  TimePoint acknowledged_at{};
  TimePoint resolved_at{};
  std::string acknowledged_by;
  std::string resolved_by;
  std::string commander;  // person id of the incident commander (L1 by default)
  // Opened by `tocsin drill start`: its pages are marked DRILL and it never counts in the
  // on-call KPIs (reports and metrics skip it).
  bool drill = false;

  // Ladder position. Step k falls due at ladder_start + steps[k].after. `epoch` counts ladder
  // restarts (reopen, ack timeout, repeat) and is part of every idempotency key.
  int next_step = 0;
  int round = 0;
  int epoch = 0;
  TimePoint ladder_start{};
  TimePoint next_step_at{};        // zero: no step pending
  TimePoint ack_deadline{};        // zero: none
  TimePoint next_reminder_at{};    // zero: none
  std::vector<std::string> paged;  // person ids reached so far
  // The decision time of the newest page its changes queued (the outbox orders an incident's
  // pages by it). Stored with the incident, so the next change's pages come after it also
  // after a restart, or a takeover by a host whose clock is behind.
  TimePoint last_page_at{};

  // Head of the timeline hash chain, so deleting the newest events is detectable too.
  std::int64_t timeline_seq = 0;
  std::string timeline_head;

  bool open() const { return state != IncidentState::kResolved; }
  friend bool operator==(const Incident&, const Incident&) = default;
};

// Timeline event kinds about pages, stored by these names. A page's life reads: page_decided
// (the ladder chose these people; recorded with the page intent), then per delivery queued (the
// outbox has it), then sent (the provider accepted it) or failed (data.permanent says whether it
// is retried); skipped when it was deliberately not sent; not_paged for a person no configured
// channel can reach.
inline constexpr std::string_view kEventPageDecided = "page_decided";
inline constexpr std::string_view kEventQueued = "queued";
inline constexpr std::string_view kEventSent = "sent";
inline constexpr std::string_view kEventFailed = "failed";
inline constexpr std::string_view kEventSkipped = "skipped";
inline constexpr std::string_view kEventNotPaged = "not_paged";

// One append-only timeline entry. `hash` = SHA-256 over prev_hash and the canonical form of
// every other field; see timeline.h.
struct TimelineEvent {
  std::string incident_id;
  std::int64_t seq = 0;  // 1-based, per incident
  TimePoint at{};
  // opened, alert_fired, alert_resolved, escalated, page_decided, queued, sent, failed,
  // skipped, not_paged, acknowledged, unacknowledged, ack_timeout, note, reminder, handover,
  // resolved, auto_resolved, reopened. Timelines written before page_decided existed also hold
  // notified (now page_decided) and delivery (now sent / failed / skipped).
  std::string kind;
  std::string actor;  // person id, kSystemActor, or an API caller
  std::string text;
  std::string data;  // JSON object with details (targets, channel, idempotency key, ...)
  std::string prev_hash;
  std::string hash;
  friend bool operator==(const TimelineEvent&, const TimelineEvent&) = default;
};

}  // namespace tocsin::incident
