// Outbox planning: which deliveries a PageRequest becomes, by what each provider is (the
// provider registry), before anything is written.
#include <fmt/format.h>

#include "notify/outbox.h"
#include "notify/provider_registry.h"
#include "notify/providers/status_page/status_page_notifier.h"

namespace tocsin::notify {

using incident::Channel;
using incident::PageAction;
using incident::PageRequest;
using Delivery = ProviderSpec::Delivery;

std::vector<OutboxItem> Outbox::Plan(const PageRequest& r, TimePoint now,
                                     incident::PageReceipt* receipt) const {
  std::vector<OutboxItem> items;
  auto add = [&](Channel c, std::string kind, std::vector<std::string> people = {},
                 std::string target = {}, std::string person = {}, std::string coalesce = {}) {
    OutboxItem item;
    item.channel = c;
    item.original_channel = c;
    // Acks and resolves follow the trigger to where it was delivered (after a fail-over).
    item.channel = Landing(r.incident_id, c, /*now_failed_over=*/false);
    item.kind = std::move(kind);
    item.target = std::move(target);
    item.person_id = std::move(person);
    item.coalesce_key = std::move(coalesce);
    item.created_at = now;
    item.next_attempt_at = now;
    item.request = r;
    receipt->queued.push_back({c, item.kind, item.person_id, std::move(people)});
    items.push_back(std::move(item));
  };
  auto used = [&](Channel c) {
    auto it = routes_.find(r.incident_id);
    return it != routes_.end() && it->second.count(c) > 0;
  };
  // Several updates of one incident message supersede each other while pending.
  auto update_key = [&](Channel c) { return fmt::format("{}-update:{}", c.name(), r.incident_id); };
  // The providers of one kind, in registry order: those configured now, or every one (a
  // mirror goes where the trigger went even if that provider was removed since: it then
  // fails loudly instead of being dropped without a word).
  auto of_kind = [&](Delivery d, bool configured_only = true) {
    std::vector<const ProviderSpec*> out;
    for (const auto& p : Providers()) {
      if (p.delivery == d && (!configured_only || notifiers_.Has(p.channel))) out.push_back(&p);
    }
    return out;
  };
  auto configured = [&](Delivery d) { return of_kind(d); };
  // Where a mirror of the incident lands (Landing): its provider's spec.
  auto lands_on = [&](const ProviderSpec& p, bool now_failed_over = true) -> const ProviderSpec& {
    const ProviderSpec* via = FindProvider(Landing(r.incident_id, p.channel, now_failed_over));
    return via ? *via : p;
  };
  // The provider the action came from already has it; a mirror would echo back.
  auto came_from = [&](const ProviderSpec& p) {
    const ProviderSpec& lands = lands_on(p);
    return !lands.origin.empty() && lands.origin == r.origin;
  };
  switch (r.action) {
    case PageAction::kTrigger: {
      // The first channel of the step that is configured and can reach the person is theirs.
      std::map<Channel, std::vector<const incident::PageTarget*>> reached;
      // The same request with each target's fate, for the incident message and thread.
      PageRequest told = r;
      for (std::size_t i = 0; i < r.targets.size(); ++i) {
        const auto& t = r.targets[i];
        const ProviderSpec* chosen = nullptr;
        std::string why;
        for (Channel c : t.channels) {
          const ProviderSpec* p = FindProvider(c);
          if (!p || !notifiers_.Has(c)) {
            why += fmt::format("{}{} is not configured", why.empty() ? "" : "; ", c.name());
          } else if (!p->Reaches(t.person)) {
            why += fmt::format("{}{}: the roster has no {} for {}", why.empty() ? "" : "; ",
                               c.name(), p->identity_field, t.person.id);
          } else {
            chosen = p;
            break;
          }
        }
        if (chosen) told.targets[i].paged_via = chosen->channel;
        told.targets[i].unroutable = chosen == nullptr;
        if (!chosen) {
          receipt->unroutable.push_back(
              {t.person.id, t.role, why.empty() ? "the step names no channel" : why});
          continue;
        }
        reached[chosen->channel].push_back(&t);
      }
      auto people = [&](Channel c) {
        std::vector<std::string> ids;
        for (const auto* t : reached[c]) ids.push_back(t->person.id);
        return ids;
      };
      for (const auto* p : configured(Delivery::kAlert)) {
        if (reached.count(p->channel)) add(p->channel, "page", people(p->channel));
      }
      for (const auto* p : configured(Delivery::kPerPerson)) {
        for (const auto* t : reached[p->channel]) {
          for (auto kind : p->per_person_kinds) {
            add(p->channel, std::string(kind), {t->person.id}, p->identity(t->person),
                t->person.id);
          }
        }
      }
      for (const auto* p : configured(Delivery::kIncidentMessage)) {
        // The incident message (or, for later steps, the thread reply) mentions whoever it
        // reaches; the update of the message reaches nobody by itself.
        std::size_t first = items.size();
        if (r.step == 0 && !used(p->channel)) {
          add(p->channel, "post", people(p->channel));
        } else {
          add(p->channel, "update", {}, {}, {}, update_key(p->channel));
          add(p->channel, "thread", people(p->channel));
        }
        for (std::size_t i = first; i < items.size(); ++i) items[i].request.targets = told.targets;
      }
      break;
    }
    case PageAction::kAcknowledge:
    case PageAction::kResolve:
      for (const auto* p : of_kind(Delivery::kAlert, false)) {
        const Channel c = p->channel;
        if (!used(c)) continue;
        // The incident's line of `c` goes elsewhere now (a trigger failed over and its route
        // followed, or `c` is failed over), and `c` has a page of it: after a fail-over in the
        // middle of the ladder PagerDuty has step 1's alert and Opsgenie step 2's, and each
        // would page on. `c` is told too, waiting while it is down (a closing).
        const bool holds = Delivered(r.incident_id, c) && Landing(r.incident_id, c) != c;
        // The line's own item follows the incident's pages (its route, or the partner while
        // `c` is failed over), unless only `c` has any: a partner without a page of the
        // incident, nor a trigger of it on its way there, has nothing to acknowledge.
        const bool follows =
            !holds || Landing(r.incident_id, c, false) != c || TriggerGoing(r.incident_id, c, r.at);
        if (follows && !came_from(*p)) add(c, "page");
        if (holds && (p->origin.empty() || p->origin != r.origin)) {
          add(c, "closing");
          items.back().channel = c;
        }
      }
      for (const auto* p : configured(Delivery::kIncidentMessage)) {
        add(p->channel, "update", {}, {}, {}, update_key(p->channel));
        add(p->channel, "thread");
      }
      break;
    case PageAction::kUpdate:
      for (const auto* p : configured(Delivery::kIncidentMessage)) {
        add(p->channel, "update", {}, {}, {}, update_key(p->channel));
        // What the update tells (the new commander at a shift change) goes in the thread, to
        // them: an edited message notifies nobody.
        if (!r.text.empty()) add(p->channel, "thread");
      }
      break;
    case PageAction::kNote:
      for (const auto& p : Providers()) {
        // A note goes only where the trigger went and notes are kept: PagerDuty would take it
        // for a trigger and page again, also for a resolved incident.
        if (lands_on(p, false).takes_notes && used(p.channel) && !came_from(p)) {
          add(p.channel, "page");
        }
      }
      for (const auto* p : configured(Delivery::kIncidentMessage)) add(p->channel, "thread");
      break;
    case PageAction::kReminder:
      for (const auto* p : configured(Delivery::kIncidentMessage)) add(p->channel, "thread");
      break;
    case PageAction::kStatusUpdate:
      // The war room is the incident message's channel: the update goes into its thread and
      // is shown in the channel too. A drill's update never reaches the status page.
      for (const auto* p : configured(Delivery::kIncidentMessage)) add(p->channel, "thread");
      if (!r.drill && notifiers_.Has(StatusPageChannel())) add(StatusPageChannel(), "status");
      break;
  }
  return items;
}

}  // namespace tocsin::notify
