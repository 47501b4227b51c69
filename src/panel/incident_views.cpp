#include "incident_views.h"

#include <algorithm>

#include "notify/provider_common.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/url.h"
#include "tocsin/incident/incident_json.h"

namespace tocsin::panel {

namespace {

using nlohmann::json;

std::string Time(TimePoint t) { return t == TimePoint{} ? "" : FormatRfc3339(t); }

std::string NameOf(const incident::IncidentManager& m, const std::string& person) {
  auto schedule = m.schedule();
  if (!schedule) return "";
  const auto* p = schedule->roster().FindPerson(person);
  return p ? p->name : "";
}

json AlertBrief(const Alert& a) {
  return {{"name", std::string(a.Name())},
          {"summary", a.Annotation("summary")},
          {"state", std::string(AlertStateName(a.state))},
          {"starts_at", Time(a.starts_at)}};
}

// The deliveries of the timeline, reduced to who was paged through what and how it went.
json PagedFrom(const json& deliveries) {
  json out = json::array();
  for (const auto& d : deliveries) {
    // A channel-wide delivery (PagerDuty's routing key, a Slack channel) names the people it
    // is meant to reach in `people`.
    std::string who = d.value("person", "");
    if (who.empty() && d.contains("people") && d["people"].is_array()) {
      for (const auto& p : d["people"]) {
        if (!p.is_string()) continue;
        who += (who.empty() ? "" : ", ") + p.get<std::string>();
      }
    }
    out.push_back(
        {{"person", who}, {"channel", d.value("channel", "")}, {"state", d.value("state", "")}});
  }
  return out;
}

json Summary(incident::IncidentManager& m, const incident::Incident& i, const json& paged,
             TimePoint now) {
  json alerts = json::array();
  for (const auto& a : i.alerts) alerts.push_back(AlertBrief(a));
  return {
      {"id", i.id},
      {"title", i.title},
      {"sev", incident::SevName(i.sev)},
      {"state", std::string(incident::IncidentStateName(i.state))},
      {"opened_at", Time(i.opened_at)},
      {"age_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - i.opened_at).count()},
      {"alerts", alerts},
      {"acknowledged_by", i.acknowledged_by},
      {"acknowledged_by_name", NameOf(m, i.acknowledged_by)},
      {"acknowledged_at", Time(i.acknowledged_at)},
      {"resolved_by", i.resolved_by},
      {"commander", i.commander},
      {"drill", i.drill},
      {"next_step", i.next_step},
      {"next_step_at", Time(i.next_step_at)},
      {"paged", paged}};
}

const incident::EscalationPolicy* PolicyOf(const incident::PolicySet& set,
                                           const incident::Incident& i) {
  if (const auto* p = set.Find(i.policy)) return p;
  return set.Find("default");
}

// The steps still ahead on the ladder, each with its time and the people its targets name
// at that time (as the roster says now; an override added later may change it).
json NextSteps(incident::IncidentManager& m, const incident::PolicySet& policies,
               const incident::Incident& i) {
  json out = json::array();
  const auto* policy = PolicyOf(policies, i);
  if (!policy || !i.open() || i.next_step_at == TimePoint{}) return out;
  auto schedule = m.schedule();
  std::string domain = i.domain.empty() ? policy->default_domain : i.domain;
  for (std::size_t k = static_cast<std::size_t>(std::max(0, i.next_step)); k < policy->steps.size();
       ++k) {
    const auto& step = policy->steps[k];
    TimePoint at =
        k == static_cast<std::size_t>(i.next_step) ? i.next_step_at : i.ladder_start + step.after;
    json targets = json::array();
    for (const auto& t : step.targets) {
      json people = json::array();
      std::string what;
      if (!t.person.empty()) {
        what = t.person;
        people.push_back({{"id", t.person}, {"name", NameOf(m, t.person)}});
      } else if (!t.role.empty()) {
        std::string role = t.role;
        if (auto p = role.find("{domain}"); p != std::string::npos) role.replace(p, 8, domain);
        what = role;
        if (schedule) {
          for (const auto& id : schedule->WhoHolds(role, at)) {
            people.push_back({{"id", id}, {"name", NameOf(m, id)}});
          }
        }
      } else {
        what = !t.team.empty() ? "team " + t.team : "rotation " + t.rotation;
      }
      targets.push_back({{"target", what}, {"people", people}});
    }
    json channels = json::array();
    for (const auto& c : step.channels) channels.push_back(std::string(incident::ChannelName(c)));
    out.push_back(
        {{"step", k + 1}, {"at", Time(at)}, {"targets", targets}, {"channels", channels}});
  }
  return out;
}

json PageTextJson(const notify::PageRenderer& renderer, const incident::Incident& i) {
  incident::PageRequest r;
  r.incident_id = i.id;
  r.sev = i.sev;
  r.title = i.title;
  r.state = std::string(incident::IncidentStateName(i.state));
  r.alerts = i.alerts;
  r.causes = i.causes;
  r.opened_at = i.opened_at;
  auto t = renderer.Render(r);
  // Links come from alert annotations, which whoever holds an intake token writes: only an
  // http(s) address becomes a link (never javascript: or data:); any other is shown as text.
  json links = json::array();
  for (const auto& l : t.links) {
    const bool web = IsAbsoluteHttpUrl(l.href);
    links.push_back({{"href", web ? l.href : ""}, {"url", l.href}, {"text", l.text}});
  }
  return {{"what", t.what},
          {"where", t.where},
          {"how_much", t.how_much},
          {"action", t.action},
          {"runbook_url", t.runbook_url},
          {"dashboard_url", t.dashboard_url},
          {"query_url", t.query_url},
          {"links", links},
          {"causes", t.causes}};
}

}  // namespace

const json& PagedCache::Of(incident::IncidentManager& m, const incident::Incident& i) {
  Entry& e = entries_[i.id];
  if (e.timeline_seq != i.timeline_seq) {
    ++reads_;
    auto timeline = m.Timeline(i.id);
    // A failed read is not kept: the next listing tries again.
    e.timeline_seq = timeline ? i.timeline_seq : -1;
    e.paged = PagedFrom(timeline ? incident::DeliveriesToJson(*timeline) : json::array());
  }
  return e.paged;
}

void PagedCache::KeepOnly(const std::set<std::string>& ids) {
  std::erase_if(entries_, [&](const auto& e) { return !ids.contains(e.first); });
}

void PagedCache::Forget(const std::set<std::string>& ids) {
  for (const auto& id : ids) entries_.erase(id);
}

Result<json> IncidentListJson(const ViewContext& ctx, const std::set<std::string>* only) {
  incident::IncidentFilter f;
  f.open_only = true;
  f.limit = 10000;
  // Open incidents are listed from memory, as the ladder acts on them.
  auto list = ctx.incidents.List(f);
  if (!list) return Fail(list.error());
  PagedCache uncached;
  PagedCache& paged = ctx.paged ? *ctx.paged : uncached;
  json out = json::array();
  std::set<std::string> listed;
  for (const auto& i : *list) {
    if (only && !only->contains(i.id)) continue;
    listed.insert(i.id);
    out.push_back(Summary(ctx.incidents, i, paged.Of(ctx.incidents, i), ctx.now));
  }
  if (!only) {
    paged.KeepOnly(listed);
  } else {
    std::set<std::string> gone;
    for (const auto& id : *only) {
      if (!listed.contains(id)) gone.insert(id);
    }
    paged.Forget(gone);
  }
  return json{{"now", Time(ctx.now)}, {"incidents", out}};
}

Result<json> IncidentDetailJson(const ViewContext& ctx, const std::string& id) {
  auto inc = ctx.incidents.Get(id);
  if (!inc) return Fail(inc.error());
  auto timeline = ctx.incidents.Timeline(id);
  if (!timeline) return Fail(timeline.error());
  json deliveries = incident::DeliveriesToJson(*timeline);
  json out = Summary(ctx.incidents, *inc, PagedFrom(deliveries), ctx.now);
  json events = json::array();
  for (const auto& e : *timeline) events.push_back(incident::TimelineEventToJson(e));
  out["timeline"] = events;
  out["deliveries"] = deliveries;
  json alerts = json::array();
  for (const auto& a : inc->alerts) alerts.push_back(incident::AlertToJson(a));
  json causes = json::array();
  for (const auto& a : inc->causes) causes.push_back(incident::AlertToJson(a));
  out["alerts_full"] = alerts;
  out["causes"] = causes;
  out["next_steps"] = NextSteps(ctx.incidents, ctx.policies, *inc);
  if (auto v = ctx.incidents.Verify(id)) {
    out["verify"] = {{"ok", v->ok},
                     {"events", v->events},
                     {"first_bad_seq", v->first_bad_seq},
                     {"message", v->message}};
  } else {
    out["verify"] = {{"ok", false}, {"message", "could not check: " + v.error().message()}};
  }
  if (ctx.renderer) out["text"] = PageTextJson(*ctx.renderer, *inc);
  return json{{"now", Time(ctx.now)}, {"incident", out}};
}

}  // namespace tocsin::panel
