// The on-call API of the panel: who holds each rotation now and next, a calendar range, the
// roster check, and the overrides added through the API (oncall_override_api.cpp adds them).
#include "tocsin/api/oncall_api.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "api_response.h"
#include "oncall_json.h"
#include "tocsin/common/duration.h"
#include "tocsin/oncall/fairness.h"

namespace tocsin::oncall {

namespace {

using api::ErrorResponse;
using api::JsonResponse;
using nlohmann::json;

// How far ahead "next" looks: a weekly rotation hands over within 7 days.
constexpr Duration kNextHorizon = std::chrono::hours(24 * 35);
constexpr int kMaxCalendarDays = 93;

Result<TimePoint> TimeQuery(const http::Request& r, std::string_view name, TimePoint fallback) {
  auto text = r.Query(name);
  if (!text || text->empty()) return fallback;
  auto t = ParseLocalTime(*text, "UTC");
  if (!t) {
    return Fail(Error::Invalid(
        fmt::format("{}: \"{}\" is not a time; expected RFC 3339 (2026-11-22T08:00:00Z) or a date",
                    name, *text)));
  }
  return *t;
}

std::vector<std::string> ZonesOf(const Rotation& r) {
  std::vector<std::string> zones;
  for (const auto& h : r.handovers) {
    if (std::find(zones.begin(), zones.end(), h.time_zone) == zones.end()) {
      zones.push_back(h.time_zone);
    }
  }
  return zones;
}

// Who is on each of `rotations` at `at`, and the shift that follows. Two expansions of the
// schedule serve every rotation (each covers all of them); two per rotation made a roster of
// R rotations cost R^2 rotation expansions per request.
json NowAndNext(const Schedule& schedule, const std::vector<const Rotation*>& rotations,
                TimePoint at) {
  struct Slot {
    std::vector<Shift> now, next;
    TimePoint next_from;
  };
  std::map<std::string, Slot> slots;
  for (const auto* rot : rotations) slots[rot->name].next_from = at;
  json out = json::array();
  if (slots.empty()) return out;
  for (const auto& s : schedule.Shifts(at, at + kNextHorizon)) {
    auto it = slots.find(s.rotation);
    if (it == slots.end() || !(s.start <= at && at < s.end)) continue;
    it->second.now.push_back(s);
    it->second.next_from = std::max(it->second.next_from, s.end);
  }
  TimePoint lo = slots.begin()->second.next_from, hi = lo;
  for (const auto& [name, slot] : slots) {
    lo = std::min(lo, slot.next_from);
    hi = std::max(hi, slot.next_from);
  }
  // Shifts come ordered by start: the first to start at or after a rotation's next_from (and
  // within the horizon from there), with any that start at the same time, are its next.
  for (const auto& s : schedule.Shifts(lo, hi + kNextHorizon)) {
    auto it = slots.find(s.rotation);
    if (it == slots.end()) continue;
    Slot& slot = it->second;
    if (s.start < slot.next_from || s.start >= slot.next_from + kNextHorizon) continue;
    if (!slot.next.empty() && s.start != slot.next.front().start) continue;
    slot.next.push_back(s);
  }
  for (const auto* rot : rotations) {
    const Slot& slot = slots[rot->name];
    json j = {{"rotation", rot->name},       {"role", rot->role},    {"team", rot->team},
              {"time_zones", ZonesOf(*rot)}, {"now", json::array()}, {"next", json::array()}};
    for (const auto& s : slot.now) j["now"].push_back(ShiftJson(schedule, s, at));
    for (const auto& s : slot.next) j["next"].push_back(ShiftJson(schedule, s, s.start));
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

OverrideAdder RegisterOncallApi(http::Router& router, OncallApiDeps deps, const Clock& clock,
                                incident::ActorResolver resolve_actor) {
  auto d = std::make_shared<OncallApiDeps>(std::move(deps));
  const Clock* c = &clock;
  constexpr auto kRead = http::Access::kViewer;
  auto no_roster = [] { return ErrorResponse(Error::NotFound("no roster_file is configured")); };

  router.AddSync("GET", "/api/v1/oncall/now", kRead, [d, c, no_roster](const http::Request& r) {
    auto schedule = d->schedule ? d->schedule() : nullptr;
    if (!schedule) return no_roster();
    auto at = TimeQuery(r, "at", c->Now());
    if (!at) return ErrorResponse(at.error());
    std::string team = r.Query("team").value_or("");
    std::vector<const Rotation*> wanted;
    for (const auto& rot : schedule->roster().rotations) {
      if (team.empty() || rot.team == team) wanted.push_back(&rot);
    }
    json rotations = NowAndNext(*schedule, wanted, *at);
    // Who may be named in an override (the panel's form offers them).
    json people = json::array();
    for (const auto& [id, p] : schedule->roster().people) {
      people.push_back({{"id", id}, {"name", p.name}, {"time_zone", p.time_zone}});
    }
    return JsonResponse(
        200, json{{"at", FormatRfc3339(*at)}, {"rotations", rotations}, {"people", people}});
  });

  router.AddSync("GET", "/api/v1/oncall/shifts", kRead, [d, c, no_roster](const http::Request& r) {
    auto schedule = d->schedule ? d->schedule() : nullptr;
    if (!schedule) return no_roster();
    TimePoint now = c->Now();
    auto from = TimeQuery(r, "from", now);
    if (!from) return ErrorResponse(from.error());
    auto to = TimeQuery(r, "to", *from + std::chrono::hours(24 * 7));
    if (!to) return ErrorResponse(to.error());
    if (*to <= *from) return ErrorResponse(Error::Invalid("to: must be after from"));
    if (*to - *from > std::chrono::hours(24 * kMaxCalendarDays)) {
      return ErrorResponse(Error::Invalid(
          fmt::format("to: at most {} days after from (a month view needs 42)", kMaxCalendarDays)));
    }
    std::string team = r.Query("team").value_or("");
    std::string rotation = r.Query("rotation").value_or("");
    json shifts = json::array();
    for (const auto& s : schedule->Shifts(*from, *to)) {
      if (!team.empty() && s.team != team) continue;
      if (!rotation.empty() && s.rotation != rotation) continue;
      shifts.push_back(ShiftJson(*schedule, s, s.start));
    }
    return JsonResponse(
        200, json{{"from", FormatRfc3339(*from)}, {"to", FormatRfc3339(*to)}, {"shifts", shifts}});
  });

  router.AddSync(
      "GET", "/api/v1/oncall/findings", kRead, [d, c, no_roster](const http::Request& r) {
        auto schedule = d->schedule ? d->schedule() : nullptr;
        if (!schedule) return no_roster();
        auto from = TimeQuery(r, "from", c->Now());
        if (!from) return ErrorResponse(from.error());
        auto weeks = api::IntQuery(r, "weeks", 4, 1, 104);
        if (!weeks) return ErrorResponse(weeks.error());
        TimePoint to = *from + std::chrono::hours(24 * 7 * *weeks);
        json out = json::array();
        for (const auto& f : CheckRoster(*schedule, *from, to)) {
          out.push_back(FindingJson(*schedule, f));
        }
        return JsonResponse(
            200,
            json{{"from", FormatRfc3339(*from)}, {"to", FormatRfc3339(to)}, {"findings", out}});
      });

  router.AddSync("GET", "/api/v1/oncall/overrides", kRead, [d](const http::Request&) {
    if (d->overrides == nullptr) {
      return ErrorResponse(Error::Transient("overrides cannot be stored: the store is not open"));
    }
    Result<std::vector<RecordedOverride>> loaded = std::vector<RecordedOverride>();
    if (!d->recorded) loaded = d->overrides->LoadAll();
    if (!loaded) return ErrorResponse(loaded.error());
    const auto& all = d->recorded ? d->recorded() : *loaded;
    json out = json::array();
    for (auto it = all.rbegin(); it != all.rend(); ++it) out.push_back(RecordedOverrideJson(*it));
    return JsonResponse(200, json{{"overrides", out}});
  });

  return RegisterOverridePost(router, d, clock, std::move(resolve_actor));
}

}  // namespace tocsin::oncall
