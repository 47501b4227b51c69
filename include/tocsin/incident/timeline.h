#pragma once

#include <string>
#include <vector>

#include "tocsin/incident/incident.h"

namespace tocsin::incident {

inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Fills seq, prev_hash and hash of `event` from the incident's chain head and advances the
// head. The hash covers every field, so editing any stored column breaks the chain.
void ChainEvent(Incident& incident, TimelineEvent& event);
std::string HashEvent(const TimelineEvent& event);

struct VerifyResult {
  bool ok = true;
  std::int64_t events = 0;
  std::int64_t first_bad_seq = 0;  // 0 when ok
  std::string message;
};

// Recomputes the chain. Detects edited rows (hash mismatch), removed or reordered rows (seq or
// prev_hash mismatch) and removed newest rows (head mismatch with the incident's record).
VerifyResult VerifyTimeline(const Incident& incident, const std::vector<TimelineEvent>& events);

}  // namespace tocsin::incident
