#pragma once

#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report {

// Every incident opened in [from, to) with its timeline, read through the store's interface.
Result<std::vector<IncidentRecord>> LoadIncidentRecords(incident::IncidentStore& store,
                                                        TimePoint from, TimePoint to);

}  // namespace tocsin::report
