// Post-mortem facts on an incident's timeline: where the post-mortem is, and the one reminder
// when a SEV-1/2 has none (the reminder's schedule is report::PostmortemReminder's business).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "incident/incident_manager_text.h"
#include "tocsin/common/json.h"
#include "tocsin/incident/forwarded_change.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

using manager_detail::kSystemActor;

void IncidentManager::RecordPostmortemAsync(std::string id, std::string actor, std::string url,
                                            TimePoint now, Done<Incident> done) {
  if (actor.empty()) return done(Fail(Error::Invalid("say who records the post-mortem")));
  if (url.empty()) return done(Fail(Error::Invalid("a post-mortem needs its URL")));
  if (read_only_) {
    auto change = MakeForwardedChange(ForwardedChange::Kind::kPostmortem, id, actor, "api");
    change.text = url;
    ForwardOrRefuse(std::move(change), done);
    return;
  }
  RunInLane(id, [=, this](Release release) {
    auto cur = Get(id);
    if (!cur) {
      release();
      return done(std::move(cur));
    }
    // Recorded already by the same person (a request forwarded by a standby and retried under a
    // new id, a replay): read in the lane, so one committed a moment ago is seen.
    auto timeline = store_.Timeline(id);
    if (!timeline) {
      release();
      return done(Fail(timeline.error()));
    }
    for (const auto& e : *timeline) {
      if (e.kind == kEventPostmortem && e.actor == actor &&
          nlohmann::json::parse(e.data, nullptr, false).value("url", "") == url) {
        release();
        return done(std::move(cur));
      }
    }
    const std::string text = fmt::format("post-mortem recorded: {}", url);
    auto ev = Event(now, kEventPostmortem, actor, text, DumpJson(nlohmann::json{{"url", url}}));
    auto page = Request(*cur, PageAction::kNote,
                        fmt::format("{}/postmortem/{}", id, cur->timeline_seq + 1), now);
    page.text = text;
    page.actor = actor;
    Apply(id, *cur, {ev}, {page}, std::nullopt, [release, done](Result<Incident> r) {
      release();
      done(std::move(r));
    });
  });
}

void IncidentManager::RemindPostmortemAsync(std::string id, std::string text, TimePoint now,
                                            Done<bool> done) {
  RunInLane(id, [=, this](Release release) {
    auto finish = [release, done](Result<bool> r) {
      release();
      done(std::move(r));
    };
    auto cur = Get(id);
    if (!cur) return finish(Fail(cur.error()));
    // Read in the lane: a reminder written a moment ago is seen, so none goes out twice.
    auto timeline = store_.Timeline(id);
    if (!timeline) return finish(Fail(timeline.error()));
    for (const auto& e : *timeline) {
      if (e.kind == kEventPostmortem || e.kind == kEventPostmortemReminder) return finish(false);
    }
    auto ev = Event(now, kEventPostmortemReminder, kSystemActor,
                    fmt::format("reminded {}: {}",
                                cur->commander.empty() ? "the war room" : cur->commander, text));
    // One key per incident: should the reminder ever be asked for again, the outbox drops it.
    auto page =
        Request(*cur, PageAction::kReminder, fmt::format("{}/postmortem-reminder", id), now);
    page.text = text;
    if (auto p = PersonOf(cur->commander)) {
      page.targets = {{*p, config_.commander_role, {Channel::kSlack}}};
    }
    Apply(id, *cur, {ev}, {page}, std::nullopt, [finish](Result<Incident> r) {
      if (!r) return finish(Fail(r.error()));
      finish(true);
    });
  });
}

}  // namespace tocsin::incident
