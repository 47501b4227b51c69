#include "notify/notice_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "notify/provider_registry.h"

namespace tocsin::notify {

incident::PageRequest NoticeSink::ToRequest(const dispatch::AlertGroup& group, TimePoint now) {
  incident::PageRequest r;
  bool resolved = group.AllResolved();
  r.incident_id = fmt::format("notice-{:016x}", Fnv1a64(group.key));
  r.dedup_key = r.incident_id;
  // Same group content -> same key: a flush that changed nothing is not announced twice.
  std::string content = group.key + (resolved ? "|resolved" : "|firing");
  for (const auto& a : group.alerts) {
    content += "|" + a.fingerprint().ToString() + ":" + std::string(AlertStateName(a.state));
  }
  r.idempotency_key = fmt::format("{}/{:016x}", r.incident_id, Fnv1a64(content));
  r.action = resolved ? incident::PageAction::kResolve : incident::PageAction::kTrigger;
  switch (group.HighestSeverity()) {
    case Severity::kCritical:
      r.sev = incident::Sev::kSev1;
      break;
    case Severity::kError:
      r.sev = incident::Sev::kSev2;
      break;
    case Severity::kWarning:
      r.sev = incident::Sev::kSev3;
      break;
    case Severity::kInfo:
      r.sev = incident::Sev::kSev4;
      break;
  }
  r.title = group.group_labels.ToString();
  r.state = resolved ? "resolved" : "firing";
  r.alerts = group.alerts;
  r.causes = group.causes;
  r.opened_at = group.alerts.empty() ? now : group.alerts.front().starts_at;
  r.at = now;
  return r;
}

void NoticeSink::OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) {
  if (group.receiver.notices.empty()) return;
  auto request = ToRequest(group, now);
  for (const auto& notice : group.receiver.notices) {
    auto channel = ParseProviderName(notice.type);
    const ProviderSpec* provider = channel ? FindProvider(*channel) : nullptr;
    if (!provider || provider->notice_kind.empty()) {
      spdlog::warn("notice of receiver {}: unknown notice type {}", group.receiver.name,
                   notice.type);
      continue;
    }
    outbox_.Enqueue(provider->channel, std::string(provider->notice_kind), notice.target, request);
  }
}

}  // namespace tocsin::notify
