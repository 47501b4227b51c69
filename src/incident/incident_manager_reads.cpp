// IncidentManager, reads: one incident, listings (open ones from memory), timelines and their
// verification; and the settings and values the transitions look up (an incident's policy,
// ack timeout, resolve mode; a timeline event, a page request, a person). Split from
// incident_manager.cpp, which keeps construction and the public calls (lanes: incident_lanes.cpp).
#include <algorithm>

#include <fmt/format.h>
#include <prometheus/counter.h>

#include "incident/incident_manager_text.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

// --- Reads ---------------------------------------------------------------------------------

Result<Incident> IncidentManager::Current(const std::string& id) { return Get(id); }

Result<Incident> IncidentManager::Get(const std::string& id) {
  if (auto it = live_.find(id); it != live_.end()) return it->second.incident;
  auto stored = store_.Get(id);
  if (!stored) return Fail(stored.error());
  if (!*stored) return Fail(Error::NotFound(fmt::format("no incident {}", id)));
  return **stored;
}

Result<std::vector<Incident>> IncidentManager::List(const IncidentFilter& filter) {
  // Open incidents are in memory as they were committed (each change is applied there once
  // durable, a resolved one leaves): listing them reads no row and parses no JSON, which was
  // most of what a listing of 10,000 open incidents cost, on the loop. Resolved ones and
  // ranges are read from the store. A manager that was not started (tools) reads the store.
  const bool open_states =
      filter.open_only || (filter.state && *filter.state != IncidentState::kResolved);
  if (!started_ || stopped_ || !open_states || filter.opened_from || filter.opened_before) {
    return store_.List(filter);
  }
  std::vector<const Incident*> found;
  found.reserve(live_.size());
  for (const auto& [id, live] : live_) {
    const Incident& inc = live.incident;
    if (!inc.open() || (filter.state && inc.state != *filter.state)) continue;
    found.push_back(&inc);
  }
  const std::size_t n = filter.limit > 0
                            ? std::min(found.size(), static_cast<std::size_t>(filter.limit))
                            : found.size();
  // Newest first, as the store orders them.
  std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(n), found.end(),
                    [](const Incident* a, const Incident* b) { return a->number > b->number; });
  std::vector<Incident> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*found[i]);
  return out;
}

Result<std::vector<TimelineEvent>> IncidentManager::Timeline(const std::string& id) {
  auto inc = Get(id);
  if (!inc) return Fail(inc.error());
  auto events = store_.Timeline(id);
  if (!events) return events;
  // Events the store thread has committed but the loop has not applied to the incident yet:
  // left for the next read, so that an incident and its timeline read in the same turn agree
  // (GET /api/v1/incidents/{id} answered an incident of 11 events with a timeline of 12).
  std::erase_if(*events, [&](const TimelineEvent& e) { return e.seq > inc->timeline_seq; });
  return events;
}

Result<VerifyResult> IncidentManager::Verify(const std::string& id) {
  // Read both from the store: verification is about what is on disk, not what is in memory.
  // The store thread commits while the loop reads, and the incident and its timeline are two
  // reads: a write landing between them (the incident read with 11 events, the timeline with
  // the 13 a group commit just added) looked like removed events. So the incident is read
  // again after the timeline; a write to it in between changes its head, and the reads are
  // taken again. (Optimistic rather than one read transaction: the same on SQLite and on
  // PostgreSQL, whose default isolation gives no snapshot across statements.)
  for (int attempt = 0;; ++attempt) {
    auto stored = store_.Get(id);
    if (!stored) return Fail(stored.error());
    if (!*stored) return Fail(Error::NotFound(fmt::format("no incident {}", id)));
    auto events = store_.Timeline(id);
    if (!events) return Fail(events.error());
    auto after = store_.Get(id);
    if (!after) return Fail(after.error());
    const bool unchanged = *after && (**after).timeline_seq == (**stored).timeline_seq &&
                           (**after).timeline_head == (**stored).timeline_head;
    if (unchanged) return VerifyTimeline(**stored, *events);
    // Judging reads of two different moments would report events "removed" from an intact
    // chain: a verdict of tampering must never come from a race.
    if (attempt == 4) {
      return Fail(Error::Transient(
          fmt::format("{} changed during each of 5 verifications: verify it again", id)));
    }
  }
}

