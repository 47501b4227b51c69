#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/oncall/roster.h"

namespace tocsin::oncall {

// An override added through the API (the roster file's own overrides are not stored): what
// it changes, who added it and when. The store is its audit trail.
struct RecordedOverride {
  std::int64_t id = 0;  // assigned by the store
  Override override;
  std::string created_by;
  TimePoint created_at{};
  friend bool operator==(const RecordedOverride&, const RecordedOverride&) = default;
};

std::string_view OverrideKindName(Override::Kind kind);  // "cover" | "swap"

// Where overrides added through the API are kept, so that they survive restarts and reloads.
// Implemented by the store module; oncall knows only this interface. Add completes on the
// caller's loop once the override is durable (or has failed and left nothing behind).
// Thread-safety: Add and LoadAll from the loop thread.
class OverrideStore {
 public:
  using Done = std::function<void(Result<RecordedOverride>)>;
  virtual ~OverrideStore() = default;
  virtual void Add(RecordedOverride entry, Done done) = 0;
  // Every stored override, oldest first.
  virtual Result<std::vector<RecordedOverride>> LoadAll() = 0;
};

}  // namespace tocsin::oncall
