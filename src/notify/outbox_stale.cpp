// Outbox staleness: what an acknowledge or resolve of an incident makes untrue to send (its
// triggers decided before it, an older update of the message), and how such a delivery is
// withdrawn instead of sent. The war-room lines of a stale step written late go with its page
// as they are written (Outbox::Store).
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "notify/outbox.h"

namespace tocsin::notify {

using incident::Channel;
using incident::PageAction;

// Not the incident message, its updates nor its thread replies: they are the war room's record
// of what was paged ("Step 2: paging L2 via PagerDuty"), true once that page went out.
bool Outbox::WakesSomeone(const OutboxItem& item) {
  return item.kind == "page" || item.kind == "sms" || item.kind == "call" ||
         item.kind == "last_resort";
}

// The attempt may have reached the provider (a timeout): said as it was.
std::string Outbox::WithdrawnDetail(const std::string& incident_id, PageAction by,
                                    const DeliveryResult* attempt) {
  const char* what = by == PageAction::kResolve ? "resolved" : "acknowledged";
  if (attempt) {
    return fmt::format(
        "{} was {} while it was on its way; its attempt failed ({}) and it is not tried again",
        incident_id, what, attempt->detail);
  }
  return fmt::format("{} was {} before it could be sent", incident_id, what);
}

void Outbox::NoteClosing(const std::string& incident_id, PageAction action, TimePoint at) {
  if (action != PageAction::kAcknowledge && action != PageAction::kResolve) return;
  auto [it, added] = closings_.try_emplace(incident_id, Closing{at, action});
  if (!added && it->second.at <= at) it->second = {at, action};
  // What is queued may be stale now: the pump withdraws it rather than send it.
  if (!queue_.IdsOfIncident(incident_id).empty()) RequestPump();
  if (closings_.size() < 2 * closings_after_prune_ + 64) return;
  // Amortised: a pass once the map has doubled. An incident with nothing queued has no trigger
  // left to withdraw, but a trigger's write retried after a database error may still land
  // (within minutes): an hour's closings are kept for it.
  const TimePoint keep_after = scheduler_.clock().Now() - std::chrono::hours(1);
  std::erase_if(closings_, [this, keep_after](const auto& kv) {
    return kv.second.at < keep_after && queue_.IdsOfIncident(kv.first).empty();
  });
  closings_after_prune_ = closings_.size();
}

std::optional<PageAction> Outbox::StaleBy(const OutboxItem& item) const {
  if (closings_.empty() || item.request.action != PageAction::kTrigger || !WakesSomeone(item)) {
    return std::nullopt;
  }
  auto it = closings_.find(item.request.incident_id);
  if (it == closings_.end() || it->second.at < item.request.at) return std::nullopt;
  return it->second.action;
}

bool Outbox::OutdatedUpdate(const OutboxItem& item) const {
  if (item.coalesce_key.empty()) return false;
  if (auto it = updates_.find(item.coalesce_key);
      it != updates_.end() && it->second > item.request.at) {
    return true;
  }
  // Older than the incident's acknowledge or resolve, whose own update shows the newer state
  // (queued with it, or sent before a restart that left this one pending).
  auto closing = closings_.find(item.request.incident_id);
  return closing != closings_.end() && closing->second.at > item.request.at;
}

void Outbox::NoteUpdate(const OutboxItem& item) {
  if (item.coalesce_key.empty()) return;
  auto [it, added] = updates_.try_emplace(item.coalesce_key, item.request.at);
  if (!added && it->second < item.request.at) it->second = item.request.at;
  if (updates_.size() < 2 * updates_after_prune_ + 64) return;
  // Amortised, as closings_: a key with nothing queued an hour on has no late write left.
  const TimePoint keep_after = scheduler_.clock().Now() - std::chrono::hours(1);
  std::erase_if(updates_, [this, keep_after](const auto& kv) {
    return kv.second < keep_after && !queue_.WithCoalesceKey(kv.first);
  });
  updates_after_prune_ = updates_.size();
}

void Outbox::Outdated(const OutboxItem& item, TimePoint now) {
  const std::int64_t id = item.id;
  const Channel via = EffectiveChannel(item);
  queue_.Remove(id);
  UpdateQueueDepth();
  // Not in the timeline, as no coalesced update is: the newer one carries the message.
  store_.MarkWithdrawn(
      id, via, now, 0, "a newer update of the message was decided", false, [id](Result<void> w) {
        if (!w) {
          // Still pending: after a restart it is dropped again if a newer update is pending
          // then, or its incident was acknowledged or resolved after it; else it is sent.
          spdlog::error("outbox: outdated update {} not marked so: {}", id, w.error().message());
        }
      });
}

void Outbox::Withdraw(const OutboxItem& item, Channel via, PageAction by, TimePoint now,
                      const DeliveryResult* attempt) {
  OutboxItem stale = item;
  queue_.Remove(item.id);
  const std::string why = WithdrawnDetail(stale.request.incident_id, by, attempt);
  spdlog::info("outbox: {} {} via {} withdrawn: {}", stale.request.incident_id,
               incident::PageActionName(stale.request.action), incident::ChannelName(via), why);
  UpdateQueueDepth();
  DeliveryResult answer;
  answer.status = attempt ? attempt->status : 0;
  answer.detail = why;
  std::weak_ptr<bool> alive = alive_;
  store_.MarkWithdrawn(stale.id, via, now, answer.status, why, attempt != nullptr,
                       [this, alive, stale, via, answer, now](Result<void> w) {
                         if (auto a = alive.lock(); !a || !*a) return;
                         if (!w) {
                           // Still pending in the database: after a restart it is withdrawn
                           // again (Open reads the incident's acknowledges and resolves from
                           // the incident store).
                           spdlog::error("outbox: item {} withdrawn but not marked so: {}",
                                         stale.id, w.error().message());
                         }
                         Report(stale, via, incident::DeliveryOutcome::kSkipped, answer, now);
                       });
}

}  // namespace tocsin::notify
