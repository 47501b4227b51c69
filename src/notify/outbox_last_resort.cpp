// Outbox call of last resort: when a paging provider has failed for `failover_after` and has
// no working partner (PagerDuty and Opsgenie both down, or only one of them configured), the
// person in `notify.last_resort_role` (the Duty Manager) is called through Twilio for each
// trigger stuck there, whatever the ladder step, unless its incident was acknowledged or
// resolved meanwhile.
#include <map>
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
  // Incidents acknowledged or resolved after a trigger of theirs was decided: the acknowledge
  // or resolve waits in the queue too (behind that trigger, in its lane), and someone has the
  // incident, so nobody is woken for that trigger. A trigger decided after it (the incident
  // reopened, or its ladder resumed) still calls.
  std::map<std::string, TimePoint> handled_at;
  for (const auto& [id, item] : queue_.items()) {
    if (item.request.action == incident::PageAction::kAcknowledge ||
        item.request.action == incident::PageAction::kResolve) {
      auto [it, added] = handled_at.emplace(item.request.incident_id, item.request.at);
      if (!added && item.request.at > it->second) it->second = item.request.at;
    }
  }
  auto handled = [&handled_at](const OutboxItem& trigger) {
    auto it = handled_at.find(trigger.request.incident_id);
    return it != handled_at.end() && trigger.request.at <= it->second;
  };
  std::vector<OutboxItem> calls;
  std::vector<std::string> keys;
  std::vector<std::string> about;
  for (const auto& [id, item] : queue_.items()) {
    if (item.request.action != incident::PageAction::kTrigger || EffectiveChannel(item) != c ||
        handled(item)) {
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
      about.push_back(fmt::format("{} for {}", person.id, item.request.incident_id));
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
  std::string who;
  for (const auto& a : about) who += (who.empty() ? "" : ", ") + a;
  std::weak_ptr<bool> alive = alive_;
  // Slack hears of the call only once it is durable in the outbox (it will be made).
  Store(std::move(calls), [this, alive, keys, c, who](Result<void> stored) {
    if (auto a = alive.lock(); !a || !*a) return;
    if (!stored) {
      // Nothing was written: the next pump tries again.
      for (const auto& k : keys) last_resort_keys_.erase(k);
      return;
    }
    NoticeToSlack("tocsin", fmt::format(":rotating_light: {} is failing and no other paging "
                                        "provider answers: calling the {} directly through "
                                        "Twilio ({}).",
                                        ProviderTitle(c), config_.last_resort_role, who));
  });
}

}  // namespace tocsin::notify
