#pragma once

#include <functional>

#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/dispatch/matcher.h"

namespace tocsin::dispatch {

enum class SilenceState { kPending, kActive, kExpired };
std::string_view SilenceStateName(SilenceState s);  // "pending", "active", "expired"

// A silence: mutes alerts matching all its matchers between starts_at and ends_at. Expiring
// one sets ends_at to now; expired silences are kept for the audit trail. Plain value.
struct Silence {
  std::string id;
  Matchers matchers;
  TimePoint starts_at{};
  TimePoint ends_at{};
  TimePoint updated_at{};
  std::string created_by;
  std::string comment;

  SilenceState StateAt(TimePoint now) const;
  bool ActiveAt(TimePoint now) const { return StateAt(now) == SilenceState::kActive; }
  // Alertmanager's rules for a new or updated silence: at least one matcher, one of which does
  // not match the empty string; starts_at before ends_at; ends_at in the future; an author.
  Result<void> Validate(TimePoint now) const;

  friend bool operator==(const Silence&, const Silence&) = default;
};

// Durable storage for silences, so that they survive restarts. Implementations: SQLite
// (production, module "dispatch" migrations; its writes go to the store thread) and in-memory
// (unit tests). Thread-safety: loop thread only.
class SilenceStore {
 public:
  using Done = std::function<void(Result<void>)>;
  virtual ~SilenceStore() = default;
  // Inserts or replaces each silence with the same id, all or nothing. `done` runs on the loop
  // once the write is durable, or has failed and left nothing behind; it may run before Write
  // returns (a store without a writer thread).
  virtual void Write(std::vector<Silence> silences, Done done) = 0;
  virtual Result<std::vector<Silence>> LoadAll() = 0;
};

}  // namespace tocsin::dispatch
