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
// modules add), and its schema versions, into the empty store `to`, in one transaction of
// `to`: on any error nothing is left in it. Both are first brought to `migrations` (what
// `tocsin serve` does on start), so their tables match. Refuses a target that already holds a
// tocsin store, and a source table the target lacks (a newer tocsin's). Rows keep their values
// exactly (integers as integers, reals as reals), and identity counters on PostgreSQL continue
// after the copied ids. Run it with the daemon stopped.
Result<std::vector<CopiedTable>> CopyStore(Database& from, Database& to,
                                           const std::vector<Migration>& migrations);

}  // namespace tocsin::store
