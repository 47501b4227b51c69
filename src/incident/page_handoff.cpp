#include "incident/page_handoff.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"

namespace tocsin::incident {

namespace {

using nlohmann::json;

TimelineEvent MakeEvent(TimePoint at, std::string_view kind, std::string text, json data) {
  TimelineEvent e;
  e.at = at;
  e.kind = std::string(kind);
  e.actor = kSystemActor;
  e.text = std::move(text);
  e.data = DumpJson(data);
  return e;
}

// What one outbox delivery is, in words: "trigger page", "Slack incident message", ...
std::string DeliveryName(PageAction action, Channel channel, std::string_view kind) {
  if (kind == "post") return "incident message";
  if (kind == "update") return "incident message update";
  if (kind == "thread") return "thread reply";
  if (kind == "notice") return "notice";
  // An acknowledge or resolve for a provider that has an earlier page of the incident.
  if (kind == "closing") return fmt::format("{} of its earlier page", PageActionName(action));
  if (channel == Channel::kEmail) return fmt::format("{} e-mail", PageActionName(action));
  return fmt::format("{} page", PageActionName(action));
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

PageHandoff::PageHandoff(Scheduler& scheduler, Pager& pager, Recorder recorder)
    : scheduler_(scheduler), pager_(pager), recorder_(std::move(recorder)) {}

PageHandoff::~PageHandoff() {
  *alive_ = false;
  Stop();
}

void PageHandoff::Stop() {
  stopped_ = true;
  for (auto& [key, retry] : retries_) {
    if (retry.timer != 0) scheduler_.Cancel(retry.timer);
  }
  retries_.clear();
  // early_ stays: an answer still on its way must still know whether its change failed.
  // Nothing more is handed: whoever waits for a page to be queued waits no longer (the page
  // stays an intent and goes out at the next start). Not from the destructor: the callers'
  // objects may be going too.
  auto waiting = std::move(answers_);
  answers_.clear();
  if (*alive_) {
    for (auto& [key, list] : waiting) {
      for (auto& answered : list) answered();
    }
  }
}

void PageHandoff::Hand(const PageRequest& page, std::function<void()> queued) {
  const std::string& key = page.idempotency_key;
  if (queued) {
    // Stopped: nothing more is handed. In hand but no longer sending: the outbox has it, and
    // its events are being recorded.
    const bool has_it = in_hand_.count(key) && !sending_.count(key);
    if (stopped_ || has_it) return queued();
    answers_[key].push_back(std::move(queued));
  }
  if (auto it = early_.find(key); it != early_.end()) {
    // Handed with its change, which is durable now. Still sending: its answer goes on from
    // here. Refused before this: written again now.
    if (!it->second.refused) {
      it->second.confirmed = true;
      return;
    }
    early_.erase(it);
    if (stopped_) return;
  }
  // Already failing: its retry timer sends it; a second Send now would only race it. Already
  // in hand: its events are being recorded.
  if (retries_.count(key) || in_hand_.count(key)) return;
  TryHand(page, RetryOnFailure(page));
}

std::function<void(bool)> PageHandoff::RetryOnFailure(const PageRequest& page) {
  return [this, page](bool ok) {
    if (ok || stopped_) return;
    retries_[page.idempotency_key].page = page;
    ScheduleRetry(page.idempotency_key);
  };
}

bool PageHandoff::HandOnceDecided(const PageRequest& page) {
  const std::string& key = page.idempotency_key;
  if (stopped_ || retries_.count(key) || in_hand_.count(key) || early_.count(key)) return false;
  early_[key] = Early{};
  TryHand(page, RetryOnFailure(page), true);
  return true;
}

void PageHandoff::Abandon(const std::string& key) {
  auto it = early_.find(key);
  if (it == early_.end()) return;
  // Refused already: nothing to send. Still sending: dropped when the answer comes.
  if (it->second.refused) {
    early_.erase(it);
    return;
  }
  it->second.abandoned = true;
}

void PageHandoff::Queued(const std::string& key) {
  auto it = answers_.find(key);
  if (it == answers_.end()) return;
  auto list = std::move(it->second);
  answers_.erase(it);
  for (auto& queued : list) queued();
}

void PageHandoff::TryHand(const PageRequest& page, std::function<void(bool)> then,
                          bool once_decided) {
  const std::string key = page.idempotency_key;
  // In hand from the Send on: the outbox answers once the page is durable (or not written).
  in_hand_.insert(key);
  sending_.insert(key);
  auto answered = [this, alive = alive_, page, key, once_decided,
                   then = std::move(then)](Result<PageReceipt> receipt) mutable {
    if (!*alive) return;
    sending_.erase(key);
    // Queued: whoever waits for it goes on (a failed write keeps them waiting for the retry).
    if (receipt) {
      // Written: its intent is durable, whatever came of the change.
      if (once_decided) early_.erase(key);
      Queued(key);
      return Record(page, *receipt, std::move(then));
    }
    in_hand_.erase(key);
    if (once_decided) {
      auto it = early_.find(key);
      if (it == early_.end()) return;
      Early& e = it->second;
      if (e.abandoned) {
        // The change that decided it failed: there is no page to send.
        early_.erase(it);
        return;
      }
      if (!e.confirmed) {
        // The change has not answered yet (a store shutting down answers out of order): its
        // completion writes the page again (Hand) or drops it (Abandon).
        e.refused = true;
        return;
      }
      early_.erase(it);
      if (!stopped_) {
        spdlog::warn(
            "incident {}: page {} was not written with the change that decided it ({}); "
            "writing it again",
            page.incident_id, key, receipt.error().ToString());
        return TryHand(page, std::move(then));
      }
    }
    if (stopped_) {
      spdlog::warn(
          "incident {}: page {} was not written to the outbox ({}); it stays an intent "
          "and is sent after the next start",
          page.incident_id, key, receipt.error().ToString());
      return;
    }
    spdlog::error("incident {}: page {} could not be written to the outbox, will retry: {}",
                  page.incident_id, key, receipt.error().ToString());
    then(false);
  };
  if (once_decided) {
    pager_.SendOnceDecided(page, std::move(answered));
  } else {
    pager_.Send(page, std::move(answered));
  }
}

void PageHandoff::Record(const PageRequest& page, const PageReceipt& receipt,
                         std::function<void(bool)> then) {
  const TimePoint now = scheduler_.clock().Now();
  const std::string key = page.idempotency_key;
  // The "queued" events and the intent's handed-off mark in one commit: a restart hands again
  // only a page whose record did not land (after a storm, thousands had their record but not
  // yet the mark, a later commit, and were handed again before the daemon served).
  recorder_(page.incident_id, QueuedEvents(page, receipt, now), key,
            [this, alive = alive_, key, incident_id = page.incident_id,
             then = std::move(then)](Result<void> r) {
              if (!*alive) return;
              in_hand_.erase(key);
              if (!r) {
                // The outbox has the page; only the timeline does not say so yet. Sending again
                // is harmless (same idempotency key) and records the events once the store
                // takes them.
                spdlog::error(
                    "incident {}: page {} is queued but its timeline entry failed, will retry: {}",
                    incident_id, key, r.error().ToString());
                return then(false);
              }
              then(true);
            });
}

void PageHandoff::ScheduleRetry(const std::string& key) {
  auto it = retries_.find(key);
  if (it == retries_.end() || stopped_) return;
  Retry& retry = it->second;
  ++retry.failures;
  Duration delay = kFirstRetry * (1LL << std::min(retry.failures - 1, 6));
  delay = std::min(delay, kMaxRetry);
  retry.timer = scheduler_.ScheduleAfter(delay, [this, key] {
    auto jt = retries_.find(key);
    if (jt == retries_.end()) return;
    jt->second.timer = 0;
    TryHand(jt->second.page, [this, key](bool ok) {
      auto kt = retries_.find(key);
      if (kt == retries_.end()) return;
      if (ok) {
        spdlog::info("incident {}: page {} queued after {} failed attempt(s)",
                     kt->second.page.incident_id, key, kt->second.failures);
        retries_.erase(kt);
        return;
      }
      ScheduleRetry(key);
    });
  });
}

std::vector<TimelineEvent> PageHandoff::QueuedEvents(const PageRequest& page,
                                                     const PageReceipt& receipt, TimePoint now) {
  std::vector<TimelineEvent> events;
  for (const auto& d : receipt.queued) {
    std::string what = DeliveryName(page.action, d.channel, d.kind);
    std::string text =
        d.people.empty()
            ? fmt::format("queued: {} via {}", what, ChannelName(d.channel))
            : fmt::format("queued: {} for {} via {}", what, Join(d.people), ChannelName(d.channel));
    events.push_back(MakeEvent(now, kEventQueued, std::move(text),
                               json{{"idempotency_key", page.idempotency_key},
                                    {"action", std::string(PageActionName(page.action))},
                                    {"channel", std::string(ChannelName(d.channel))},
                                    {"kind", d.kind},
                                    {"person", d.person_id},
                                    {"people", d.people},
                                    {"state", "queued"}}));
  }
  for (const auto& u : receipt.unroutable) {
    events.push_back(MakeEvent(
        now, kEventNotPaged,
        fmt::format("not paged: no channel for {} ({}): {}", u.person_id, u.role, u.reason),
        json{{"idempotency_key", page.idempotency_key},
             {"person", u.person_id},
             {"role", u.role},
             {"reason", u.reason}}));
  }
  return events;
}

TimelineEvent PageHandoff::DeliveryEvent(const DeliveryReport& r, TimePoint now) {
  std::string what = DeliveryName(r.action, r.channel, r.kind.empty() ? "page" : r.kind);
  if (!r.person_id.empty()) what += " for " + r.person_id;
  std::string via = std::string(ChannelName(r.channel));
  if (r.channel != r.original_channel) {
    via += fmt::format(" (fail-over from {})", ChannelName(r.original_channel));
  }
  std::string kind;
  std::string text;
  switch (r.outcome) {
    case DeliveryOutcome::kSent:
      kind = kEventSent;
      text = fmt::format("sent: {} via {}, accepted: {}", what, via, r.detail);
      if (!r.provider_ref.empty()) text += fmt::format(" (ref {})", r.provider_ref);
      break;
    case DeliveryOutcome::kRetrying:
      kind = kEventFailed;
      text = fmt::format("failed: {} via {}: {}; will retry in {}", what, via, r.detail,
                         FormatDuration(r.retry_in));
      break;
    case DeliveryOutcome::kFailed:
      kind = kEventFailed;
      text =
          fmt::format("FAILED: {} via {}: {}; given up, will not be retried", what, via, r.detail);
      break;
    case DeliveryOutcome::kSkipped:
      kind = kEventSkipped;
      text = fmt::format("not sent: {} via {}: {}", what, via, r.detail);
      break;
  }
  json data{{"idempotency_key", r.idempotency_key},
            {"channel", std::string(ChannelName(r.original_channel))},
            {"via", std::string(ChannelName(r.channel))},
            {"kind", r.kind},
            {"person", r.person_id},
            {"state", std::string(DeliveryOutcomeName(r.outcome))},
            {"permanent", r.outcome == DeliveryOutcome::kFailed},
            {"status", r.status},
            {"provider_ref", r.provider_ref},
            {"detail", r.detail}};
  if (r.outcome == DeliveryOutcome::kRetrying) data["retry_in"] = FormatDuration(r.retry_in);
  return MakeEvent(now, kind, std::move(text), std::move(data));
}

}  // namespace tocsin::incident
