#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/dispatch/muter.h"
#include "tocsin/dispatch/silence.h"

namespace tocsin::dispatch {

// The set of silences: create, update, expire, query, and mute (as a Muter). Every change is
// written to the SilenceStore and takes effect, and is answered, only once that write is
// durable: an acknowledged silence survives a restart, and a silence that could not be written
// never mutes anything. The write runs on the store thread; the loop does not wait for it.
// Thread-safety: loop thread only.
class Silences final : public Muter {
 public:
  template <typename T>
  using Done = std::function<void(Result<T>)>;

  explicit Silences(SilenceStore& store) : store_(store) {}
  ~Silences() override { *alive_ = false; }
  Silences(const Silences&) = delete;
  Silences& operator=(const Silences&) = delete;

  // Reads every stored silence (expired ones included, for the audit trail). Startup only.
  Result<void> Load();

  // Creates a silence (empty id: a new UUID is assigned) or updates one. As in Alertmanager,
  // an update that CanUpdateInPlace refuses expires the old silence (unless it already is) and
  // creates a new id, both in one write. `done` gets the id once durable. Fails kInvalid for a
  // silence that breaks the rules, kNotFound for an unknown id (at once, nothing written), or
  // with the store's error (nothing changed).
  void Upsert(Silence silence, TimePoint now, Done<std::string> done);
  // Expires a pending or active silence (ends_at = now); `done` once durable. kNotFound for an
  // unknown id; expiring an expired silence succeeds and changes nothing, as in Alertmanager.
  void Expire(const std::string& id, TimePoint now, Done<void> done);

  std::optional<Silence> Get(const std::string& id) const;
  std::vector<Silence> List() const;

  std::vector<std::string> MutedBy(const Labels& labels, TimePoint now) const override;

 private:
  // Writes `changed` and, once durable, makes it what Get, List and MutedBy see.
  void Store(std::vector<Silence> changed, Done<void> done);

  SilenceStore& store_;
  std::map<std::string, Silence> by_id_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Alertmanager's rule (silence.go canUpdate) for changing a silence without rewriting what it
// muted: the matchers must be the same; an active silence must keep its start (to the second)
// and may not end in the past; a pending one may not start in the past; an expired one is
// never changed. Any other change makes a new silence.
bool CanUpdateInPlace(const Silence& old, const Silence& updated, TimePoint now);

// A random (version 4) UUID, the format Alertmanager uses for silence ids.
std::string NewUuid();

}  // namespace tocsin::dispatch
