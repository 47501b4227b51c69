#pragma once

#include <algorithm>
#include <functional>
#include <mutex>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/incident/page.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/outbox_store.h"

namespace tocsin::notify::testing {

inline TimePoint T0() { return FromUnixMillis(1'763'776'800'000); }  // 2025-11-22T02:00:00Z

inline oncall::Person Olena() {
  oncall::Person p;
  p.id = "olena";
  p.name = "Olena Kovalenko";
  p.time_zone = "Europe/Kyiv";
  p.slack_user_id = "U024BE7LH";
  p.pagerduty_user_id = "PXPGF42";
  p.opsgenie_username = "olena@example.com";
  p.email = "olena@example.com";
  return p;
}

// The typical scenario: deposits failing at PSP-A in DE, PSP timeouts as the cause.
inline Alert DepositAlert() {
  Alert a;
  a.labels = Labels{{"alertname", "DepositSuccessByPSP"},
                    {"service", "payments"},
                    {"psp", "PSP-A"},
                    {"market", "DE"},
                    {"severity", "critical"},
                    {"kind", "symptom"}};
  a.annotations = {{"title", "Deposit success"},
                   {"runbook", "deposit-psp"},
                   {"dashboard", "https://grafana.example.com/d/deposits?var-psp=PSP-A"},
                   {"query", "https://prometheus.example.com/graph?g0.expr=deposit_success"},
                   {"action", "consider routing 50 % to PSP-B"}};
  a.rule = "deposit-success-by-psp";
  a.kind = AlertKind::kSymptom;
  a.severity = Severity::kCritical;
  a.value = 0.972;
  a.threshold = 0.9985;
  a.burn_rate = 14;
  a.budget_consumed = 0.32;
  a.starts_at = T0();
  return a;
}

inline Alert PspTimeoutCause() {
  Alert c;
  c.labels = Labels{{"alertname", "PspTimeout"}, {"service", "payments"}, {"psp", "PSP-A"}};
  c.annotations = {{"title", "PSP-A auth timeouts"}, {"unit", "ratio"}};
  c.kind = AlertKind::kCause;
  c.value = 0.081;
  c.threshold = 0.02;
  return c;
}

inline incident::PageRequest DepositPage(std::string incident_id = "INC-42") {
  incident::PageRequest r;
  r.incident_id = incident_id;
  r.dedup_key = "tocsin/" + incident_id;
  r.idempotency_key = incident_id + "/step-1/trigger";
  r.action = incident::PageAction::kTrigger;
  r.step = 0;
  r.sev = incident::Sev::kSev1;
  r.title = "Deposits failing at PSP-A in DE";
  r.state = "triggered";
  r.targets = {{Olena(), "l1", {incident::Channel::kPagerDuty, incident::Channel::kSlack}}};
  r.alerts = {DepositAlert()};
  r.causes = {PspTimeoutCause()};
  r.opened_at = T0();
  r.at = T0();
  return r;
}

// A notifier whose answers a test scripts as a function of time, recording every call.
class FakeNotifier final : public Notifier {
 public:
  struct Call {
    std::int64_t id;
    std::string incident_id;
    std::string idempotency_key;
    incident::PageAction action;
    std::string kind;
    incident::Channel original;
    TimePoint at;
    DeliveryResult::Outcome outcome;
  };
  FakeNotifier(incident::Channel c, const Clock& clock) : channel_(c), clock_(clock) {}
  incident::Channel channel() const override { return channel_; }
  DeliveryResult Deliver(const OutboxItem& item) override {
    DeliveryResult r = script ? script(item, clock_.Now()) : DeliveryResult::Ok(202);
    std::lock_guard lock(mu_);
    calls_.push_back({item.id, item.request.incident_id, item.request.idempotency_key,
                      item.request.action, item.kind, item.original_channel, clock_.Now(),
                      r.outcome});
    return r;
  }
  std::string RateKey(const OutboxItem&) const override { return "key"; }
  bool Probe() override { return probe_up ? probe_up(clock_.Now()) : true; }

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<Call> ok_calls() const {
    std::vector<Call> out;
    for (const auto& c : calls()) {
      if (c.outcome == DeliveryResult::Outcome::kOk) out.push_back(c);
    }
    return out;
  }

  std::function<DeliveryResult(const OutboxItem&, TimePoint)> script;
  std::function<bool(TimePoint)> probe_up;

