// POST /api/v1/oncall/overrides: a cover or swap added from the panel, checked like the roster
// file's own overrides and then against the fairness and coverage rules of `tocsin roster
// check`, stored durably with who added it, then put in force.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "api_response.h"
#include "oncall_json.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::oncall {

namespace {

using api::ErrorResponse;
using api::JsonResponse;
using nlohmann::json;

// The 14-day fairness window on both sides, so a change near its edges is judged whole.
constexpr Duration kCheckMargin = std::chrono::hours(24 * 14);
constexpr std::size_t kMaxReason = 300;
constexpr Duration kMaxOverrideSpan = std::chrono::hours(24 * 366);

struct FieldError {
  std::string field;  // the form field it concerns; "" for the override as a whole
  std::string message;
  std::string rule;  // the roster rule it breaks, for fairness findings
};

http::Response Refuse(int status, const std::string& summary,
                      const std::vector<FieldError>& errors) {
  json list = json::array();
  for (const auto& e : errors) {
    json j = {{"field", e.field}, {"message", e.message}};
    if (!e.rule.empty()) j["rule"] = e.rule;
    list.push_back(std::move(j));
  }
  return JsonResponse(status, json{{"error", summary}, {"errors", list}});
}

// The override the body describes, with every problem of its fields.
Override ParseOverride(const json& body, const Schedule& schedule, TimePoint now,
                       std::vector<FieldError>& errors) {
  const Roster& roster = schedule.roster();
  Override o;
  // A member of another type is named as such; the checks below would read it as missing (or,
  // for `type`, as a cover) and say something untrue about it, so their words for it are dropped.
  std::set<std::string> not_text;
  for (const char* field :
       {"type", "rotation", "from", "to", "person", "replaces", "with", "reason"}) {
    if (const json& v = JsonMember(body, field); !v.is_null() && !v.is_string()) {
      not_text.insert(field);
    }
  }
  std::string type = JsonString(body, "type");
  if (type.empty()) type = "cover";
  if (type != "cover" && type != "swap") {
    errors.push_back({"type", "must be cover or swap", ""});
  }
  o.kind = type == "swap" ? Override::Kind::kSwap : Override::Kind::kCover;
  o.rotation = JsonString(body, "rotation");
  const Rotation* rot = roster.FindRotation(o.rotation);
  if (o.rotation.empty()) {
    errors.push_back({"rotation", "which rotation the override changes", ""});
  } else if (rot == nullptr) {
    errors.push_back({"rotation", fmt::format("no rotation \"{}\" in the roster", o.rotation), ""});
  }
  // Times without an offset are local to the rotation, as in the roster file.
  std::string zone = rot && !rot->handovers.empty() ? rot->handovers[0].time_zone : "UTC";
  bool times_ok = true;
  for (auto [field, out] : {std::pair{"from", &o.from}, std::pair{"to", &o.to}}) {
    std::string text = JsonString(body, field);
    auto t = text.empty() ? std::nullopt : ParseLocalTime(text, zone);
    if (!t) {
      times_ok = false;
      errors.push_back({field,
                        text.empty() ? "required: when the override starts or ends"
                                     : fmt::format("\"{}\" is not a time; use 2026-11-22T08:00 "
                                                   "({}) or RFC 3339",
                                                   text, zone),
                        ""});
    } else {
      *out = *t;
    }
  }
  if (times_ok && o.to <= o.from) errors.push_back({"to", "must be after from", ""});
  // The fairness check walks the schedule over the whole span on the loop: a span of decades
  // held every other request for seconds. A year is longer than any cover or swap.
  if (times_ok && o.to - o.from > kMaxOverrideSpan) {
    errors.push_back({"to",
                      "is more than 366 days after from: an override covers at most a year; for "
                      "longer, change the roster file",
                      ""});
  }
  if (times_ok && o.to <= now) errors.push_back({"to", "is in the past: nothing to change", ""});
  auto person = [&](const char* field, std::string& out, bool required) {
    out = JsonString(body, field);
    if (out.empty()) {
      if (required) errors.push_back({field, "required: a person id of the roster", ""});
      return;
    }
    if (roster.FindPerson(out) == nullptr) {
      errors.push_back({field, fmt::format("no person \"{}\" in the roster", out), ""});
    }
  };
  person("person", o.person, true);
  person("replaces", o.replaces, false);
  person("with", o.with, o.kind == Override::Kind::kSwap);
  if (o.kind == Override::Kind::kCover && !o.with.empty()) {
    errors.push_back({"with", "`with` is for swaps; a cover uses `replaces`", ""});
  }
  if (!o.person.empty() && (o.person == o.replaces || o.person == o.with)) {
    errors.push_back({o.person == o.with ? "with" : "replaces", "must be someone else", ""});
  }
  o.reason = JsonString(body, "reason");
  if (o.reason.size() > kMaxReason) {
    errors.push_back({"reason", fmt::format("at most {} characters", kMaxReason), ""});
  }
  std::erase_if(errors, [&](const FieldError& e) { return not_text.count(e.field) > 0; });
  for (const auto& field : not_text) errors.push_back({field, "must be a string", ""});
  return o;
}

// Findings the override adds to those the schedule already has over the same range, about the
// people it gives shifts to (or a coverage gap). Those who lose shifts can only be better
// off; their findings change wording (a shorter span) without being new problems.
std::vector<FieldError> FairnessErrors(const Schedule& current, const Override& o) {
  Roster roster = current.roster();
  roster.overrides.push_back(o);
  Schedule candidate(std::move(roster));
  TimePoint from = o.from - kCheckMargin, to = o.to + kCheckMargin;
  auto before = CheckRoster(current, from, to);
  const bool swap = o.kind == Override::Kind::kSwap;
  std::vector<FieldError> out;
  for (const auto& f : CheckRoster(candidate, from, to)) {
    if (std::find(before.begin(), before.end(), f) != before.end()) continue;
    if (f.person.empty()) {
      out.push_back({"", f.message, f.rule});
    } else if (f.person == o.person) {
      out.push_back({"person", f.message, f.rule});
    } else if (swap && f.person == o.with) {
      out.push_back({"with", f.message, f.rule});
    }
  }
  return out;
}

}  // namespace

