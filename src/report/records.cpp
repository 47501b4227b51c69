#include "tocsin/report/records.h"

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

}  // namespace tocsin::report
