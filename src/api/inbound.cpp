#include "tocsin/api/inbound.h"

#include <nlohmann/json.hpp>

#include "tocsin/common/crypto.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/http/http_types.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {

namespace {
using nlohmann::json;

std::string Field(const std::vector<std::pair<std::string, std::string>>& form,
                  std::string_view name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

// The delivery key of a body that carries no id of its own.
std::string BodyKey(std::string_view body) { return "sha256:" + Sha256Hex(body); }

Result<json> ParseJson(std::string_view text, std::string_view what) {
  auto parsed = tocsin::ParseJson(text);
  if (!parsed) return Fail(Error::Invalid(std::string(what) + ": " + parsed.error().message()));
  json j = std::move(*parsed);
  if (!j.is_object()) return Fail(Error::Invalid(std::string(what) + " is not a JSON object"));
  return j;
}
}  // namespace

Result<SlackAction> ParseSlackInteraction(std::string_view form_body) {
  auto form = ParseFormEncoded(form_body);
  std::string payload = Field(form, "payload");
  if (payload.empty()) return Fail(Error::Invalid("missing form field \"payload\""));
  auto j = ParseJson(payload, "payload");
  if (!j) return Fail(j.error());
  if (JsonString(*j, "type") != "block_actions") {
    return Fail(Error::Invalid("unsupported interaction type \"" + JsonString(*j, "type") + "\""));
  }
  SlackAction a;
  const json& user = JsonMember(*j, "user");
  a.user_id = JsonString(user, "id");
  a.user_name = JsonString(user, "username");
  if (a.user_name.empty()) a.user_name = JsonString(user, "name");
  a.team_id = JsonString(JsonMember(*j, "team"), "id");
  if (a.team_id.empty()) a.team_id = JsonString(user, "team_id");
  a.channel_id = JsonString(JsonMember(*j, "channel"), "id");
  const json& container = JsonMember(*j, "container");
  a.message_ts = JsonString(container, "message_ts");
  if (a.channel_id.empty()) a.channel_id = JsonString(container, "channel_id");
  a.response_url = JsonString(*j, "response_url");
  a.trigger_id = JsonString(*j, "trigger_id");
  const json& actions = JsonMember(*j, "actions");
  if (!actions.is_array() || actions.size() != 1 || !actions[0].is_object()) {
    return Fail(Error::Invalid("expected exactly one action"));
  }
  a.action_id = JsonString(actions[0], "action_id");
  a.value = JsonString(actions[0], "value");
  a.action_ts = JsonString(actions[0], "action_ts");
  if (a.user_id.empty()) return Fail(Error::Invalid("payload has no user.id"));
  if (a.action_id.empty()) return Fail(Error::Invalid("action has no action_id"));
  return a;
}

Result<SlashCommand> ParseSlashCommand(std::string_view form_body) {
  auto form = ParseFormEncoded(form_body);
  SlashCommand c;
  c.command = Field(form, "command");
  c.text = Field(form, "text");
  c.user_id = Field(form, "user_id");
  c.user_name = Field(form, "user_name");
  c.team_id = Field(form, "team_id");
  c.channel_id = Field(form, "channel_id");
  c.response_url = Field(form, "response_url");
  c.trigger_id = Field(form, "trigger_id");
  if (c.command.empty()) return Fail(Error::Invalid("missing form field \"command\""));
  if (c.user_id.empty()) return Fail(Error::Invalid("missing form field \"user_id\""));
  std::string_view rest = c.text;
  while (!rest.empty()) {
    auto start = rest.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto end = rest.find_first_of(" \t\r\n");
    c.words.emplace_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  return c;
}

Result<ProviderIncidentEvent> ParsePagerDutyWebhook(std::string_view body) {
  auto j = ParseJson(body, "webhook body");
  if (!j) return Fail(j.error());
  const json& event = JsonMember(*j, "event");
  if (!event.is_object()) return Fail(Error::Invalid("missing \"event\" object"));
  ProviderIncidentEvent e;
  e.provider = "pagerduty";
  e.raw_type = JsonString(event, "event_type");
  if (e.raw_type.empty()) return Fail(Error::Invalid("missing event.event_type"));
  // Only the body is signed: a replayed body under a new X-Webhook-Id header is the same
  // delivery. A body without an event id (PagerDuty always sends one) is keyed by its bytes.
  e.delivery_id = JsonString(event, "id");
  if (e.delivery_id.empty()) e.delivery_id = BodyKey(body);
  static const std::pair<const char*, const char*> kActions[] = {
      {"incident.acknowledged", "acknowledge"},
      {"incident.resolved", "resolve"},
      {"incident.unacknowledged", "unacknowledge"},
      {"incident.reopened", "reopen"},
      {"incident.annotated", "note"}};
  e.action = "other";
  for (const auto& [type, action] : kActions) {
    if (e.raw_type == type) e.action = action;
  }
  const json& data = JsonMember(event, "data");
  e.incident_key = JsonString(data, "incident_key");
  const json& agent =
      JsonMember(event, "agent");  // null when PagerDuty itself acted (e.g. auto-resolve)
  e.actor = JsonString(agent, "summary");
  if (e.actor.empty()) e.actor = JsonString(agent, "id");
  if (e.action == "note") e.note = JsonString(data, "content");
  return e;
}

Result<ProviderIncidentEvent> ParseOpsgenieWebhook(std::string_view body) {
  auto j = ParseJson(body, "webhook body");
  if (!j) return Fail(j.error());
  ProviderIncidentEvent e;
  e.provider = "opsgenie";
  e.raw_type = JsonString(*j, "action");
  if (e.raw_type.empty()) return Fail(Error::Invalid("missing \"action\""));
  static const std::pair<const char*, const char*> kActions[] = {{"Acknowledge", "acknowledge"},
                                                                 {"Close", "resolve"},
                                                                 {"UnAcknowledge", "unacknowledge"},
                                                                 {"AddNote", "note"}};
  e.action = "other";
  for (const auto& [type, action] : kActions) {
    if (e.raw_type == type) e.action = action;
  }
  const json& alert = JsonMember(*j, "alert");
  if (!alert.is_object()) return Fail(Error::Invalid("missing \"alert\" object"));
  e.incident_key = JsonString(alert, "alias");
  e.actor = JsonString(alert, "username");
  e.note = JsonString(alert, "note");
  // Opsgenie sends no delivery id; the alert id plus action and update time identifies one.
  // Without them, the body's bytes do.
  const json& at = JsonMember(alert, "updatedAt");
  const std::string alert_id = JsonString(alert, "alertId");
  e.delivery_id = !alert_id.empty() && at.is_number_integer()
                      ? alert_id + "/" + e.raw_type + "/" + std::to_string(at.get<long long>())
                      : BodyKey(body);
  return e;
}

Result<ProviderIncidentEvent> ParseJsmWebhook(std::string_view body) {
  auto e = ParseOpsgenieWebhook(body);
  if (!e) return e;
  e->provider = "jsm";
  // "tocsin/INC-42/step-2" -> "tocsin/INC-42" (see JsmNotifier::StepAlias).
  static const std::string kStep = "/step-";
  auto pos = e->incident_key.rfind(kStep);
  if (pos != std::string::npos && pos + kStep.size() < e->incident_key.size() &&
      e->incident_key.find_first_not_of("0123456789", pos + kStep.size()) == std::string::npos) {
    e->incident_key.resize(pos);
  }
  return e;
}

}  // namespace tocsin::http