namespace {

// What the POST does once it has the body and who asks: check, store, put in force.
void AddOverride(const std::shared_ptr<OncallApiDeps>& d,
                 const std::shared_ptr<std::vector<Override>>& pending, const json& body,
                 const std::string& actor, TimePoint now, http::Respond respond) {
  auto schedule = d->schedule ? d->schedule() : nullptr;
  if (!schedule) return respond(ErrorResponse(Error::NotFound("no roster_file is configured")));
  if (d->overrides == nullptr) {
    return respond(
        ErrorResponse(Error::Transient("overrides cannot be stored: the store is not open")));
  }
  if (!pending->empty()) {
    Roster roster = schedule->roster();
    roster.overrides.insert(roster.overrides.end(), pending->begin(), pending->end());
    schedule = std::make_shared<const Schedule>(std::move(roster));
  }
  std::vector<FieldError> errors;
  Override o = ParseOverride(body, *schedule, now, errors);
  if (!errors.empty()) {
    return respond(Refuse(400,
                          fmt::format("the override is not valid: {}: {}", errors.front().field,
                                      errors.front().message),
                          errors));
  }
  // The same override asked again by the same person (a form sent twice, a request a new
  // active instance applies again): answered with the one recorded, nothing stored twice.
  if (d->recorded) {
    for (const auto& r : d->recorded()) {
      if (r.override == o && r.created_by == actor) {
        return respond(JsonResponse(200, json{{"override", RecordedOverrideJson(r)}}));
      }
    }
  }
  if (std::find(pending->begin(), pending->end(), o) != pending->end()) {
    return respond(ErrorResponse(
        Error::Conflict("the same override is being stored already (sent twice?): look at GET "
                        "/api/v1/oncall/overrides in a moment; nothing more was changed")));
  }
  errors = FairnessErrors(*schedule, o);
  if (!errors.empty()) {
    return respond(
        Refuse(422,
               fmt::format("the override would break {} roster rule{}; nothing was changed",
                           errors.size(), errors.size() == 1 ? "" : "s"),
               errors));
  }
  pending->push_back(o);
  RecordedOverride entry{0, o, actor, now};
  d->overrides->Add(std::move(entry), [d, pending, o, respond](Result<RecordedOverride> added) {
    auto it = std::find(pending->begin(), pending->end(), o);
    if (it != pending->end()) pending->erase(it);
    if (!added) return respond(ErrorResponse(added.error()));
    if (d->on_added) d->on_added(*added);
    respond(JsonResponse(201, json{{"override", RecordedOverrideJson(*added)}}));
  });
}

// An answer carried between instances: {"status", "body"} of the response. A refusal travels
// as an error, so that the relay counts it as refused; its text is the same JSON.
Result<std::string> EncodeAnswer(const http::Response& r) {
  std::string text = DumpJson(json{{"status", r.status}, {"body", r.body}});
  if (r.status >= 200 && r.status < 300) return text;
  return Fail(Error::Invalid(std::move(text)));
}

http::Response DecodeAnswer(const Result<std::string>& made) {
  const std::string& text = made ? *made : made.error().message();
  auto j = json::parse(text, nullptr, false);
  const bool encoded = j.is_object() && j.contains("status") && j.contains("body") &&
                       j["status"].is_number_integer() && j["body"].is_string();
  if (encoded) return http::Response::Json(j["status"].get<int>(), j["body"].get<std::string>());
  // The relay's own answer: nobody took the request, the database failed, ...
  if (!made) return ErrorResponse(made.error());
  return ErrorResponse(
      Error::Io("the active instance answered the override with something unreadable: " + text));
}

}  // namespace

