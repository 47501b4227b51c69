#pragma once

#include <map>
#include <string>
#include <vector>

#include "tocsin/dispatch/silence.h"

namespace tocsin::fakes {

// In-memory SilenceStore for unit tests; `fail_puts` injects a storage failure.
class MemorySilenceStore final : public dispatch::SilenceStore {
 public:
  Result<void> Put(const dispatch::Silence& s) override {
    if (fail_puts) return Fail(Error::Io("injected store failure"));
    rows[s.id] = s;
    return {};
  }
  Result<std::vector<dispatch::Silence>> LoadAll() override {
    std::vector<dispatch::Silence> out;
    for (const auto& [id, s] : rows) out.push_back(s);
    return out;
  }
  std::map<std::string, dispatch::Silence> rows;
  bool fail_puts = false;
};

}  // namespace tocsin::fakes
