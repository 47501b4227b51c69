#include "tocsin/api/incident_api.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "api_response.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/common/labels.h"
#include "tocsin/incident/incident_json.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;

using api::ErrorResponse;
using api::JsonResponse;
using api::ParseBody;

json IncidentSummary(const Incident& i) {
  return {{"id", i.id},
          {"sev", SevName(i.sev)},
          {"state", std::string(IncidentStateName(i.state))},
          {"title", i.title},
          {"commander", i.commander},
          {"opened_at", FormatRfc3339(i.opened_at)},
          {"acknowledged_by", i.acknowledged_by},
          {"resolved_by", i.resolved_by},
          {"policy", i.policy},
          {"drill", i.drill},
          {"next_step", i.next_step},
          {"next_step_at", i.next_step_at == TimePoint{} ? "" : FormatRfc3339(i.next_step_at)}};
}

// A posted alert's members of the wrong type are refused with their names, never dropped:
// the caller learns at once that `annotations` or `starts_at` did not land. `where` names the
// alert ("alerts[2]").
Result<void> CheckAlertFields(const json& a, const std::string& where) {
  if (!a.is_object()) return Fail(Error::Invalid(where + " must be a JSON object"));
  const json& labels = JsonMember(a, "labels");
  if (!labels.is_object()) {
    return Fail(Error::Invalid(fmt::format("{} needs `labels`, an object of strings", where)));
  }
  for (const auto& [name, value] : labels.items()) {
    if (!IsValidLabelName(name)) {
      return Fail(Error::Invalid(fmt::format(
          "label name \"{}\" of {} is not valid: letters, digits and _, not starting with a digit",
          name, where)));
    }
    if (!value.is_string()) {
      return Fail(Error::Invalid(fmt::format("label `{}` of {} must be a string", name, where)));
    }
  }
  const json& annotations = JsonMember(a, "annotations");
  if (!annotations.is_null() && !annotations.is_object()) {
    return Fail(Error::Invalid(fmt::format("`annotations` of {} must be an object", where)));
  }
  for (const auto& [name, value] : annotations.items()) {
    if (!value.is_string() && !value.is_null()) {  // null reads as absent
      return Fail(
          Error::Invalid(fmt::format("annotation `{}` of {} must be a string", name, where)));
    }
  }
  for (const char* key :
       {"state", "severity", "generator_url", "rule", "starts_at", "ends_at", "updated_at"}) {
    auto text = JsonStringField(a, key, false, where);
    if (!text) return Fail(text.error());
    if (std::string_view(key).ends_with("_at") && !text->empty()) {
      if (auto t = ParseTime(*text); !t) {
        return Fail(Error::Invalid(fmt::format("`{}` of {}: {}", key, where, t.error().message())));
      }
    }
  }
  for (const char* key : {"value", "threshold"}) {
    if (const json& v = JsonMember(a, key); !v.is_null() && !v.is_number()) {
      return Fail(Error::Invalid(fmt::format("`{}` of {} must be a number", key, where)));
    }
  }
  const json& links = JsonMember(a, "links");
  if (!links.is_null() && !links.is_array()) {
    return Fail(
        Error::Invalid(fmt::format("`links` of {} must be a list of {{href, text}}", where)));
  }
  for (std::size_t i = 0; i < links.size(); ++i) {
    if (!links[i].is_object()) {
      return Fail(Error::Invalid(
          fmt::format("links[{}] of {} must be an object {{href, text}}", i, where)));
    }
    for (const char* key : {"href", "text"}) {
      auto text = JsonStringField(links[i], key, false, fmt::format("links[{}] of {}", i, where));
      if (!text) return Fail(text.error());
    }
  }
  return {};
}