OverrideAdder RegisterOverridePost(http::Router& router, std::shared_ptr<OncallApiDeps> d,
                                   const Clock& clock, incident::ActorResolver resolve_actor) {
  auto pending = d->in_flight ? d->in_flight : std::make_shared<std::vector<Override>>();
  const Clock* c = &clock;
  router.Add("POST", "/api/v1/oncall/overrides", http::Access::kResponder,
             [d, c, pending, resolve_actor](const http::Request& r, http::Respond respond) {
               auto why = d->refuse_changes ? d->refuse_changes() : std::nullopt;
               if (why && !d->forward) return respond(ErrorResponse(Error::Transient(*why)));
               auto body = api::ParseBody(r);
               if (!body) return respond(ErrorResponse(body.error()));
               std::string actor = resolve_actor(r, JsonString(*body, "actor"));
               if (actor.empty())
                 return respond(ErrorResponse(Error::Invalid("say who you are: `actor`")));
               // A standby: the active checks it against the schedule in force and answers.
               if (why) {
                 return d->forward(
                     std::move(*body), std::move(actor),
                     [respond](Result<std::string> made) { respond(DecodeAnswer(made)); });
               }
               AddOverride(d, pending, *body, actor, c->Now(), std::move(respond));
             });
  return [d, pending](const json& body, const std::string& actor, TimePoint now,
                      std::function<void(Result<std::string>)> done) {
    auto respond = [done = std::move(done)](http::Response r) { done(EncodeAnswer(r)); };
    if (auto why = d->refuse_changes ? d->refuse_changes() : std::nullopt) {
      return respond(ErrorResponse(Error::Transient(*why)));
    }
    AddOverride(d, pending, body, actor, now, std::move(respond));
  };
}

json ShiftJson(const Schedule& schedule, const Shift& s, TimePoint at) {
  const auto* p = schedule.roster().FindPerson(s.person);
  json shadows = json::array();
  for (const auto& id : schedule.ShadowsOf(s.person, at)) {
    const auto* n = schedule.roster().FindPerson(id);
    shadows.push_back({{"person", id}, {"name", n ? n->name : ""}});
  }
  return {{"person", s.person},
          {"name", p ? p->name : ""},
          {"role", s.role},
          {"rotation", s.rotation},
          {"team", s.team},
          {"region", s.region},
          {"time_zone", s.time_zone},
          {"start", FormatRfc3339(s.start)},
          {"end", FormatRfc3339(s.end)},
          {"start_local", FormatLocal(s.start, s.time_zone)},
          {"end_local", FormatLocal(s.end, s.time_zone)},
          {"override", s.override_reason},
          {"shadows", shadows}};
}

json FindingJson(const Schedule& schedule, const Finding& f) {
  return {{"rule", f.rule},       {"person", f.person},   {"from", f.from},
          {"to", f.to},           {"message", f.message}, {"file", schedule.roster().file},
          {"line", f.source.line}};
}

json RecordedOverrideJson(const RecordedOverride& r) {
  const Override& o = r.override;
  return {{"id", r.id},
          {"type", std::string(OverrideKindName(o.kind))},
          {"rotation", o.rotation},
          {"from", FormatRfc3339(o.from)},
          {"to", FormatRfc3339(o.to)},
          {"person", o.person},
          {"replaces", o.replaces},
          {"with", o.with},
          {"reason", o.reason},
          {"created_by", r.created_by},
          {"created_at", FormatRfc3339(r.created_at)}};
}

}  // namespace tocsin::oncall
