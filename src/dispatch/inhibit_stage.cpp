#include "tocsin/dispatch/inhibit_stage.h"

#include <set>

namespace tocsin::dispatch {

void InhibitStage::Run(FlushContext& ctx) const {
  std::vector<Alert> kept;
  kept.reserve(ctx.alerts.size());
  std::set<Fingerprint> attached;
  for (auto& a : ctx.alerts) {
    bool firing = !a.ResolvedAt(ctx.now);
    if (firing && !inhibitor_.MutedBy(a.labels, ctx.now).empty()) {
      ++ctx.inhibited;
      ctx.muted.push_back(a.fingerprint());
      continue;
    }
    if (firing) {
      for (const Alert* cause : inhibitor_.CausesFor(a.labels)) {
        if (attached.insert(cause->fingerprint()).second) ctx.causes.push_back(*cause);
      }
    }
    kept.push_back(std::move(a));
  }
  ctx.alerts = std::move(kept);
}

}  // namespace tocsin::dispatch
