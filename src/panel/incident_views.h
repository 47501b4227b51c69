#pragma once

// The JSON the incident pages read (docs/panel.md, "Panel endpoints"): built from the incident
// manager, the timeline and the page renderer, so the panel says what the pages and the API say.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "notify/page_renderer.h"
#include "tocsin/common/result.h"
#include "tocsin/incident/escalation_policy.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::panel {

// The "paged" summary (who was paged through what, how it went) of each open incident, kept
// between listings. It comes from the incident's timeline, which is in the store: kept, a
// listing reads the timeline only of the incidents whose timeline grew since (each delivery
// report and change moves the incident's timeline_seq), instead of one store read per open
// incident on every listing, on the loop. Loop thread only.
class PagedCache {
 public:
  // `i`'s summary, read again from the timeline when `i` has moved on since it was kept.
  const nlohmann::json& Of(incident::IncidentManager& m, const incident::Incident& i);
  // Forgets every incident but these (the open ones).
  void KeepOnly(const std::set<std::string>& ids);
  // Forgets these (asked for and found resolved).
  void Forget(const std::set<std::string>& ids);

  // How many timelines were read: what the cache is for, counted for its test.
  std::uint64_t reads() const { return reads_; }

 private:
  struct Entry {
    std::int64_t timeline_seq = -1;
    nlohmann::json paged;
  };
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t reads_ = 0;
};

struct ViewContext {
  incident::IncidentManager& incidents;
  const incident::PolicySet& policies;
  const notify::PageRenderer* renderer = nullptr;  // null: no What/Where text
  TimePoint now{};
  PagedCache* paged = nullptr;  // null: every listing reads every open incident's timeline
};

// Open incidents, newest first: SEV, state, age, alerts, who was paged through what and how
// the deliveries went, who acknowledged, the next ladder step and when it falls due. With
// `only`, just those of them (an id not open is left out: the page drops it).
Result<nlohmann::json> IncidentListJson(const ViewContext& ctx,
                                        const std::set<std::string>* only = nullptr);
// One incident: the above plus timeline, chain check, alerts and causes, links, the page text
// (What / Where / How much / Action), deliveries, and the remaining ladder steps with times
// and the people on call then.
Result<nlohmann::json> IncidentDetailJson(const ViewContext& ctx, const std::string& id);

}  // namespace tocsin::panel
