#include "sli_simulator.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tocsin::fakes {

namespace {

const std::vector<std::string> kPsps = {"PSP-A", "PSP-B"};
const std::vector<std::string> kMarkets = {"DE", "UK"};
const std::vector<std::string> kRegions = {"eu", "apac"};
const std::vector<std::string> kProviders = {"spinco", "livetables"};

// Small deterministic spread around a value, so histograms are not a single spike.
double Spread(double v, unsigned long i) {
  static const double kFactors[] = {0.9, 0.95, 1.0, 1.05, 1.1};
  return v * kFactors[i % 5];
}

}  // namespace

const std::vector<std::string>& SliSimulator::FaultNames() {
  static const std::vector<std::string> names = {
      "login_error_ratio",   "deposit_error_ratio",     "psp_timeout_ratio",
      "ws_rtt_ms",           "game_launch_error_ratio", "ttfs_ms",
      "provider_latency_ms", "db_saturation",           "queue_lag_s"};
  return names;
}

SliSimulator::SliSimulator(prometheus::Registry& r)
    : login_(prometheus::BuildCounter()
                 .Name("casino_login_requests_total")
                 .Help("Login attempts by outcome.")
                 .Register(r)),
      deposit_(prometheus::BuildCounter()
                   .Name("casino_deposit_requests_total")
                   .Help("Deposits (/payment/deposit) by PSP, market and outcome.")
                   .Register(r)),
      psp_(prometheus::BuildCounter()
               .Name("casino_psp_requests_total")
               .Help("Calls to PSP APIs by outcome (ok, timeout).")
               .Register(r)),
      launch_(prometheus::BuildCounter()
                  .Name("casino_game_launch_requests_total")
                  .Help("Game launches by provider and outcome.")
                  .Register(r)),
      ws_rtt_(prometheus::BuildHistogram()
                  .Name("casino_ws_rtt_seconds")
                  .Help("WebSocket round-trip time of bet placement.")
                  .Register(r)),
      ttfs_(prometheus::BuildHistogram()
                .Name("casino_ttfs_seconds")
                .Help("Time to first spin.")
                .Register(r)),
      provider_latency_(prometheus::BuildHistogram()
                            .Name("casino_provider_launch_latency_seconds")
                            .Help("Latency of the game provider's launch API.")
                            .Register(r)),
      db_in_use_(prometheus::BuildGauge()
                     .Name("casino_db_connections_in_use")
                     .Help("Wallet DB connections in use.")
                     .Register(r)),
      db_max_(prometheus::BuildGauge()
                  .Name("casino_db_connections_max")
                  .Help("Wallet DB pool size.")
                  .Register(r)),
      queue_lag_(prometheus::BuildGauge()
                     .Name("casino_queue_lag_seconds")
                     .Help("Age of the oldest message in the queue.")
                     .Register(r)) {
  // Create every series at once, so rates start from zero rather than from the first error.
  Tick();
}

double SliSimulator::Fault(const std::string& name, const std::string& scope,
                           double fallback) const {
  if (auto it = faults_.find(name + "|" + scope); it != faults_.end()) return it->second;
  if (auto it = faults_.find(name + "|"); it != faults_.end()) return it->second;
  return fallback;
}

void SliSimulator::Count(prometheus::Counter& ok, prometheus::Counter& bad, int n, double ratio,
                         double& carry) {
  carry += n * ratio;
  double errors = std::floor(carry);
  carry -= errors;
  bad.Increment(errors);
  ok.Increment(n - errors);
}

void SliSimulator::Tick() {
  ++tick_;
  Count(login_.Add({{"outcome", "success"}}), login_.Add({{"outcome", "error"}}), 20,
        Fault("login_error_ratio", "", 0.0002), carry_["login"]);
  for (const auto& psp : kPsps) {
    for (const auto& market : kMarkets) {
      double ratio = Fault("deposit_error_ratio", psp + "/" + market,
                           Fault("deposit_error_ratio", psp, 0.0005));
      Count(deposit_.Add({{"psp", psp}, {"market", market}, {"outcome", "success"}}),
            deposit_.Add({{"psp", psp}, {"market", market}, {"outcome", "error"}}), 10, ratio,
            carry_["deposit/" + psp + "/" + market]);
    }
    Count(psp_.Add({{"psp", psp}, {"outcome", "ok"}}),
          psp_.Add({{"psp", psp}, {"outcome", "timeout"}}), 10,
          Fault("psp_timeout_ratio", psp, 0.001), carry_["psp/" + psp]);
  }
  const prometheus::Histogram::BucketBoundaries ws_buckets = {0.025, 0.05, 0.08, 0.1, 0.12,
                                                              0.15,  0.2,  0.3,  0.5, 1};
  for (const auto& region : kRegions) {
    auto& h = ws_rtt_.Add({{"region", region}}, ws_buckets);
    double ms = Fault("ws_rtt_ms", region, 60);
    for (unsigned long i = 0; i < 20; ++i) h.Observe(Spread(ms / 1000.0, tick_ + i));
  }
  const prometheus::Histogram::BucketBoundaries s_buckets = {0.1, 0.2, 0.4, 0.6, 0.8, 1,
                                                             1.2, 1.5, 2,   3,   5};
  for (const auto& provider : kProviders) {
    Count(launch_.Add({{"provider", provider}, {"outcome", "success"}}),
          launch_.Add({{"provider", provider}, {"outcome", "error"}}), 10,
          Fault("game_launch_error_ratio", provider, 0.0005), carry_["launch/" + provider]);
    auto& ttfs = ttfs_.Add({{"provider", provider}}, s_buckets);
    auto& lat = provider_latency_.Add({{"provider", provider}}, s_buckets);
    double ttfs_ms = Fault("ttfs_ms", provider, 450);
    double lat_ms = Fault("provider_latency_ms", provider, 300);
    for (unsigned long i = 0; i < 10; ++i) {
      ttfs.Observe(Spread(ttfs_ms / 1000.0, tick_ + i));
      lat.Observe(Spread(lat_ms / 1000.0, tick_ + i));
    }
  }
  db_max_.Add({{"pool", "wallet-primary"}}).Set(200);
  db_in_use_.Add({{"pool", "wallet-primary"}}).Set(200 * Fault("db_saturation", "", 0.35));
  queue_lag_.Add({{"queue", "withdrawals"}}).Set(Fault("queue_lag_s", "", 2));
}

std::string SliSimulator::SetFault(const std::string& name, double value,
                                   const std::string& scope) {
  const auto& names = FaultNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return "unknown fault \"" + name + "\"";
  }
  if (!std::isfinite(value) || value < 0) return "fault value must be a number >= 0";
  if (name.find("ratio") != std::string::npos && value > 1) return "a ratio is between 0 and 1";
  faults_[name + "|" + scope] = value;
  return "";
}

void SliSimulator::Reset() { faults_.clear(); }

std::string SliSimulator::Describe() const {
  std::string out;
  for (const auto& [k, v] : faults_) {
    auto bar = k.find('|');
    std::string scope = k.substr(bar + 1);
    out += fmt::format("{}{}={}\n", k.substr(0, bar), scope.empty() ? "" : "[" + scope + "]", v);
  }
  return out.empty() ? "no faults\n" : out;
}

}  // namespace tocsin::fakes