Result<IncidentManager::Live*> IncidentManager::OpenLive(const std::string& id) {
  auto it = live_.find(id);
  if (it != live_.end()) return &it->second;
  auto stored = Get(id);  // kNotFound for an unknown id
  if (!stored) return Fail(stored.error());
  return Fail(Error::Conflict(fmt::format("{} is already resolved", id)));
}

// --- Settings and values -------------------------------------------------------------------

std::vector<std::string> IncidentManager::PolicyNames() const {
  std::vector<std::string> names;
  for (const auto& [name, policy] : policies_.policies) names.push_back(name);
  if (!policies_.Find("default")) names.push_back("default");
  std::sort(names.begin(), names.end());
  return names;
}

const EscalationPolicy& IncidentManager::PolicyOf(const Incident& incident) const {
  if (const auto* p = policies_.Find(incident.policy)) return *p;
  if (const auto* p = policies_.Find("default")) return *p;
  return fallback_policy_;
}

Duration IncidentManager::AckTimeoutOf(const Incident& incident) const {
  return PolicyOf(incident).ack_timeout.value_or(config_.ack_timeout);
}

ResolveMode IncidentManager::ResolveModeOf(const Incident& incident) const {
  return PolicyOf(incident).resolve.value_or(config_.resolve);
}

TimelineEvent IncidentManager::Event(TimePoint at, std::string kind, std::string actor,
                                     std::string text, std::string data) const {
  TimelineEvent e;
  e.at = at;
  e.kind = std::move(kind);
  e.actor = std::move(actor);
  e.text = std::move(text);
  e.data = std::move(data);
  return e;
}

PageRequest IncidentManager::Request(const Incident& incident, PageAction action, std::string key,
                                     TimePoint at) const {
  PageRequest r;
  r.incident_id = incident.id;
  // Bounded and stable for the incident's life (PagerDuty dedup_key, Opsgenie alias).
  // A drill's key says so too: PagerDuty's acknowledge and resolve events carry nothing else.
  r.dedup_key = (incident.drill ? "tocsin/drill/" : "tocsin/") + incident.id;
  r.idempotency_key = std::move(key);
  r.action = action;
  r.step = incident.next_step;
  r.sev = incident.sev;
  r.title = fmt::format("[{}] {}: {}", SevName(incident.sev), incident.id, incident.title);
  if (incident.drill) {
    // The incident's own title starts with the mark; in a page it comes first.
    std::string_view title = incident.title;
    if (title.rfind(kDrillMark, 0) == 0) title.remove_prefix(kDrillMark.size());
    r.title = fmt::format("{}[{}] {}: {}", kDrillMark, SevName(incident.sev), incident.id, title);
  }
  r.state = std::string(IncidentStateName(incident.state));
  r.alerts = incident.alerts;
  std::stable_partition(r.alerts.begin(), r.alerts.end(),
                        [](const Alert& a) { return a.firing(); });
  r.causes = incident.causes;
  r.opened_at = incident.opened_at;
  r.at = at;
  r.drill = incident.drill;
  return r;
}

std::optional<oncall::Person> IncidentManager::PersonOf(const std::string& id) const {
  if (schedule_) {
    if (const auto* p = schedule_->roster().FindPerson(id)) return *p;
  }
  return std::nullopt;
}

void IncidentManager::CountWriteFailure(std::string_view what) {
  if (write_failures_) write_failures_->Add({{"what", std::string(what)}}).Increment();
}

}  // namespace tocsin::incident
