#include "tocsin/dispatch/logging_group_sink.h"

#include <spdlog/spdlog.h>

#include "tocsin/common/duration.h"

namespace tocsin::dispatch {

void LoggingGroupSink::OnGroupFlush(const AlertGroup& group, TimePoint now) {
  std::size_t firing = 0;
  for (const auto& a : group.alerts) firing += a.ResolvedAt(now) ? 0 : 1;
  spdlog::info("group flush: receiver={} policy={} group={} firing={} resolved={} causes={}",
               group.receiver.name, group.receiver.escalation_policy, group.group_labels.ToString(),
               firing, group.alerts.size() - firing, group.causes.size());
}

}  // namespace tocsin::dispatch
