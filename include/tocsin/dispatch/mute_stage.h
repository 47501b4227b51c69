#pragma once

#include "tocsin/dispatch/muter.h"
#include "tocsin/dispatch/stage.h"

namespace tocsin::dispatch {

// Drops firing alerts that a Muter (silences or maintenance windows) mutes at flush time.
// Resolved alerts pass, so that what was paged before a silence still resolves.
class MuteStage final : public Stage {
 public:
  enum class Kind { kSilence, kMaintenance };
  MuteStage(const Muter& muter, Kind kind) : muter_(muter), kind_(kind) {}
  void Run(FlushContext& ctx) const override;

 private:
  const Muter& muter_;
  Kind kind_;
};

}  // namespace tocsin::dispatch
