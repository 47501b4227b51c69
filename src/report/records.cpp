#include "tocsin/report/records.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tocsin/incident/incident_json.h"

namespace tocsin::report {

Result<std::vector<IncidentRecord>> LoadIncidentRecords(incident::IncidentStore& store,
                                                        TimePoint from, TimePoint to) {
  incident::IncidentFilter filter;
  filter.opened_from = from;
  filter.opened_before = to;
  filter.limit = 0;
  auto incidents = store.List(filter);
  if (!incidents) return Fail(incidents.error());
  std::vector<IncidentRecord> out;
  out.reserve(incidents->size());
  for (auto& inc : *incidents) {
    auto timeline = store.Timeline(inc.id);
    if (!timeline) return Fail(timeline.error());
    out.push_back({std::move(inc), std::move(*timeline)});
  }
  return out;
}

std::optional<Acknowledgement> FirstAcknowledgement(
    const std::vector<incident::TimelineEvent>& timeline) {
  for (const auto& ev : timeline) {
    if (ev.kind == "acknowledged") return Acknowledgement{ev.at, ev.actor};
  }
  return std::nullopt;
}

std::vector<PersonPage> PersonPagesOf(const std::vector<incident::TimelineEvent>& timeline) {
  std::vector<PersonPage> out;
  for (std::size_t i = 0; i < timeline.size(); ++i) {
    const auto& ev = timeline[i];
    // "notified": what timelines written before page_decided call the same event.
    if (ev.kind != incident::kEventPageDecided && ev.kind != "notified") continue;
    nlohmann::json data = nlohmann::json::parse(ev.data, nullptr, false);
    if (!data.is_object() || !data.contains("targets") || !data["targets"].is_array()) continue;
    std::string key;
    if (auto k = data.find("idempotency_key"); k != data.end() && k->is_string()) key = *k;
    int step = 0;
    if (auto s = data.find("step"); s != data.end() && s->is_number_integer()) step = *s;
    for (const auto& t : data["targets"]) {
      if (!t.is_object()) continue;
      out.push_back({i,
                     ev.at,
                     t.value("person", ""),
                     t.value("role", ""),
                     step,
                     key,
                     {},
                     false,
                     false,
                     false});
    }
  }
  if (out.empty()) return out;
  const nlohmann::json deliveries = incident::DeliveriesToJson(timeline);
  for (auto& p : out) {
    for (const auto& d : deliveries) {
      // The Duty Manager's last-resort call goes out under the page's key + "/last-resort".
      const auto key = d.value("idempotency_key", std::string());
      if (key != p.key && key != p.key + "/last-resort") continue;
      bool theirs = d.value("person", std::string()) == p.person;
      if (auto people = d.find("people"); people != d.end() && people->is_array()) {
        for (const auto& q : *people) theirs = theirs || (q.is_string() && q == p.person);
      }
      if (!theirs) continue;
      auto state = d.value("state", std::string());
      auto via = d.value("via", std::string());
      auto detail = d.value("detail", std::string());
      if (state == "not_paged") {
        p.deliveries.push_back(detail.empty() ? "not paged" : "not paged: " + detail);
      } else {
        p.deliveries.push_back(fmt::format("{} {}", via, state));
      }
      p.sent = p.sent || state == "sent";
      // Queued, or retrying after a provider's temporary error: still on its way.
      p.pending = p.pending || state == "queued" || state == "retrying";
      // A trigger the outbox withdrew when the incident was acknowledged or resolved first.
      p.withdrawn = p.withdrawn || state == "skipped";
    }
  }
  return out;
}

}  // namespace tocsin::report
