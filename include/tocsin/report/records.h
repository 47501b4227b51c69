#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/report/oncall_report.h"

namespace tocsin::report {

// Every incident opened in [from, to) with its timeline, read through the store's interface.
Result<std::vector<IncidentRecord>> LoadIncidentRecords(incident::IncidentStore& store,
                                                        TimePoint from, TimePoint to);

// The incident's first acknowledgement, from its timeline. The incident's own acknowledged_at
// is not it: a reopen clears it and an ack after an ack timeout replaces it.
struct Acknowledgement {
  TimePoint at;
  std::string by;
};
std::optional<Acknowledgement> FirstAcknowledgement(
    const std::vector<incident::TimelineEvent>& timeline);

// One person paged by the ladder (a `page_decided` event's target) and what became of that
// page: the deliveries of that page (its idempotency key) addressed to that person, by name or
// among the people a provider's delivery carries.
struct PersonPage {
  std::size_t event = 0;  // its page_decided event's place in the timeline
  TimePoint at;
  std::string person;
  std::string role;
  int step = 0;  // from 0
  std::string key;
  std::vector<std::string> deliveries;  // "pagerduty sent", "slack failed", "not paged: why"
  bool sent = false;                    // one of them reached its provider
  bool pending = false;                 // one of them is still queued or retrying
  bool withdrawn = false;  // one was not sent: the incident was acknowledged or resolved first
  // Deliveries are recorded and none was sent, is still on its way or was withdrawn: a page
  // that should have reached someone and did not.
  bool Undelivered() const { return !deliveries.empty() && !sent && !pending && !withdrawn; }
  // Nobody was called on by it: withdrawn before anything was sent.
  bool Withdrawn() const { return withdrawn && !sent; }
};
std::vector<PersonPage> PersonPagesOf(const std::vector<incident::TimelineEvent>& timeline);

}  // namespace tocsin::report
