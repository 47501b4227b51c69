#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tocsin/common/result.h"
#include "tocsin/store/database.h"

namespace tocsin::store {

struct CopiedTable {
  std::string name;
  std::int64_t rows = 0;
};

// `tocsin store migrate`: every table of `from` (incidents, their timeline row by row with its
// hashes, outbox, silences, alert state, responder requests, and whatever tables later
// modules add), and its schema versions, into the empty store `to`. `to` is migrated to
// `migrations` and filled in one transaction: on any error it is rolled back and `to` is as it
// was (so the command can be run again). `from` is only read: a source whose schema is not
// exactly `migrations` (older or newer) is refused, as is a target that already holds a tocsin
// store and a source table the target lacks (a newer tocsin's). Rows keep their values
// exactly (integers as integers, reals as reals), and identity counters on PostgreSQL continue
// after the copied ids. Run it with the daemon stopped.
Result<std::vector<CopiedTable>> CopyStore(Database& from, Database& to,
                                           const std::vector<Migration>& migrations);

}  // namespace tocsin::store
