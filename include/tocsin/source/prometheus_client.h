#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/source/sli_source.h"

namespace tocsin::source {

// Prometheus HTTP API client: form-encoded POSTs to /api/v1/query and
// /api/v1/query_range with the source's timeout, bearer token or basic auth, TLS CA and extra
// headers. Thread-safety: safe from several threads (HttpClient is).
class PrometheusClient final : public SliSource {
 public:
  PrometheusClient(config::SourceConfig config, std::shared_ptr<HttpClient> http);

  const std::string& name() const override { return config_.name; }
  Result<QueryResult> Query(const std::string& expr, TimePoint at) override;
  Result<QueryResult> QueryRange(const std::string& expr, TimePoint start, TimePoint end,
                                 Duration step) override;

 private:
  Result<QueryResult> Post(std::string_view path,
                           const std::vector<std::pair<std::string, std::string>>& form);

  config::SourceConfig config_;
  std::shared_ptr<HttpClient> http_;
};

// Turns one HTTP response of the Prometheus API into a result or a typed error (exposed for
// tests). `status` is the HTTP status code.
Result<QueryResult> ParsePrometheusResponse(long status, std::string_view body);

// Prometheus sample value text: decimal, "NaN", "+Inf", "-Inf".
std::optional<double> ParseSampleValue(std::string_view text);

}  // namespace tocsin::source
