#pragma once

#include <string>
#include <vector>

#include "tocsin/api/incident_commands.h"
#include "tocsin/common/clock.h"
#include "tocsin/incident/incident_manager.h"

namespace tocsin::incident {

// The incident engine as the Slack and provider webhook endpoints see it: finds the incident
// by id ("INC-42", any case) or by its dedup key ("tocsin/INC-42", what PagerDuty and Opsgenie
// send back), and maps acknowledge / resolve / note / escalate onto the IncidentManager.
//
// A repeated action (double click, a webhook echoing tocsin's own mirror) answers changed=false
// and adds nothing to the timeline and pages nobody. A request's delivery key is stored in the
// transaction of the change it causes (acknowledge, resolve, note), alone when nothing changes;
// an escalation records its key first and then pages (its pages are committed by the
// escalation engine), so a failed escalation is not retried by a replay: the person asks again.
// Actions from Slack, the API or the CLI need a roster person as actor (kUnauthorized
// otherwise); provider actors ("pagerduty:Olena Kovalenko") are accepted because the provider
// authenticated them and the webhook signature authenticated the provider.
//
// Thread-safety: loop thread only, like the manager.
class ManagerIncidentCommands final : public http::IncidentCommands {
 public:
  ManagerIncidentCommands(IncidentManager& manager, const Clock& clock);

  // The synchronous forms need a store that completes at once (tests, tools); they fail with
  // kTransient otherwise.
  Result<http::ActionOutcome> Act(const http::ActionRequest& request) override;
  // Actions on one incident run one after the other, from the read of its state to the
  // commit of their effect, so that a concurrent replay is recognised as one.
  void ActAsync(const http::ActionRequest& request, Done<http::ActionOutcome> done) override;
  Result<bool> Processed(const http::DeliveryKey& delivery) override;
  Result<void> RecordProcessed(const http::DeliveryKey& delivery) override;
  void RecordProcessedAsync(const http::DeliveryKey& delivery, Done<void> done) override;
  std::vector<http::IncidentBrief> OpenIncidents() override;

  // "tocsin/INC-42" -> "INC-42", "inc-42" -> "INC-42".
  static std::string IncidentIdOf(const std::string& ref);

 private:
  IncidentManager& manager_;
  const Clock& clock_;
};

}  // namespace tocsin::incident