// POST /api/v1/incidents: {"actor", "title"?, "key"?, "policy"?, "alerts": [...]} or, for a
// quick manual incident, {"actor", "title", "labels": {...}, "severity"?}: the severity is the
// field, else the `severity` label when it is one tocsin knows, else critical. A policy must be one
// the config defines.
Result<dispatch::AlertGroup> GroupFromJson(const json& j, TimePoint now,
                                           const std::vector<std::string>& policies) {
  constexpr std::string_view kWhat = "an incident";
  auto key = JsonStringField(j, "key", false, kWhat);
  if (!key) return Fail(key.error());
  auto policy = JsonStringField(j, "policy", false, kWhat);
  if (!policy) return Fail(policy.error());
  auto title = JsonStringField(j, "title", false, kWhat);
  if (!title) return Fail(title.error());
  dispatch::AlertGroup g;
  g.key = *key;
  g.receiver.name = "api";
  g.receiver.escalation_policy = policy->empty() ? "default" : *policy;
  if (std::find(policies.begin(), policies.end(), g.receiver.escalation_policy) == policies.end()) {
    return Fail(
        Error::Invalid(fmt::format("`policy` \"{}\" is not an escalation policy of the "
                                   "config; known: {}",
                                   g.receiver.escalation_policy, fmt::join(policies, ", "))));
  }
  g.flushed_at = now;
  if (auto it = j.find("alerts"); it != j.end()) {
    if (!it->is_array() || it->empty()) {
      return Fail(Error::Invalid("`alerts` must be a non-empty list of alerts"));
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& a = (*it)[i];
      auto where = fmt::format("alerts[{}]", i);
      if (auto checked = CheckAlertFields(a, where); !checked) return Fail(checked.error());
      auto alert = AlertFromJson(a);
      if (!alert) return Fail(Error::Invalid(where + ": " + alert.error().message()));
      const bool starts_given = alert->starts_at != TimePoint{};
      if (!starts_given) alert->starts_at = now;
      if (alert->ends_at != TimePoint{} && alert->ends_at < alert->starts_at) {
        return Fail(Error::Invalid(
            starts_given
                ? fmt::format("{}: `ends_at` {} is before `starts_at` {}", where,
                              FormatRfc3339(alert->ends_at), FormatRfc3339(alert->starts_at))
                : fmt::format("{}: `ends_at` {} is in the past (no `starts_at`: now, {})", where,
                              FormatRfc3339(alert->ends_at), FormatRfc3339(alert->starts_at))));
      }
      g.alerts.push_back(*alert);
    }
  } else {
    if (title->empty()) return Fail(Error::Invalid("give `alerts`, or at least a `title`"));
    // A member of the wrong type is the caller's mistake (400), never an exception (500).
    auto severity = JsonStringField(j, "severity", false, "a manual incident");
    if (!severity) return Fail(severity.error());
    const json& labels = JsonMember(j, "labels");
    if (!labels.is_null() && !labels.is_object()) {
      return Fail(Error::Invalid("`labels` must be an object of label names to values"));
    }
    json alert = {{"labels", labels.is_null() ? json::object() : labels},
                  {"annotations", {{"summary", *title}}}};
    if (!severity->empty()) alert["severity"] = *severity;
    if (auto checked = CheckAlertFields(alert, std::string(kWhat)); !checked) {
      return Fail(checked.error());
    }
    // The label counts when it names a severity tocsin knows ("P1" does not): critical else.
    if (severity->empty() && !ParseSeverity(JsonString(alert["labels"], "severity"))) {
      alert["severity"] = "critical";
    }
    if (!alert["labels"].contains("alertname")) alert["labels"]["alertname"] = "ManualIncident";
    auto a = AlertFromJson(alert);
    if (!a) return Fail(a.error());
    a->starts_at = now;
    g.alerts.push_back(*a);
  }
  if (g.key.empty()) {
    g.key = "api/" + g.alerts[0].fingerprint().ToString() + "/" + std::to_string(ToUnixMillis(now));
  }
  if (!title->empty()) {
    for (auto& a : g.alerts) {
      if (a.Annotation("summary").empty()) a.annotations["summary"] = *title;
    }
  }
  return g;
}

