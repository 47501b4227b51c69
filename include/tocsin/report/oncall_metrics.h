#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/incident/incident_store.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/report/oncall_report.h"

namespace prometheus {
class Registry;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace tocsin::report {

// The on-call report's figures over the recent window as gauges on /metrics (tocsin_oncall_*,
// docs/reports.md "On-call metrics"). Publish() replaces every series with the report's: a
// person or rule that left the report leaves /metrics too, and a ratio without a denominator
// (no incident, no SEV-1/2) has no series rather than a made-up 0.
// Thread-safety: Publish from any thread (one at a time, a mutex); collection is thread-safe.
class OncallMetrics {
 public:
  explicit OncallMetrics(prometheus::Registry& registry);
  void Publish(const OncallReport& report, TimePoint computed_at);

 private:
  using GaugeFamily = prometheus::Family<prometheus::Gauge>;
  void Set(GaugeFamily& family, const std::map<std::string, std::string>& labels, double v);

  std::mutex mu_;
  GaugeFamily& window_;
  GaugeFamily& refreshed_;
  GaugeFamily& incidents_;
  GaugeFamily& pages_;
  GaugeFamily& pages_undelivered_;
  GaugeFamily& pages_per_l1_shift_;
  GaugeFamily& mtta_;
  GaugeFamily& mttr_;
  GaugeFamily& wakeups_;
  GaugeFamily& nights_over_goal_;
  GaugeFamily& noisy_ratio_;
  GaugeFamily& rule_noisy_;
  GaugeFamily& reached_l2_;
  GaugeFamily& reached_dm_;
  GaugeFamily& sev12_external_;
  GaugeFamily& sev12_by_provider_;
  GaugeFamily& person_pages_;
  GaugeFamily& person_pages_undelivered_;
  GaugeFamily& load_max_over_mean_;
  std::vector<std::pair<GaugeFamily*, prometheus::Gauge*>> series_;  // of the last Publish
};

// Keeps OncallMetrics fresh: `first_after` Start() and then every `interval` on the Scheduler,
// reads the incidents opened in the last `window` from `store` and computes the report on
// `executor`, off the loop, then publishes it. `store` is used only from the executor, so the
// daemon gives it a read connection of its own. A refresh still running when the next falls due is
// not started twice. Thread-safety: Start, Stop and Refresh on the loop thread.
class OncallMetricsRefresher {
 public:
  struct Options {
    Duration window = std::chrono::hours(24 * 7);
    Duration interval = std::chrono::minutes(5);
    // The first refresh, after Start(): not at once, so that a week of incidents is not read
    // beside a restart's own loading (it was 8-12 % of a restart's samples).
    Duration first_after = std::chrono::seconds(15);
    std::string time_zone = "UTC";
  };
  using ScheduleSource = std::function<std::shared_ptr<const oncall::Schedule>()>;

  OncallMetricsRefresher(Scheduler& scheduler, Executor& executor, incident::IncidentStore& store,
                         ScheduleSource schedule, OncallMetrics& metrics, Options options);
  ~OncallMetricsRefresher();
  OncallMetricsRefresher(const OncallMetricsRefresher&) = delete;
  OncallMetricsRefresher& operator=(const OncallMetricsRefresher&) = delete;

  void Start();
  void Stop();
  void Refresh();

 private:
  void Arm(Duration after);

  Scheduler& scheduler_;
  Executor& executor_;
  incident::IncidentStore& store_;
  ScheduleSource schedule_;
  OncallMetrics& metrics_;
  Options options_;
  TimerId timer_ = 0;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tocsin::report
