#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/incident/incident.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/incident/page.h"

namespace tocsin::incident {

// Hands the pages that incident transitions decided to the Pager, and keeps the timeline true
// about them.
//
// A page whose Send fails (the outbox could not write it) is not dropped: its intent stays
// "not handed off" in the IncidentStore and the same request (same idempotency key) is sent
// again on the Scheduler with exponential backoff (kFirstRetry doubling up to kMaxRetry) until
// the outbox has it. Only then does the timeline get a "queued" event per delivery (channel and
// people) and a "not_paged" event per target no configured channel reaches, and only once those
// are recorded is the intent marked handed off (in the same commit as those events), so a
// crash before that commit re-sends it (the outbox deduplicates) and records them then. Delivery
// reports become "sent", "failed" and "skipped" events (DeliveryEvent).
//
// Sending and recording are asynchronous (the outbox and the store write on the store thread):
// a page is "in hand" from its Send until the outbox has answered and its events are recorded,
// and a second Hand of the same key meanwhile is dropped, as one waiting for a retry is.
//
// Thread-safety: loop thread only. Stop() and the destructor cancel every retry timer; after
// Stop() a failed Send is left to the next start (its intent is not handed off).
class PageHandoff {
 public:
  // Appends the events to the incident's timeline (chained) and marks the page's intent
  // (by idempotency key) handed off, in one commit, then calls the Recorded callback with
  // the outcome (later, once the store has answered).
  using Recorded = std::function<void(Result<void>)>;
  using Recorder = std::function<void(const std::string& incident_id, std::vector<TimelineEvent>,
                                      std::string handed_off_key, Recorded)>;
  static constexpr Duration kFirstRetry = std::chrono::seconds(1);
  static constexpr Duration kMaxRetry = std::chrono::minutes(1);

  PageHandoff(Scheduler& scheduler, Pager& pager, Recorder recorder);
  ~PageHandoff();
  PageHandoff(const PageHandoff&) = delete;
  PageHandoff& operator=(const PageHandoff&) = delete;

  // Sends `page` now; on failure keeps retrying it until it is queued. A page already waiting
  // for a retry is not sent twice. `queued`, when set, runs once the outbox has the page (after
  // as many retries as that takes), or at Stop(), whichever comes first.
  void Hand(const PageRequest& page, std::function<void()> queued = {});
  // Hands `page` while the change that decided it is still being committed, through
  // Pager::SendOnceDecided, so that its outbox row joins that change's group commit. False when
  // it was not handed (already in hand, waiting for a retry, or stopped). For a page it handed,
  // the caller calls, once the change has completed, Hand (durable: the page goes on, and is
  // written again at once if the outbox refused it) or Abandon (failed).
  bool HandOnceDecided(const PageRequest& page);
  // The change that decided the page `key` (handed with HandOnceDecided) failed: the page is
  // dropped if the outbox refused it, as it does when the intent is missing (an intent an
  // earlier change recorded lets the outbox take it, and it is then recorded as queued).
  void Abandon(const std::string& key);
  void Stop();
  // Pages waiting for a retry (tests, shutdown logs).
  std::size_t retrying() const { return retries_.size(); }

  // The timeline events that say what a successful Send queued.
  static std::vector<TimelineEvent> QueuedEvents(const PageRequest& page,
                                                 const PageReceipt& receipt, TimePoint now);
  // The timeline event of one delivery report.
  static TimelineEvent DeliveryEvent(const DeliveryReport& report, TimePoint now);

 private:
  struct Retry {
    PageRequest page;
    int failures = 0;
    TimerId timer = 0;
  };
  // Sends and records; `then(false)` when it must be tried again.
  void TryHand(const PageRequest& page, std::function<void(bool)> then, bool once_decided = false);
  // TryHand's `then` for a page that is kept for a retry when the outbox refuses it.
  std::function<void(bool)> RetryOnFailure(const PageRequest& page);
  // Runs and forgets the `queued` callbacks waiting for `key`.
  void Queued(const std::string& key);
  // Once the outbox has the page: its "queued" and "not paged" events, and the intent handed
  // off, in one commit.
  void Record(const PageRequest& page, const PageReceipt& receipt, std::function<void(bool)> then);
  void ScheduleRetry(const std::string& key);

  Scheduler& scheduler_;
  Pager& pager_;
  Recorder recorder_;
  std::map<std::string, Retry> retries_;  // by idempotency key
  std::set<std::string> in_hand_;         // sent, events not recorded yet
  std::set<std::string> sending_;         // sent, the outbox has not answered yet
  // Pages handed with their change (HandOnceDecided) until the outbox has them or they are
  // dropped: what is known of the change and of the outbox's answer.
  struct Early {
    bool confirmed = false;  // the change is durable (Hand)
    bool abandoned = false;  // the change failed (Abandon)
    bool refused = false;    // the outbox refused it before either was known
  };
  std::map<std::string, Early> early_;
  // Hand's `queued` callbacks, by idempotency key, until the outbox has the page.
  std::map<std::string, std::vector<std::function<void()>>> answers_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::incident
