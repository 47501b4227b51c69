// bench_eval: how much one evaluation tick costs with 10,000 SLOs (two windows each) over
// shared SLIs, against a fake Prometheus that answers every query with a large vector.
// The point (the evaluation performance budget): one query per distinct (expression, window),
// not per SLO, and evaluation CPU well inside the 30 s interval.
//
//   bench_eval [--slos 10000] [--slis 50] [--series 100] [--ticks 3] [--burning-percent 1]
//              [--json]
#include <time.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench_support.h"
#include "fake_sli_source.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/source/prometheus_client.h"

namespace {

using namespace tocsin;

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

class CountingSink final : public AlertSink {
 public:
  void OnAlerts(const std::vector<Alert>& alerts, TimePoint) override { count += alerts.size(); }
  std::size_t count = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_eval: rules evaluation cost at scale"};
  int slos = 10000, slis = 50, series = 100, ticks = 3, burning_percent = 1;
  app.add_option("--slos", slos, "SLOs")->default_val(slos);
  app.add_option("--slis", slis, "Distinct SLI expressions the SLOs share")->default_val(slis);
  app.add_option("--series", series, "Series per query result (psp x market ...)")
      ->default_val(series);
  app.add_option("--ticks", ticks, "Evaluation ticks to measure")->default_val(ticks);
  app.add_option("--burning-percent", burning_percent, "Series that burn (and fire), percent")
      ->default_val(burning_percent)
      ->check(CLI::Range(0, 100));
  bool json_out = false;
  app.add_flag("--json", json_out, "Also print the figures as one BENCH_JSON line (bench/run)");
  CLI11_PARSE(app, argc, argv);

  auto set = std::make_shared<rules::RuleSet>();
  set->evaluation.budget_interval = std::chrono::hours(1);  // steady-state ticks: two windows
  rules::RuleGroup group;
  group.name = "bench";
  group.interval = std::chrono::seconds(30);
  group.source = "prometheus";
  for (int i = 0; i < slos; ++i) {
    rules::SloRule s;
    s.name = fmt::format("slo_{}", i);
    s.alert.service = fmt::format("service_{}", i % slis);
    s.alert.domain = "payments";
    s.alert.summary = *rules::Template::Parse("{{ $value | percent }} at {{ $labels.psp }}");
    s.objective = 99.0 + (i % 10) * 0.09;
    s.error_query = fmt::format("sum by (psp, market) (rate(errors_{}[{{{{window}}}}]))", i % slis);
    s.total_query = fmt::format("sum by (psp, market) (rate(total_{}[{{{{window}}}}]))", i % slis);
    s.by = {"psp", "market"};
    s.tiers = {{"page_fast", true, 14.4, std::chrono::hours(1), std::chrono::minutes(5),
                Severity::kCritical}};
    group.slos.push_back(std::move(s));
  }
  set->groups.push_back(std::move(group));

  // The fake Prometheus: every ratio query answers `series` series; some of them burn.
  auto prom = std::make_shared<testing::FakeSliSource>("prometheus");
  source::QueryResult big;
  for (int i = 0; i < series; ++i) {
    big.vector.push_back(
        {Labels{{"psp", fmt::format("PSP-{}", i / 20)}, {"market", fmt::format("M{}", i % 20)}},
         {},
         i % 100 < burning_percent ? 0.5 : 0.0001});
  }
  for (const auto& slo : set->groups[0].slos) {
    for (auto w :
         {std::chrono::minutes(60), std::chrono::minutes(5), std::chrono::minutes(43200)}) {
      prom->Set(slo.ErrorRatioQuery(w), [big](TimePoint) { return big; });
    }
  }

  SimulatedScheduler scheduler(FromUnixMillis(0));
  InlineExecutor executor;
  CountingSink sink;
  rules::Evaluator evaluator(scheduler, executor, sink);
  evaluator.SetSources({{"prometheus", prom}});
  evaluator.SetRules(set);
  evaluator.Start();
  scheduler.RunPending();  // first tick: also the 30-day budget windows

  double eval_cpu = 0, total_cpu = 0;
  std::size_t queries = 0;
  for (int t = 0; t < ticks; ++t) {
    double start = CpuSeconds();
    scheduler.AdvanceBy(std::chrono::seconds(30));
    total_cpu += CpuSeconds() - start;
    eval_cpu += evaluator.stats().last_eval_seconds;
    queries += evaluator.stats().queries_last_tick;
  }
  // What parsing one of those responses costs (done on the worker pool, off the loop).
  nlohmann::json doc = {{"status", "success"}};
  doc["data"]["resultType"] = "vector";
  doc["data"]["result"] = nlohmann::json::array();
  for (const auto& s : big.vector) {
    nlohmann::json m;
    for (const auto& l : s.metric) m[l.name] = l.value;
    doc["data"]["result"].push_back({{"metric", m}, {"value", {1700000000.0, "0.0001"}}});
  }
  std::string body = doc.dump();
  double parse_start = CpuSeconds();
  for (int i = 0; i < 100; ++i) (void)source::ParsePrometheusResponse(200, body);
  double parse_each = (CpuSeconds() - parse_start) / 100;

  std::size_t per_tick = queries / static_cast<std::size_t>(ticks);
  fmt::print("SLOs: {}  windows per SLO: 2  distinct SLIs: {}  series per result: {}\n", slos, slis,
             series);
  fmt::print(
      "queries per tick: {} (one per distinct expression and window; one per SLO and "
      "window would be {})\n",
      per_tick, 2 * slos);
  fmt::print("evaluation CPU per tick (event loop): {:.3f} s\n", eval_cpu / ticks);
  fmt::print("tick CPU incl. fake Prometheus answers: {:.3f} s\n", total_cpu / ticks);
  fmt::print(
      "parsing one {}-series response ({} KB): {:.2f} ms -> {:.1f} ms per tick on the "
      "worker pool\n",
      series, body.size() / 1024, parse_each * 1000, parse_each * 1000 * per_tick);
  fmt::print("series evaluated per tick: {}  alerts handed to the sink: {}\n",
             static_cast<std::size_t>(slos) * static_cast<std::size_t>(series), sink.count);
  if (json_out) {
    nlohmann::json figures = {{"bench", "eval"},
                              {"slos", slos},
                              {"queries_per_tick", per_tick},
                              {"distinct_queries", 2 * slis},
                              {"eval_cpu_s", eval_cpu / ticks},
                              {"tick_cpu_s", total_cpu / ticks},
                              {"interval_s", 30}};
    tocsin::bench::PrintJson(figures);
  }
  return per_tick == static_cast<std::size_t>(2 * slis) ? 0 : 1;
}