 private:
  incident::Channel channel_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

class RecordingObserver final : public incident::DeliveryObserver {
 public:
  void OnDelivery(const incident::DeliveryReport& r) override { reports.push_back(r); }
  std::vector<incident::DeliveryReport> reports;
};

// The real outbox store whose inserts, while `hold` is set, are written at once but answered
// only when the test says (Release): a write in progress, as the store thread has one while
// its group commit runs. Answers come in the order of the writes, as the store thread's do:
// while one is held, every later write's answer waits behind it.
class HeldInsertStore final : public OutboxStore {
 public:
  explicit HeldInsertStore(OutboxStore& inner) : inner_(inner) {}
  bool hold = false;
  // The next this many inserts that hold a "closing" fail as a full disk would, writing nothing.
  int fail_closings = 0;
  // Answers the oldest write held back; false when none is.
  bool Release() {
    if (held_.empty()) return false;
    auto answer = std::move(held_.front());
    held_.erase(held_.begin());
    answer();
    return true;
  }

  Result<void> Migrate() override { return inner_.Migrate(); }
  Result<std::vector<OutboxItem>> LoadPending() override { return inner_.LoadPending(); }
  Result<RouteMap> LoadRoutes(DeliveredMap& delivered) override {
    return inner_.LoadRoutes(delivered);
  }
  Result<std::vector<Closing>> LoadClosings() override { return inner_.LoadClosings(); }
  void Insert(std::vector<OutboxItem> items, std::vector<std::int64_t> supersede,
              Done<std::vector<OutboxItem>> done) override {
    const bool closing = std::any_of(items.begin(), items.end(),
                                     [](const OutboxItem& i) { return i.kind == "closing"; });
    if (closing && fail_closings > 0) {
      --fail_closings;
      Hold(std::move(done))(Fail(Error::Io("database or disk is full")));
      return;
    }
    inner_.Insert(std::move(items), std::move(supersede), Hold(std::move(done)));
  }
  void InsertIfDecided(std::string intent_key, std::vector<OutboxItem> items,
                       std::vector<std::int64_t> supersede,
                       Done<std::vector<OutboxItem>> done) override {
    inner_.InsertIfDecided(std::move(intent_key), std::move(items), std::move(supersede),
                           Hold(std::move(done)));
  }
  void MarkSent(std::int64_t id, incident::Channel via, TimePoint at, int status,
                std::string detail, Done<void> done) override {
    inner_.MarkSent(id, via, at, status, std::move(detail), Hold(std::move(done)));
  }
  void MarkFailed(std::int64_t id, incident::Channel via, TimePoint at, int status,
                  std::string detail, Done<void> done) override {
    inner_.MarkFailed(id, via, at, status, std::move(detail), Hold(std::move(done)));
  }
  void MarkRetry(std::int64_t id, int attempts, TimePoint next_attempt_at, int status,
                 std::string detail, Done<void> done) override {
    inner_.MarkRetry(id, attempts, next_attempt_at, status, std::move(detail),
                     Hold(std::move(done)));
  }
  void MarkWithdrawn(std::int64_t id, incident::Channel via, TimePoint at, int status,
                     std::string detail, bool attempted, Done<void> done) override {
    inner_.MarkWithdrawn(id, via, at, status, std::move(detail), attempted, Hold(std::move(done)));
  }
  void Prune(TimePoint before, Done<std::int64_t> done) override {
    inner_.Prune(before, Hold(std::move(done)));
  }
  std::int64_t Count(std::string_view state) override { return inner_.Count(state); }
  std::optional<SlackMessageRef> FindSlackMessage(const std::string& incident_id) override {
    return inner_.FindSlackMessage(incident_id);
  }
  Result<void> SaveSlackMessage(const std::string& incident_id,
                                const SlackMessageRef& ref) override {
    return inner_.SaveSlackMessage(incident_id, ref);
  }

 private:
  // Inserts while `hold` is set, and every write while an earlier answer is held.
  template <typename T>
  Done<T> Hold(Done<T> done) {
    if (!hold && held_.empty()) return done;
    return [this, done = std::move(done)](Result<T> r) {
      held_.push_back([done, r = std::move(r)]() mutable { done(std::move(r)); });
    };
  }

  OutboxStore& inner_;
  std::vector<std::function<void()>> held_;
};

}  // namespace tocsin::notify::testing
