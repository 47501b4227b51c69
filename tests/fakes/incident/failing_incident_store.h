#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "tocsin/incident/incident_store.h"

namespace tocsin::testing {

// Fault injection around a real IncidentStore (LevelDB's ErrorEnv pattern): everything goes
// to `inner`, except that the next `fail_commits` writes (Commit, RecordDelivery) fail before
// reaching it, as a full disk would, so nothing of them is written. Reads always pass.
// `fail_commits` may be set from another thread; the store itself is used from the loop only.
class FailingIncidentStore final : public incident::IncidentStore {
 public:
  explicit FailingIncidentStore(incident::IncidentStore& inner) : inner_(inner) {}

  std::atomic<int> fail_commits{0};
  std::atomic<int> failed{0};  // writes refused so far

  Result<std::int64_t> NextIncidentNumber() override { return inner_.NextIncidentNumber(); }
  Result<std::int64_t> PeekNextIncidentNumber() override { return inner_.PeekNextIncidentNumber(); }
  Result<void> Commit(const incident::IncidentChange& change) override {
    if (auto e = Injected(); !e) return e;
    return inner_.Commit(change);
  }
  Result<void> RecordDelivery(const incident::InboundDelivery& delivery) override {
    if (auto e = Injected(); !e) return e;
    return inner_.RecordDelivery(delivery);
  }
  Result<bool> HasDelivery(const std::string& source, const std::string& id) override {
    return inner_.HasDelivery(source, id);
  }
  Result<std::optional<incident::Incident>> Get(const std::string& id) override {
    return inner_.Get(id);
  }
  Result<std::vector<incident::Incident>> List(const incident::IncidentFilter& filter) override {
    return inner_.List(filter);
  }
  Result<std::vector<incident::TimelineEvent>> Timeline(const std::string& id) override {
    return inner_.Timeline(id);
  }
  Result<std::vector<incident::PageIntent>> PendingPages() override {
    return inner_.PendingPages();
  }
  Result<void> MarkHandedOff(const std::string& idempotency_key) override {
    return inner_.MarkHandedOff(idempotency_key);
  }
  Result<std::vector<std::string>> PageKeys(const std::string& incident_id) override {
    return inner_.PageKeys(incident_id);
  }

 private:
  Result<void> Injected() {
    for (int n = fail_commits.load(); n > 0;) {
      if (fail_commits.compare_exchange_weak(n, n - 1)) {
        ++failed;
        return Fail(Error::Io("injected store failure: disk I/O error"));
      }
    }
    return {};
  }

  incident::IncidentStore& inner_;
};

}  // namespace tocsin::testing
