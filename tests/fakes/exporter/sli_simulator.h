#pragma once

#include <map>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tocsin::fakes {

// Simulated casino traffic: every Tick() records a fixed number of logins, deposits per PSP
// and market, WebSocket round trips per region, game launches and time-to-first-spin per
// provider, PSP calls, DB pool usage and queue lag, into prometheus-cpp metrics. Deterministic:
// error counts come from accumulated fractions, latencies cycle around a configured value, so
// a test knows what Prometheus will compute. Faults change those values (SetFault). Not
// thread-safe: one loop drives it.
class SliSimulator {
 public:
  explicit SliSimulator(prometheus::Registry& registry);

  void Tick();
  // name=value with an optional scope (psp, market, region, provider); see --help.
  // Returns an error message, or "" when applied.
  std::string SetFault(const std::string& name, double value, const std::string& scope);
  void Reset();
  std::string Describe() const;  // current faults, one "name[scope]=value" per line

  static const std::vector<std::string>& FaultNames();

 private:
  double Fault(const std::string& name, const std::string& scope, double fallback) const;
  void Count(prometheus::Counter& ok, prometheus::Counter& bad, int n, double ratio, double& carry);

  prometheus::Family<prometheus::Counter>& login_;
  prometheus::Family<prometheus::Counter>& deposit_;
  prometheus::Family<prometheus::Counter>& psp_;
  prometheus::Family<prometheus::Counter>& launch_;
  prometheus::Family<prometheus::Histogram>& ws_rtt_;
  prometheus::Family<prometheus::Histogram>& ttfs_;
  prometheus::Family<prometheus::Histogram>& provider_latency_;
  prometheus::Family<prometheus::Gauge>& db_in_use_;
  prometheus::Family<prometheus::Gauge>& db_max_;
  prometheus::Family<prometheus::Gauge>& queue_lag_;
  std::map<std::string, double> faults_;  // "name|scope" -> value
  std::map<std::string, double> carry_;   // fractional errors not yet counted
  unsigned long tick_ = 0;
};

}  // namespace tocsin::fakes
