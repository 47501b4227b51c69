#pragma once

#include "tocsin/dispatch/stage.h"

namespace tocsin::dispatch {

// Decides whether the receiver needs to hear about the group now (Alertmanager's DedupStage):
// yes when an alert fires that was not in the last notification, when everything resolved
// after a notification of firing alerts, when a resolved alert is new, or when
// repeat_interval has passed; no otherwise. "Everything resolved" is never said while an
// alert of the group still fires but is muted (silence, maintenance window, inhibition).
// Unlike Alertmanager, while other alerts of the group keep firing, an alert that was
// announced as firing within repeat_interval does not count as new when it fires again (a
// flapping alert inside an open incident does not page twice); after a notice that said
// everything resolved, any alert firing at the next flush pages. On "yes" it records the
// notification in ctx.state.
class DedupStage final : public Stage {
 public:
  void Run(FlushContext& ctx) const override;
};

}  // namespace tocsin::dispatch
