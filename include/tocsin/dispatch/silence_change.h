#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tocsin/common/result.h"
#include "tocsin/dispatch/silence.h"

namespace tocsin::dispatch {

// A silence change a person asked a standby instance of a cluster for (the Alertmanager API,
// the panel, Slack's /tocsin silence), carried to the active instance through the database
// (docs/operations.md, "What a standby does"): the standby's Silences hands it to its
// forwarder, and the active's applies it with Silences::ApplyForwarded, as if asked itself.
struct SilenceChange {
  enum class Kind { kUpsert, kExpire };
  Kind kind = Kind::kUpsert;
  // kUpsert: the silence as asked (an empty id creates one).
  Silence silence;
  // kUpsert: the id a silence it creates gets, chosen by the standby, so that a change applied
  // twice (its first applier lost the lease before answering) creates nothing twice, and the
  // standby knows the new id without asking.
  std::string new_id;
  // kExpire: the silence to expire.
  std::string id;
  friend bool operator==(const SilenceChange&, const SilenceChange&) = default;
};

std::string_view SilenceChangeKindName(SilenceChange::Kind kind);  // "upsert", "expire"
nlohmann::json SilenceChangeToJson(const SilenceChange& change);
// kInvalid naming the field when `j` is not a change SilenceChangeToJson wrote.
Result<SilenceChange> SilenceChangeFromJson(const nlohmann::json& j);

}  // namespace tocsin::dispatch
