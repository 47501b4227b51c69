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
#include "tocsin/dispatch/silence_change.h"

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

  // A standby instance of a cluster hands every change to the active one (issue 14): `done`
  // gets the id the active answered, or its refusal, or why nobody answered.
  using Forwarder = std::function<void(SilenceChange, Done<std::string>)>;

  explicit Silences(SilenceStore& store) : store_(store) {}
  ~Silences() override { *alive_ = false; }
  Silences(const Silences&) = delete;
  Silences& operator=(const Silences&) = delete;

  // Reads every stored silence (expired ones included, for the audit trail): at startup and on
  // taking over as the active instance.
  Result<void> Load();
  // Takes `all` as the whole list: what a standby read off the loop (LoadAll on a connection
  // of its own) to see what the active wrote.
  void Replace(std::vector<Silence> all);

  // Set (a standby): Upsert and Expire check what they can here and forward the rest, writing
  // nothing themselves. Unset (empty function): they write, as on a single instance.
  void SetForwarder(Forwarder forwarder) { forwarder_ = std::move(forwarder); }
  bool forwarding() const { return static_cast<bool>(forwarder_); }
  // On the active instance: applies a change a standby forwarded, as Upsert or Expire would;
  // `done` gets the id of the silence it made or changed. An upsert whose new_id already exists
  // was applied before (by an active that lost the lease before answering) and is answered
  // with that id, unchanged.
  void ApplyForwarded(SilenceChange change, TimePoint now, Done<std::string> done);

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
  // Upsert once validated: a silence it creates gets `new_id` (empty: a new UUID).
  void Apply(Silence silence, TimePoint now, std::string new_id, Done<std::string> done);
  // Writes `changed` and, once durable, makes it what Get, List and MutedBy see.
  void Store(std::vector<Silence> changed, Done<void> done);

  SilenceStore& store_;
  Forwarder forwarder_;
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