// POST /api/v1/incidents/{id}/updates: {"actor", "situation", "measures"?, "next"?: "30m"}.
Result<StatusUpdate> StatusUpdateFromJson(const json& j) {
  StatusUpdate u;
  u.situation = JsonString(j, "situation");
  u.measures = JsonString(j, "measures");
  if (u.situation.empty())
    return Fail(Error::Invalid("`situation` is required: what is happening now"));
  if (auto it = j.find("next"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return Fail(Error::Invalid("`next` must be a duration such as \"30m\""));
    auto d = ParseDuration(it->get<std::string>());
    if (!d) return Fail(Error::Invalid("`next`: " + d.error().message()));
    // Zero is how StatusUpdate says "not given" (the reminder interval): one given is refused
    // as any other outside 1m to 24h.
    if (*d <= Duration(0)) {
      return Fail(Error::Invalid(fmt::format(
          "`next`: the next update must be due in 1m to 24h, not {}", FormatDuration(*d))));
    }
    u.next_update_in = *d;
  }
  return u;
}

// POST /api/v1/drills: {"actor", "scenario", "team"?, "runbook"?, "policy"?, "title"?,
// "alerts": [{labels, annotations}]} (what `tocsin drill start` reads from the scenario file).
Result<std::pair<dispatch::AlertGroup, DrillSpec>> DrillFromJson(
    const json& j, TimePoint now, const std::vector<std::string>& policies) {
  DrillSpec drill;
  for (auto [key, out] : {std::pair{"scenario", &drill.scenario}, std::pair{"team", &drill.team},
                          std::pair{"runbook", &drill.runbook}}) {
    auto text = JsonStringField(j, key, false, "a drill");
    if (!text) return Fail(text.error());
    *out = std::move(*text);
  }
  if (drill.scenario.empty()) return Fail(Error::Invalid("`scenario` is required"));
  if (!j.contains("alerts"))
    return Fail(Error::Invalid("`alerts` is required: the alerts the scenario raises"));
  json body = j;
  body["key"] = fmt::format("drill/{}/{}", drill.scenario, ToUnixMillis(now));
  if (!drill.team.empty() && body["alerts"].is_array()) {
    for (auto& a : body["alerts"]) {
      if (a.is_object() && a.contains("labels") && a["labels"].is_object()) {
        a["labels"]["team"] = drill.team;
      }
    }
  }
  auto group = GroupFromJson(body, now, policies);
  if (!group) return Fail(group.error());
  group->receiver.name = "drill";
  return std::make_pair(std::move(*group), std::move(drill));
}

// The JSON body and the actor of a changing request; answers 400 itself and returns nothing
// when the body is not a JSON object or nobody is named.
std::optional<std::pair<json, std::string>> BodyAndActor(const http::Request& r,
                                                         const http::Respond& respond,
                                                         const ActorResolver& resolve_actor) {
  auto body = ParseBody(r);
  if (!body) {
    respond(ErrorResponse(body.error()));
    return std::nullopt;
  }
  std::string actor = resolve_actor(r, JsonString(*body, "actor"));
  if (actor.empty()) {
    respond(ErrorResponse(Error::Invalid("say who you are: `actor`")));
    return std::nullopt;
  }
  return std::make_pair(std::move(*body), std::move(actor));
}

}  // namespace

std::string ActorFromRequest(const http::Request& request, const std::string& body_actor) {
  // A guard that authenticated a token decided who acts; nothing the caller sends overrides it.
  if (!request.actor.empty()) return request.actor;
  if (!body_actor.empty()) return body_actor;
  return request.Header("X-Tocsin-Actor").value_or("");
}

