#include "tocsin/rules/memory_alert_state_store.h"

namespace tocsin::rules {

Result<std::vector<PersistedAlertState>> MemoryAlertStateStore::Load() {
  std::lock_guard lock(mu_);
  if (fail_) return Fail(Error::Io("memory store: failing on purpose"));
  std::vector<PersistedAlertState> out;
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

Result<void> MemoryAlertStateStore::Apply(
    const std::vector<PersistedAlertState>& changed,
    const std::vector<std::pair<std::string, Fingerprint>>& removed) {
  std::lock_guard lock(mu_);
  if (fail_) return Fail(Error::Io("memory store: failing on purpose"));
  ++writes_;
  for (const auto& s : changed) items_[{s.rule_key, s.labels.fingerprint()}] = s;
  for (const auto& k : removed) items_.erase(k);
  return {};
}

void MemoryAlertStateStore::set_fail(bool fail) {
  std::lock_guard lock(mu_);
  fail_ = fail;
}

std::size_t MemoryAlertStateStore::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

std::size_t MemoryAlertStateStore::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

}  // namespace tocsin::rules
