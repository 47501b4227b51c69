// IncidentManager, status updates and drills: the SEV-1/2 status reminder and the war-room
// template it offers, the update a person posts (timeline, war room, status page, reminder
// reset), and opening a drill. Each body runs with its lane held (see incident_lanes.cpp).
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "incident/incident_manager_text.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/forwarded_change.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

using manager_detail::kSystemActor;

namespace {

using nlohmann::json;

constexpr Duration kMinNextUpdate = std::chrono::minutes(1);
constexpr Duration kMaxNextUpdate = std::chrono::hours(24);

std::string Joined(const std::vector<std::string>& v) {
  return fmt::format("{}", fmt::join(v, ", "));
}

std::string AffectedLine(const AffectedScope& a) {
  if (a.markets.empty() && a.brands.empty()) return "not in the labels (no market or brand label)";
  std::string out;
  if (!a.markets.empty()) out = "markets " + Joined(a.markets);
  if (!a.brands.empty())
    out += (out.empty() ? "" : "; ") + std::string("brands ") + Joined(a.brands);
  return out;
}

long long Minutes(Duration d) {
  return std::chrono::duration_cast<std::chrono::minutes>(d).count();
}

}  // namespace

AffectedScope AffectedOf(const Incident& incident) {
  std::set<std::string> markets;
  std::set<std::string> brands;
  auto take = [&](const Labels& labels) {
    if (auto m = labels.Get("market"); m && !m->empty()) markets.emplace(*m);
    if (auto b = labels.Get("brand"); b && !b->empty()) brands.emplace(*b);
  };
  take(incident.group_labels);
  for (const auto& a : incident.alerts) take(a.labels);
  return {{markets.begin(), markets.end()}, {brands.begin(), brands.end()}};
}

std::string RenderStatusUpdate(const Incident& incident, const StatusUpdate& update) {
  return fmt::format(
      "*Status update {}* ({})\n*Current situation:* {}\n*Affected markets/brands:* {}\n"
      "*Temporary measures:* {}\n*Next update in:* {} min",
      incident.id, SevName(incident.sev), update.situation, AffectedLine(AffectedOf(incident)),
      update.measures.empty() ? "none yet" : update.measures, Minutes(update.next_update_in));
}

std::string StatusUpdateTemplate(const Incident& incident, Duration next_update_in) {
  return fmt::format(
      "Template (post it with `tocsin incidents update {} --situation \"...\" --measures "
      "\"...\" --next {}m`):\n*Current situation:* ...\n*Affected markets/brands:* {}\n"
      "*Temporary measures:* ...\n*Next update in:* {} min",
      incident.id, Minutes(next_update_in), AffectedLine(AffectedOf(incident)),
      Minutes(next_update_in));
}

void IncidentManager::PostStatusUpdateAsync(std::string id, std::string actor, StatusUpdate update,
                                            TimePoint now, std::string origin,
                                            Done<Incident> done) {
  if (read_only_) {
    auto change = MakeForwardedChange(ForwardedChange::Kind::kStatusUpdate, id, actor, origin);
    change.update = update;
    if (ForwardOrRefuse(std::move(change), done)) return;
  }
  RunInLane(id, [=, this](Release release) {
    DoPostStatusUpdate(id, actor, update, now, origin, [release, done](Result<Incident> r) {
      release();
      done(std::move(r));
    });
  });
}

Result<Incident> IncidentManager::PostStatusUpdate(const std::string& id, const std::string& actor,
                                                   const StatusUpdate& update, TimePoint now,
                                                   std::string_view origin) {
  return Inline<Incident>([&](Done<Incident> d) {
    PostStatusUpdateAsync(id, actor, update, now, std::string(origin), std::move(d));
  });
}