void RegisterIncidentApi(http::Router& router, IncidentManager& manager, const Clock& clock,
                         ActorResolver resolve_actor) {
  IncidentManager* m = &manager;
  const Clock* c = &clock;
  // Who may call each route, declared with it (docs/api.md): reads need viewer, changes
  // responder.
  constexpr auto kRead = http::Access::kViewer;
  constexpr auto kWrite = http::Access::kResponder;
  router.AddSync("GET", "/api/v1/incidents", kRead, [m](const http::Request& r) {
    IncidentFilter f;
    if (auto s = r.Query("state")) {
      if (*s == "open") {
        f.open_only = true;
      } else if (auto st = ParseIncidentState(*s)) {
        f.state = st;
      } else if (!s->empty() && *s != "all") {
        return ErrorResponse(
            Error::Invalid("state must be open, triggered, acknowledged, resolved or all"));
      }
    }
    // 1-10000, refused outside it as /api/v1/notifications does (a clamp answered 200 for a
    // limit the docs and the message say is out of range).
    auto limit = api::IntQuery(r, "limit", f.limit, 1, 10000);
    if (!limit) return ErrorResponse(limit.error());
    f.limit = *limit;
    auto list = m->List(f);
    if (!list) return ErrorResponse(list.error());
    json out = json::array();
    for (const auto& i : *list) out.push_back(IncidentSummary(i));
    return JsonResponse(200, json{{"incidents", out}});
  });
  // Writes answer once the change is durable, without holding up the loop meanwhile.
  router.Add("POST", "/api/v1/incidents", kWrite,
             [m, c, resolve_actor](const http::Request& r, http::Respond respond) {
               auto in = BodyAndActor(r, respond, resolve_actor);
               if (!in) return;
               auto& [body, actor] = *in;
               TimePoint now = c->Now();
               auto group = GroupFromJson(body, now, m->PolicyNames());
               if (!group) return respond(ErrorResponse(group.error()));
               m->OpenAsync(std::move(*group), actor, now, [respond](Result<Incident> inc) {
                 if (!inc) return respond(ErrorResponse(inc.error()));
                 respond(JsonResponse(201, json{{"incident", IncidentToJson(*inc)}}));
               });
             });
  router.AddSync("GET", "/api/v1/incidents/{id}", kRead, [m](const http::Request& r) {
    auto id = r.PathParam("id");
    auto inc = m->Get(id);
    if (!inc) return ErrorResponse(inc.error());
    auto timeline = m->Timeline(id);
    if (!timeline) return ErrorResponse(timeline.error());
    json events = json::array();
    for (const auto& e : *timeline) events.push_back(TimelineEventToJson(e));
    return JsonResponse(200, json{{"incident", IncidentToJson(*inc)},
                                  {"timeline", events},
                                  {"deliveries", DeliveriesToJson(*timeline)}});
  });
  auto action = [m, c, resolve_actor](const std::string& what) {
    return [m, c, resolve_actor, what](const http::Request& r, http::Respond respond) {
      auto in = BodyAndActor(r, respond, resolve_actor);
      if (!in) return;
      auto& [body, actor] = *in;
      auto id = r.PathParam("id");
      TimePoint now = c->Now();
      auto answer = [respond](Result<Incident> inc) {
        if (!inc) return respond(ErrorResponse(inc.error()));
        respond(JsonResponse(200, json{{"incident", IncidentToJson(*inc)}}));
      };
      const std::string origin(kOriginApi);
      if (what == "ack") return m->AcknowledgeAsync(id, actor, now, origin, std::nullopt, answer);
      if (what == "resolve") return m->ResolveAsync(id, actor, now, origin, std::nullopt, answer);
      if (what == "escalate") return m->EscalateNowAsync(id, actor, now, origin, answer);
      // Where the post-mortem is: recorded in the timeline, it ends the post-mortem reminders.
      if (what == "postmortem") {
        std::string url = JsonString(body, "url");
        if (url.empty()) {
          return respond(ErrorResponse(
              Error::Invalid("`url`: where the post-mortem is (a document or a ticket)")));
        }
        return m->RecordPostmortemAsync(id, actor, url, now, answer);
      }
      m->AddNoteAsync(id, actor, JsonString(body, "text"), now, origin, std::nullopt, answer);
    };
  };
  router.Add("POST", "/api/v1/incidents/{id}/ack", kWrite, action("ack"));
  router.Add("POST", "/api/v1/incidents/{id}/resolve", kWrite, action("resolve"));
  router.Add("POST", "/api/v1/incidents/{id}/note", kWrite, action("note"));
  router.Add("POST", "/api/v1/incidents/{id}/escalate", kWrite, action("escalate"));
  router.Add("POST", "/api/v1/incidents/{id}/postmortem", kWrite, action("postmortem"));
  router.Add("POST", "/api/v1/incidents/{id}/updates", kWrite,
             [m, c, resolve_actor](const http::Request& r, http::Respond respond) {
               auto in = BodyAndActor(r, respond, resolve_actor);
               if (!in) return;
               auto& [body, actor] = *in;
               auto update = StatusUpdateFromJson(body);
               if (!update) return respond(ErrorResponse(update.error()));
               // Answered once the update is in the timeline and its deliveries are queued.
               m->PostStatusUpdateAsync(
                   r.PathParam("id"), actor, *update, c->Now(), std::string(kOriginApi),
                   [respond](Result<Incident> inc) {
                     if (!inc) return respond(ErrorResponse(inc.error()));
                     respond(JsonResponse(201, json{{"incident", IncidentToJson(*inc)}}));
                   });
             });
  router.Add("POST", "/api/v1/drills", kWrite,
             [m, c, resolve_actor](const http::Request& r, http::Respond respond) {
               auto in = BodyAndActor(r, respond, resolve_actor);
               if (!in) return;
               auto& [body, actor] = *in;
               TimePoint now = c->Now();
               auto drill = DrillFromJson(body, now, m->PolicyNames());
               if (!drill) return respond(ErrorResponse(drill.error()));
               m->OpenDrillAsync(
                   std::move(drill->first), std::move(drill->second), actor, now,
                   [respond](Result<Incident> inc) {
                     if (!inc) return respond(ErrorResponse(inc.error()));
                     respond(JsonResponse(201, json{{"incident", IncidentToJson(*inc)}}));
                   });
             });
  router.Add(
      "POST", "/api/v1/drills/{id}/stop", kWrite,
      [m, c, resolve_actor](const http::Request& r, http::Respond respond) {
        auto in = BodyAndActor(r, respond, resolve_actor);
        if (!in) return;
        const std::string& actor = in->second;
        const std::string id = r.PathParam("id");
        auto inc = m->Get(id);
        if (!inc) return respond(ErrorResponse(inc.error()));
        // A drill's flag never changes, so checking it before the resolve is safe.
        if (!inc->drill) {
          return respond(ErrorResponse(Error::Conflict(fmt::format(
              "{} is not a drill; resolve a real incident with `tocsin incidents resolve`", id))));
        }
        m->ResolveAsync(id, actor, c->Now(), std::string(kOriginApi), std::nullopt,
                        [respond](Result<Incident> done) {
                          if (!done) return respond(ErrorResponse(done.error()));
                          respond(JsonResponse(200, json{{"incident", IncidentToJson(*done)}}));
                        });
      });
  router.AddSync("GET", "/api/v1/incidents/{id}/verify", kRead, [m](const http::Request& r) {
    auto v = m->Verify(r.PathParam("id"));
    if (!v) return ErrorResponse(v.error());
    return JsonResponse(200, json{{"ok", v->ok},
                                  {"events", v->events},
                                  {"first_bad_seq", v->first_bad_seq},
                                  {"message", v->message}});
  });
  router.AddSync("GET", "/api/v1/oncall", kRead, [m, c](const http::Request& r) {
    auto schedule = m->schedule();
    if (!schedule) return ErrorResponse(Error::NotFound("no roster_file is configured"));
    TimePoint at = c->Now();
    if (auto text = r.Query("at"); text && !text->empty()) {
      auto t = oncall::ParseLocalTime(*text, "UTC");
      if (!t) return ErrorResponse(Error::Invalid("at: expected RFC 3339 or unix seconds"));
      at = *t;
    }
    std::string team = r.Query("team").value_or("");
    std::string role = r.Query("role").value_or("");
    json out = json::array();
    for (const auto& s : schedule->OnCall(at, role)) {
      if (!team.empty() && s.team != team) continue;
      const auto* p = schedule->roster().FindPerson(s.person);
      out.push_back({{"role", s.role},
                     {"person", s.person},
                     {"name", p ? p->name : ""},
                     {"rotation", s.rotation},
                     {"team", s.team},
                     {"region", s.region},
                     {"start", FormatRfc3339(s.start)},
                     {"end", FormatRfc3339(s.end)},
                     {"override", s.override_reason}});
    }
    return JsonResponse(200, json{{"at", FormatRfc3339(at)}, {"oncall", out}});
  });
}

}  // namespace tocsin::incident
