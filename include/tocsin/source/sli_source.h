#pragma once

#include <string>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/source/query_result.h"

namespace tocsin::source {

// Where SLIs come from. Calls block (network), so the rules engine calls them on an Executor,
// never on the event loop. Errors: kTransient for what may pass (unreachable, timeout, 5xx,
// Prometheus `timeout`/`unavailable`/`internal`/`canceled`), kInvalid for a query Prometheus
// rejects (`bad_data`, `execution`), kUnauthorized for 401/403, kNotFound for 404, kPermanent
// for an answer that is not the Prometheus API. Thread-safety: implementations are safe to call
// from several threads at once.
class SliSource {
 public:
  virtual ~SliSource() = default;
  virtual const std::string& name() const = 0;
  // Instant query at `at`.
  virtual Result<QueryResult> Query(const std::string& expr, TimePoint at) = 0;
  // Range query over [start, end] every `step` (result type kMatrix).
  virtual Result<QueryResult> QueryRange(const std::string& expr, TimePoint start, TimePoint end,
                                         Duration step) = 0;
};

}  // namespace tocsin::source
