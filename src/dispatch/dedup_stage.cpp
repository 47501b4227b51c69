#include "tocsin/dispatch/dedup_stage.h"

#include <algorithm>

namespace tocsin::dispatch {

namespace {

bool Subset(const std::vector<Fingerprint>& sub, const std::vector<Fingerprint>& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

}  // namespace

void DedupStage::Run(FlushContext& ctx) const {
  NotificationState& st = *ctx.state;
  std::vector<Fingerprint> firing, resolved;
  for (const auto& a : ctx.alerts) {
    (a.ResolvedAt(ctx.now) ? resolved : firing).push_back(a.fingerprint());
  }
  std::sort(firing.begin(), firing.end());
  std::sort(resolved.begin(), resolved.end());

  bool repeat_due = st.last_notified + ctx.repeat_interval <= ctx.now;
  // Announced alerts that still fire but were muted at this flush (a silence, a maintenance
  // window, an inhibition that began after the page): they have not resolved. An alert muted
  // from the start was never announced and holds nothing open.
  const bool muted_announced =
      std::any_of(ctx.muted.begin(), ctx.muted.end(), [&st](const Fingerprint& fp) {
        return std::binary_search(st.firing.begin(), st.firing.end(), fp);
      });
  bool needed;
  if (!st.notified) {
    needed = !firing.empty();
  } else if (!Subset(firing, st.firing) && st.firing.empty()) {
    // The last notice said everything resolved (its incident resolved): an alert still firing
    // again at this flush is a recurrence and pages. One that fired and resolved again between
    // two flushes never reaches a notice.
    needed = true;
  } else if (!Subset(firing, st.firing)) {
    // New firing alerts page, unless each was announced within repeat_interval: it fired,
    // resolved and fired again while others of the group kept firing (flapping).
    needed = repeat_due;
    for (const auto& fp : firing) {
      if (std::binary_search(st.firing.begin(), st.firing.end(), fp)) continue;
      auto it = st.last_firing_notice.find(fp);
      if (it == st.last_firing_notice.end() || it->second + ctx.repeat_interval <= ctx.now) {
        needed = true;
      }
    }
  } else if (firing.empty()) {
    // "Everything resolved", unless some are only muted: their incident stays open and its
    // page stands (Alertmanager, too, sends nothing while every alert of a group is muted).
    needed = !st.firing.empty() && !muted_announced;
  } else if (!Subset(resolved, st.resolved)) {
    needed = true;
  } else {
    needed = repeat_due;
  }
  ctx.notify = needed;
  if (!needed) return;
  st.notified = true;
  st.last_notified = ctx.now;
  for (const auto& fp : firing) st.last_firing_notice[fp] = ctx.now;
  // Forget announcements older than repeat_interval; they no longer suppress anything.
  std::erase_if(st.last_firing_notice,
                [&](const auto& kv) { return kv.second + ctx.repeat_interval <= ctx.now; });
  // An announced alert muted now still fires: it stays announced. Dropped here, a later notice
  // without firing alerts said "everything resolved" (the incident resolved while it fired) and
  // the end of its silence paged again as a recurrence.
  for (const auto& fp : ctx.muted) {
    if (std::binary_search(st.firing.begin(), st.firing.end(), fp)) firing.push_back(fp);
  }
  std::sort(firing.begin(), firing.end());
  firing.erase(std::unique(firing.begin(), firing.end()), firing.end());
  st.firing = std::move(firing);
  st.resolved = std::move(resolved);
}

}  // namespace tocsin::dispatch
