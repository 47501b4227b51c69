#include "tocsin/report/postmortem_reminder.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tocsin/common/duration.h"
#include "tocsin/report/postmortem.h"

namespace tocsin::report {

PostmortemReminder::PostmortemReminder(Scheduler& scheduler, incident::IncidentManager& manager,
                                       Options options)
    : scheduler_(scheduler), manager_(manager), options_(options) {}

PostmortemReminder::~PostmortemReminder() {
  *alive_ = false;
  Stop();
}

void PostmortemReminder::Start() {
  Check();
  Arm();
}

void PostmortemReminder::Stop() {
  if (timer_ != 0) scheduler_.Cancel(timer_);
  timer_ = 0;
}

void PostmortemReminder::Arm() {
  timer_ = scheduler_.ScheduleAfter(options_.interval, [this] {
    timer_ = 0;
    Check();
    Arm();
  });
}

void PostmortemReminder::Check() {
  const TimePoint now = scheduler_.clock().Now();
  incident::IncidentFilter filter;
  filter.state = incident::IncidentState::kResolved;
  filter.opened_from = now - options_.horizon;
  filter.limit = 0;
  auto resolved = manager_.List(filter);
  if (!resolved) {
    spdlog::warn("post-mortem reminders: cannot list resolved incidents: {}",
                 resolved.error().message());
    return;
  }
  for (const auto& inc : *resolved) {
    if (inc.sev > incident::Sev::kSev2 || done_.count(inc.id) || pending_.count(inc.id)) continue;
    if (PostmortemDue(inc.resolved_at, options_.business_days) > now) continue;
    const std::string text = fmt::format(
        "{} ({}, resolved {}) has no post-mortem after {} business days: "
        "`tocsin incidents postmortem {}` drafts it, `--done URL` records it",
        inc.id, incident::SevName(inc.sev), FormatRfc3339(inc.resolved_at), options_.business_days,
        inc.id);
    pending_.insert(inc.id);
    manager_.RemindPostmortemAsync(
        inc.id, text, now, [this, alive = alive_, id = inc.id](Result<bool> r) {
          if (!*alive) return;
          pending_.erase(id);
          if (!r) {
            // Tried again at the next check.
            spdlog::warn("post-mortem reminder for {}: {}", id, r.error().message());
            return;
          }
          done_.insert(id);
        });
  }
}

}  // namespace tocsin::report
