#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/dispatch/muter.h"
#include "tocsin/dispatch/silence.h"

namespace tocsin::dispatch {

// The set of silences: create, update, expire, query, and mute (as a Muter). Every change is
// written to the SilenceStore before it takes effect, so an acknowledged silence survives a
// restart. Thread-safety: loop thread only.
class Silences final : public Muter {
 public:
  explicit Silences(SilenceStore& store) : store_(store) {}

  // Reads every stored silence (expired ones included, for the audit trail).
  Result<void> Load();

  // Creates a silence (empty id: a new UUID is assigned) or updates one. As in Alertmanager,
  // an update that CanUpdateInPlace refuses expires the old silence (unless it already is) and
  // creates a new id. Returns the id. Fails kInvalid for a silence that breaks the rules,
  // kNotFound for an unknown id.
  Result<std::string> Upsert(Silence silence, TimePoint now);
  // Expires a pending or active silence (ends_at = now). kNotFound for an unknown id;
  // expiring an expired silence succeeds and changes nothing, as in Alertmanager.
  Result<void> Expire(const std::string& id, TimePoint now);

  std::optional<Silence> Get(const std::string& id) const;
  std::vector<Silence> List() const;

  std::vector<std::string> MutedBy(const Labels& labels, TimePoint now) const override;

 private:
  SilenceStore& store_;
  std::map<std::string, Silence> by_id_;
};

// Alertmanager's rule (silence.go canUpdate) for changing a silence without rewriting what it
// muted: the matchers must be the same; an active silence must keep its start (to the second)
// and may not end in the past; a pending one may not start in the past; an expired one is
// never changed. Any other change makes a new silence.
bool CanUpdateInPlace(const Silence& old, const Silence& updated, TimePoint now);

// A random (version 4) UUID, the format Alertmanager uses for silence ids.
std::string NewUuid();

}  // namespace tocsin::dispatch
