#pragma once

namespace tocsin::testing {

// The default ladder as a small roster for the per-provider ladder tests (simulated clock and
// real processes alike): one holder per role, each with their PagerDuty user id, Opsgenie
// username and phone (Twilio).
inline constexpr const char* kLadderRoster = R"(
people:
  l1a: {name: L1 Day, time_zone: UTC, pagerduty_user_id: PL1A001, opsgenie_username: l1a@example.com, phone: '+380501110011'}
  pay: {name: Payments L2, time_zone: UTC, pagerduty_user_id: PPAY001, opsgenie_username: pay@example.com, phone: '+380501110022'}
  comms: {name: Comms Officer, time_zone: UTC, pagerduty_user_id: PCOM001, opsgenie_username: comms@example.com, phone: '+380501110033'}
  dm: {name: Duty Manager, time_zone: UTC, pagerduty_user_id: PDMG001, opsgenie_username: dm@example.com, phone: '+380501110044'}
rotations:
  l1: {role: l1, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [l1a]}
  l2-payments: {role: l2-payments, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [pay]}
  comms: {role: comms, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [comms]}
  dm: {role: duty-manager, time_zone: UTC, start_date: 2025-11-03, handovers: ["00:00"], members: [dm]}
)";

}  // namespace tocsin::testing
