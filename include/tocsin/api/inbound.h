#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/result.h"

namespace tocsin::http {

// A button click from a tocsin Slack message (interactivity payload, type block_actions).
struct SlackAction {
  std::string user_id;
  std::string user_name;
  std::string team_id;
  std::string channel_id;
  std::string message_ts;
  std::string response_url;
  std::string trigger_id;
  std::string action_id;  // tocsin_ack | tocsin_resolve | tocsin_escalate
  std::string value;      // the incident id
  std::string action_ts;
};

// Parses the form body `payload=<json>` of a Slack interactivity request. Only block_actions
// with one action are accepted; anything else is kInvalid with a reason.
Result<SlackAction> ParseSlackInteraction(std::string_view form_body);

// A slash command (form fields as Slack sends them).
struct SlashCommand {
  std::string command;  // "/tocsin"
  std::string text;     // "ack INC-42"
  std::string user_id;
  std::string user_name;
  std::string team_id;
  std::string channel_id;
  std::string response_url;
  std::string trigger_id;
  std::vector<std::string> words;  // text split on whitespace
};
Result<SlashCommand> ParseSlashCommand(std::string_view form_body);

// What a provider says happened to an incident, from its webhook.
struct ProviderIncidentEvent {
  std::string provider;  // "pagerduty" | "opsgenie" | "jsm"
  // For dedup, from the authenticated body only: PagerDuty's event.id; Opsgenie's
  // "<alertId>/<action>/<updatedAt>"; without those, "sha256:<hex of the body>".
  std::string delivery_id;
  std::string action;  // "acknowledge" | "resolve" | "unacknowledge" | "reopen" | "note" | "other"
  std::string raw_type;      // e.g. "incident.acknowledged", "Acknowledge"
  std::string incident_key;  // PagerDuty incident_key / Opsgenie alias = tocsin's dedup_key
  std::string actor;         // who did it in the provider, "" when unknown
  std::string note;
};

// PagerDuty webhook v3 body. The unsigned X-Webhook-Id header plays no part: a signed body
// replayed under a new header would otherwise be a new delivery.
Result<ProviderIncidentEvent> ParsePagerDutyWebhook(std::string_view body);
// Opsgenie outgoing webhook body.
Result<ProviderIncidentEvent> ParseOpsgenieWebhook(std::string_view body);
// Jira Service Management Operations outgoing webhook body (Opsgenie's shape). A later ladder
// step's alert is aliased "<dedup key>/step-<n>": the incident key is the dedup key.
Result<ProviderIncidentEvent> ParseJsmWebhook(std::string_view body);

}  // namespace tocsin::http
