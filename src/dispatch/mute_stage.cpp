#include "tocsin/dispatch/mute_stage.h"

namespace tocsin::dispatch {

void MuteStage::Run(FlushContext& ctx) const {
  std::vector<Alert> kept;
  kept.reserve(ctx.alerts.size());
  for (auto& a : ctx.alerts) {
    if (!a.ResolvedAt(ctx.now) && !muter_.MutedBy(a.labels, ctx.now).empty()) {
      ++(kind_ == Kind::kSilence ? ctx.silenced : ctx.maintenance_muted);
      ctx.muted.push_back(a.fingerprint());
      continue;
    }
    kept.push_back(std::move(a));
  }
  ctx.alerts = std::move(kept);
}

}  // namespace tocsin::dispatch