void IncidentManager::DoPostStatusUpdate(const std::string& id, const std::string& actor,
                                         const StatusUpdate& given, TimePoint now,
                                         const std::string& origin, Done<Incident> done) {
  if (actor.empty()) return done(Fail(Error::Invalid("a status update needs an actor")));
  if (given.situation.empty()) {
    return done(Fail(Error::Invalid("a status update needs the current situation (`situation`)")));
  }
  StatusUpdate update = given;
  if (update.next_update_in == Duration(0)) update.next_update_in = config_.reminder_interval;
  if (update.next_update_in < kMinNextUpdate || update.next_update_in > kMaxNextUpdate) {
    return done(Fail(Error::Invalid(fmt::format("the next update must be due in 1m to 24h, not {}",
                                                FormatDuration(update.next_update_in)))));
  }
  auto live = OpenLive(id);
  if (!live) return done(Fail(live.error()));
  Incident next = (*live)->incident;
  // The update is the one the reminder asked for: the next reminder falls due when the update
  // promised the next one.
  const TimePoint next_update_at = now + update.next_update_in;
  if (next.sev <= Sev::kSev2) next.next_reminder_at = next_update_at;
  const AffectedScope affected = AffectedOf(next);
  json details = {{"situation", update.situation},
                  {"affected", {{"markets", affected.markets}, {"brands", affected.brands}}},
                  {"measures", update.measures},
                  {"next_update_in_minutes",
                   std::chrono::duration_cast<std::chrono::minutes>(update.next_update_in).count()},
                  {"next_update_at", FormatRfc3339(next_update_at)}};
  json data = details;
  if (!origin.empty()) data["origin"] = origin;
  const std::string text = RenderStatusUpdate(next, update);
  auto ev = Event(now, "status_update", actor, text, DumpJson(data));
  auto page = Request(next, PageAction::kStatusUpdate,
                      fmt::format("{}/status/{}", id, next.timeline_seq + 1), now);
  page.text = text;
  page.details = DumpJson(details);
  page.actor = actor;
  page.origin = origin;
  Apply(id, std::move(next), {ev}, {page}, std::nullopt, [this, id, done](Result<Incident> r) {
    if (r) ArmReminder(id);
    done(std::move(r));
  });
}

void IncidentManager::OpenDrillAsync(dispatch::AlertGroup group, DrillSpec drill, std::string actor,
                                     TimePoint now, Done<Incident> done) {
  if (drill.scenario.empty()) return done(Fail(Error::Invalid("a drill needs a scenario name")));
  if (group.key.empty()) return done(Fail(Error::Invalid("a drill needs a key of its own")));
  if (read_only_) {
    auto change = MakeForwardedChange(ForwardedChange::Kind::kDrill, {}, actor, "api");
    change.group = std::move(group);
    change.drill = std::move(drill);
    ForwardOrRefuse(std::move(change), done);
    return;
  }
  const std::string lane = "group/" + group.key;  // before `group` is moved (OpenAsync)
  RunInLane(lane, [this, group = std::move(group), drill = std::move(drill),
                   actor = std::move(actor), now, done = std::move(done)](Release release) {
    DoOpen(
        group, actor, now,
        [release, done](Result<Incident> r) {
          release();
          done(std::move(r));
        },
        drill);
  });
}

Result<Incident> IncidentManager::OpenDrill(const dispatch::AlertGroup& group,
                                            const DrillSpec& drill, const std::string& actor,
                                            TimePoint now) {
  return Inline<Incident>(
      [&](Done<Incident> d) { OpenDrillAsync(group, drill, actor, now, std::move(d)); });
}

void IncidentManager::OnReminderDue(const std::string& id) {
  if (auto it = live_.find(id); it != live_.end()) it->second.reminder_timer = 0;
  RunInLane(id, [this, id](Release release) { ReminderDue(id, std::move(release)); });
}

void IncidentManager::ReminderDue(const std::string& id, Release release) {
  auto it = live_.find(id);
  if (it == live_.end()) return release();
  const TimePoint now = scheduler_.clock().Now();
  const Incident& cur = it->second.incident;
  if (!cur.open() || cur.next_reminder_at == TimePoint{} || cur.sev > Sev::kSev2 ||
      cur.next_reminder_at > now) {
    return release();
  }
  Incident next = cur;
  const TimePoint due = cur.next_reminder_at;
  // Reminders missed while down collapse into this one; the cadence keeps its phase.
  next.next_reminder_at = due + config_.reminder_interval;
  while (next.next_reminder_at <= now) next.next_reminder_at += config_.reminder_interval;
  std::string text = fmt::format(
      "{} status update due (every {}): post it to the war room and "
      "the status page",
      SevName(cur.sev), FormatDuration(config_.reminder_interval));
  // The page offers the fixed template, with what tocsin knows filled in.
  const std::string offer = StatusUpdateTemplate(cur, config_.reminder_interval);
  auto ev =
      Event(now, "reminder", kSystemActor,
            fmt::format("reminded {}: {}", cur.commander.empty() ? "nobody" : cur.commander, text));
  std::vector<PageRequest> pages;
  if (auto p = PersonOf(cur.commander)) {
    auto page = Request(cur, PageAction::kReminder,
                        fmt::format("{}/reminder/{}", id, ToUnixMillis(due)), now);
    page.targets = {{*p, config_.commander_role, {Channel::kSlack}}};
    page.text = text + "\n" + offer;
    pages.push_back(std::move(page));
  }
  Apply(id, std::move(next), {ev}, std::move(pages), std::nullopt,
        [this, id, release](Result<Incident> r) {
          if (!r) {
            RetryLater(id, &IncidentManager::OnReminderDue, "status reminder");
          } else {
            ArmReminder(id);
          }
          release();
        });
}

}  // namespace tocsin::incident
