#pragma once

#include "tocsin/dispatch/inhibitor.h"
#include "tocsin/dispatch/stage.h"

namespace tocsin::dispatch {

// Drops firing alerts that an inhibit rule (or the built-in symptom/cause rule) mutes, and
// attaches firing cause alerts of the group's symptoms as cause candidates.
class InhibitStage final : public Stage {
 public:
  explicit InhibitStage(const Inhibitor& inhibitor) : inhibitor_(inhibitor) {}
  void Run(FlushContext& ctx) const override;

 private:
  const Inhibitor& inhibitor_;
};

}  // namespace tocsin::dispatch
