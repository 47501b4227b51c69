#pragma once

#include <map>
#include <mutex>

#include "tocsin/rules/alert_state_store.h"

namespace tocsin::rules {

// AlertStateStore in memory: for tests (a "restart" is a new evaluator on the same store) and
// offline tools (backtest, rule tests). Can be told to fail, to test that a store outage never
// stops evaluation. Thread-safe.
class MemoryAlertStateStore final : public AlertStateStore {
 public:
  Result<std::vector<PersistedAlertState>> Load() override;
  Result<void> Apply(const std::vector<PersistedAlertState>& changed,
                     const std::vector<std::pair<std::string, Fingerprint>>& removed) override;

  void set_fail(bool fail);
  std::size_t size() const;
  std::size_t writes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, Fingerprint>, PersistedAlertState> items_;
  bool fail_ = false;
  std::size_t writes_ = 0;
};

}  // namespace tocsin::rules
