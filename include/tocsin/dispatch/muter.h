#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"

namespace tocsin::dispatch {

// "Does anything mute these labels at `now`?" — the one question silences, inhibition and
// maintenance windows answer (Alertmanager's Muter). Returns the ids of what mutes them:
// silence ids, fingerprints of inhibiting alerts, or maintenance window names; empty when the
// alert may notify. Loop thread only unless an implementation says otherwise.
class Muter {
 public:
  virtual ~Muter() = default;
  virtual std::vector<std::string> MutedBy(const Labels& labels, TimePoint now) const = 0;
};

}  // namespace tocsin::dispatch
