#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::ha {

// How a change a person asked a standby for reaches the active instance: the standby writes
// it as a request row, the active claims it under its lease epoch, applies it and writes the
// answer, which the standby reads back for the person (docs/operations.md, "What a standby
// does"). A request is pending, then claimed, then answered; a standby that waited long
// enough withdraws a request nobody claimed, so that "nothing was changed" stays true.
struct ChangeRequest {
  std::int64_t id = 0;
  std::string from_instance;
  // The change, as JSON: incident::ForwardedChangeToJson, or {"silence_change":
  // dispatch::SilenceChangeToJson}.
  std::string body;
  // Claimed before under an older epoch: its claimer lost the lease, perhaps after applying
  // it. The change's delivery tells whether it was.
  bool reclaimed = false;
};

struct ChangeAnswer {
  bool ok = false;
  Error::Kind kind = Error::Kind::kTransient;  // when !ok
  // When !ok, the error; when ok, what the change made, if anything (a silence's id).
  std::string message;
  friend bool operator==(const ChangeAnswer&, const ChangeAnswer&) = default;
};

enum class RequestState { kPending, kClaimed, kAnswered, kWithdrawn };

struct RequestStatus {
  RequestState state = RequestState::kPending;
  std::string claimed_by;
  std::optional<ChangeAnswer> answer;  // when kAnswered
};

// Blocking calls: run them on an executor, never on the loop. One caller at a time.
class ChangeQueue {
 public:
  virtual ~ChangeQueue() = default;
  // Writes a pending request; its id once durable.
  virtual Result<std::int64_t> Submit(const std::string& from_instance,
                                      const std::string& body) = 0;
  // Claims up to `limit` requests, oldest first, for `instance` holding the lease at `epoch`:
  // pending ones, and ones claimed under an older epoch. Claims nothing (an empty list) unless
  // `instance` holds the lease at `epoch` by the database's clock.
  virtual Result<std::vector<ChangeRequest>> Claim(const std::string& instance, std::int64_t epoch,
                                                   std::size_t limit) = 0;
  // Records the answer of a request this instance claimed at `epoch`; kConflict when it is no
  // longer that claim (another epoch took it over).
  virtual Result<void> Answer(std::int64_t id, const std::string& instance, std::int64_t epoch,
                              const ChangeAnswer& answer) = 0;
  // kNotFound for an unknown id.
  virtual Result<RequestStatus> Status(std::int64_t id) = 0;
  // Withdraws a request nobody claimed yet (true); false when it was claimed or answered.
  virtual Result<bool> Withdraw(std::int64_t id) = 0;
  // Deletes answered and withdrawn requests older than `age`; how many.
  virtual Result<std::size_t> Prune(Duration age) = 0;
};

// The queue in PostgreSQL (table tocsin_ha_requests, created by the ha schema), on a
// connection of its own; `timeout` as for the lease store.
std::unique_ptr<ChangeQueue> MakePgChangeQueue(std::string url, Duration timeout);

}  // namespace tocsin::ha
