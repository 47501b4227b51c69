// IncidentManager: the per-incident lanes (one change at a time per incident, in order), the
// hand-over of pages decided before this start, and the asynchronous commit every change
// passes through (Apply). The rest of the class: incident_manager.cpp.
#include "tocsin/incident/incident_manager.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "incident/incident_manager_text.h"
#include "incident/page_handoff.h"

namespace tocsin::incident {

using manager_detail::kResumeChunk;

void IncidentManager::Serialize(const std::string& lane, std::function<void(Release)> fn) {
  RunInLane(lane, std::move(fn));
}

void IncidentManager::HandPendingPages(std::vector<PageIntent> pending) {
  if (pending.empty()) return;
  // One line for all of them: after a storm they are thousands (each key at debug).
  // "Handing again", not "re-sending": the outbox adds only the deliveries it does not hold
  // already (most of them, after a kill mid-storm, are there and some were sent), so nothing
  // reaches a provider twice because of this. Also true at an HA takeover, hence "this start".
  spdlog::info(
      "handing {} page(s) decided before this start to the outbox again (their timelines do "
      "not say \"queued\" yet; the outbox adds only the deliveries it does not hold), from {} "
      "to {}",
      pending.size(), pending.front().request.idempotency_key,
      pending.back().request.idempotency_key);
  // Nothing else may happen to an incident before its older pages are queued: an ack taken in
  // between would queue its acknowledge before the incident's trigger, and the provider would
  // drop the acknowledge for a key it does not know, then page anew. So each such incident's
  // lane is held (an ack, a step due, a note wait in it) until the outbox has every one of
  // its pending pages (a failed outbox write keeps it held until the retry stores the page)
  // or the manager stops. The pages are handed in chunks on the following loop turns, in the
  // order decided: after a storm they are thousands, and handing them all before serving took
  // 0.3-0.5 s of the restart.
  struct Handing {
    std::vector<PageIntent> pages;
    std::map<std::string, std::size_t> left;  // incident id -> pages not queued yet
    std::map<std::string, Release> held;
    std::size_t next = 0;
  };
  auto h = std::make_shared<Handing>();
  h->pages = std::move(pending);
  for (const auto& p : h->pages) ++h->left[p.request.incident_id];
  for (const auto& [id, n] : h->left) {
    // Free at start, so held at once; were it busy, the hold comes later and lets go at once
    // if every page of the incident has been answered by then.
    RunInLane(id, [h, id = id](Release release) {
      if (h->left[id] == 0) return release();
      h->held[id] = std::move(release);
    });
  }
  struct HandChunk {
    IncidentManager* self;
    std::shared_ptr<bool> alive;
    std::shared_ptr<Handing> h;
    void operator()() const {
      if (!*alive) return;
      if (self->stopped_) {
        // Nothing more is handed (the pages stay intents for the next start); the changes
        // waiting in these lanes go on, as they would have without pending pages.
        auto held = std::move(h->held);
        h->held.clear();
        for (auto& [id, release] : held) release();
        return;
      }
      for (std::size_t n = 0; n < kResumeChunk && h->next < h->pages.size(); ++n) {
        const PageRequest& page = h->pages[h->next++].request;
        spdlog::debug("handing page {} to the outbox again", page.idempotency_key);
        self->handoff_->Hand(page, [h = h, id = page.incident_id] {
          if (--h->left[id] != 0) return;
          if (auto it = h->held.find(id); it != h->held.end()) {
            auto release = std::move(it->second);
            h->held.erase(it);
            release();
          }
        });
      }
      if (h->next < h->pages.size()) self->scheduler_.Post(*this);
    }
  };
  scheduler_.Post(HandChunk{this, alive_, std::move(h)});
}

void IncidentManager::RunInLane(const std::string& lane, std::function<void(Release)> fn) {
  Lane& l = lanes_[lane];
  if (l.busy) {
    l.waiting.push_back(std::move(fn));
    return;
  }
  l.busy = true;
  // Released at most once, however often the operation calls it.
  auto released = std::make_shared<bool>(false);
  fn([this, lane, released, alive = alive_] {
    if (*released || !*alive) return;
    *released = true;
    ReleaseLane(lane);
  });
}

void IncidentManager::ReleaseLane(const std::string& lane) {
  auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  it->second.busy = false;
  if (it->second.waiting.empty()) {
    lanes_.erase(it);
    return;
  }
  auto next = std::move(it->second.waiting.front());
  it->second.waiting.pop_front();
  RunInLane(lane, std::move(next));
}

void IncidentManager::Apply(const std::string& id, Incident next, std::vector<TimelineEvent> events,
                            std::vector<PageRequest> pages, std::optional<InboundDelivery> delivery,
                            Done<Incident> then) {
  // Every change passes here: a read-only (standby) manager writes nothing, whichever call
  // asked. The public calls refuse earlier too, before they take a lane or read anything.
  ApplyChange(
      id,
      IncidentChange{std::move(next), std::move(events), std::move(pages), std::move(delivery), {}},
      std::move(then));
}

// A page's `at` is when its change was applied: the outbox orders an incident's pages by it (a
// trigger decided at or before an acknowledge is stale; the update decided last is the one
// shown). The `now` a caller took may be older, taken before it waited for the lane: an
// acknowledge queued behind a step, a flush reopening an incident a resolve closed meanwhile.
// Changes of one incident apply one at a time, so stamping them here, each at least a
// millisecond after the incident's latest page (in the same millisecond, a reopen's trigger
// would tie with the resolve and count as stale; the wall clock may step back, or be behind on
// the host that took over), orders them as applied. The latest page's time is stored with the
// incident, in the same commit as the pages.
void IncidentManager::StampPages(const std::string& id, Incident& next,
                                 std::vector<PageRequest>& pages) const {
  if (pages.empty()) return;
  TimePoint last = next.last_page_at;
  if (auto it = live_.find(id); it != live_.end()) {
    last = std::max(last, it->second.incident.last_page_at);
  }
  const TimePoint stamp = std::max(scheduler_.clock().Now(), last + std::chrono::milliseconds(1));
  for (auto& p : pages) {
    p.at = std::max(p.at, stamp);
    last = std::max(last, p.at);
  }
  next.last_page_at = last;
}

void IncidentManager::ApplyChange(const std::string& id, IncidentChange change,
                                  Done<Incident> then) {
  if (RefuseReadOnly(then)) return;
  for (auto& e : change.events) ChainEvent(change.incident, e);
  StampPages(id, change.incident, change.pages);
  Incident next = change.incident;
  std::vector<PageRequest> pages = change.pages;
  // The pages handed while the change is being committed (SetPagerSharesWriter), by key: filled
  // before the store's writer starts on the change, read by its completion.
  auto handed_early = std::make_shared<std::vector<std::string>>();
  auto completed = std::make_shared<bool>(false);
  // Still being committed (a store with a writer thread): the outbox writes the pages in the
  // same group, on condition that their intents are recorded there.
  auto hand_early = [this, &pages, handed_early, completed] {
    if (!pager_shares_writer_ || *completed || stopped_) return;
    for (const auto& p : pages) {
      if (handoff_->HandOnceDecided(p)) handed_early->push_back(p.idempotency_key);
    }
  };
  store_.CommitAsyncAlongside(
      std::move(change),
      [this, alive = alive_, id, next = std::move(next), pages, handed_early, completed,
       then = std::move(then)](Result<void> r) {
        *completed = true;
        if (!*alive) return;
        if (!r) {
          spdlog::error("incident {}: cannot record the change, nothing announced: {}", id,
                        r.error().ToString());
          // Only the pages this change handed: a key already in hand (an earlier change's
          // durable intent) goes on.
          for (const auto& key : *handed_early) handoff_->Abandon(key);
          then(Fail(r.error()));
          return;
        }
        if (auto it = live_.find(id); it != live_.end()) it->second.incident = next;
        then(next);
        if (!*alive) return;
        // After `then`, which puts an opened or reopened incident in memory (and takes a
        // resolved one out, and releases the lane): the handoff records "queued" on the
        // incident in memory, and the listener sees the change durable and in memory.
        // The intents are durable now; the handoff queues them, retrying until the outbox has
        // them. After Stop() they stay intents and go out on the next start.
        if (!stopped_) {
          for (const auto& p : pages) handoff_->Hand(p);
        }
        if (change_listener_) change_listener_(next);
      },
      hand_early);
}

template <typename T>
Result<T> IncidentManager::Inline(const std::function<void(Done<T>)>& call) {
  auto out = std::make_shared<std::optional<Result<T>>>();
  call([out](Result<T> r) { *out = std::move(r); });
  if (!*out) {
    return Fail(Error::Transient(
        "the store has not answered yet; the change completes later (use the asynchronous "
        "call with a store thread)"));
  }
  return std::move(**out);
}
// Instantiated here for the files that call it (incident_manager.cpp, incident_status_update.cpp).
template Result<Incident> IncidentManager::Inline<Incident>(
    const std::function<void(Done<Incident>)>& call);
template Result<void> IncidentManager::Inline<void>(const std::function<void(Done<void>)>& call);

}  // namespace tocsin::incident
