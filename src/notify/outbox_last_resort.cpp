// Outbox call of last resort: when a paging provider has failed for `failover_after` and has
// no working partner (PagerDuty and Opsgenie both down, or only one of them configured), the
// person in `notify.last_resort_role` (the Duty Manager) is called through Twilio for each
// trigger stuck there, whatever the ladder step, unless its incident was acknowledged or
// resolved meanwhile.
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "notify/outbox.h"
#include "notify/provider_registry.h"

namespace tocsin::notify {

using incident::Channel;

void Outbox::CallLastResort(Channel c, TimePoint now) {
  const ProviderSpec* spec = FindProvider(c);
  if (!spec || !spec->can_fail_over || config_.last_resort_role.empty() ||
      !notifiers_.Has(Channel::kTwilio) || !on_call_) {
    return;
  }
  const ProviderSpec* twilio = FindProvider(Channel::kTwilio);
  // A trigger decided at or before a durable acknowledge or resolve of its incident (StaleBy),
  // queued or not (one made in the provider's app may queue nothing): someone has the
  // incident, so nobody is woken for it; the pump withdraws it once its lane opens. A trigger
  // decided after it (the incident reopened, or its ladder resumed) still calls.
  std::vector<OutboxItem> calls;
  std::vector<std::string> keys;
  for (const auto& [id, item] : queue_.items()) {
    if (item.request.action != incident::PageAction::kTrigger || EffectiveChannel(item) != c ||
        StaleBy(item)) {
      continue;
    }
    // One call per stuck step; the store's unique key keeps it one across restarts too.
    std::string key = item.request.idempotency_key + "/last-resort";
    if (last_resort_keys_.count(key)) continue;
    last_resort_keys_.insert(key);
    auto people = on_call_(config_.last_resort_role, now);
    bool reached = false;
    for (const auto& person : people) {
      if (!twilio->Reaches(person)) continue;
      OutboxItem call;
      call.channel = Channel::kTwilio;
      call.original_channel = Channel::kTwilio;
      call.kind = "last_resort";
      call.target = twilio->identity(person);
      call.person_id = person.id;
      call.created_at = now;
      call.next_attempt_at = now;
      call.request = item.request;
      call.request.idempotency_key = key;
      calls.push_back(std::move(call));
      reached = true;
    }
    keys.push_back(key);
    if (!reached) {
      spdlog::error(
          "outbox: {} is down with no partner and nobody in role {} has a phone in the roster: "
          "{} step {} reaches nobody until it answers",
          ProviderTitle(c), config_.last_resort_role, item.request.incident_id,
          item.request.step + 1);
    }
  }
  if (calls.empty()) return;
  std::weak_ptr<bool> alive = alive_;
  // Slack hears of the calls this write queued, once durable: not one withdrawn as it landed
  // (its incident acknowledged or resolved meanwhile), nor one the store skipped as written
  // before (a restart plans the stuck step's call again; that one was announced then).
  Store(calls, [this, alive, keys, c, calls](Result<void> stored) {
    if (auto a = alive.lock(); !a || !*a) return;
    if (!stored) {
      // Nothing was written: the next pump tries again.
      for (const auto& k : keys) last_resort_keys_.erase(k);
      return;
    }
    auto queued_now = [this](const OutboxItem& call) {
      for (auto id : queue_.IdsOfIncident(call.request.incident_id)) {
        const OutboxItem* q = queue_.Find(id);
        if (q && q->kind == call.kind && q->person_id == call.person_id &&
            q->request.idempotency_key == call.request.idempotency_key) {
          return q->created_at == call.created_at;
        }
      }
      return false;
    };
    std::string who;
    for (const auto& call : calls) {
      if (!queued_now(call)) continue;
      who += fmt::format("{}{} for {}", who.empty() ? "" : ", ", call.person_id,
                         call.request.incident_id);
    }
    if (who.empty()) return;
    NoticeToSlack("tocsin", fmt::format(":rotating_light: {} is failing and no other paging "
                                        "provider answers: calling the {} directly through "
                                        "Twilio ({}).",
                                        ProviderTitle(c), config_.last_resort_role, who));
  });
}

}  // namespace tocsin::notify
