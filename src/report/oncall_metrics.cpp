#include "tocsin/report/oncall_metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "tocsin/report/records.h"

namespace tocsin::report {
namespace {

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& r, const std::string& name,
                                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

OncallMetrics::OncallMetrics(prometheus::Registry& r)
    : window_(Gauge(r, "tocsin_oncall_window_seconds",
                    "Length of the recent window the tocsin_oncall_* figures cover")),
      refreshed_(Gauge(r, "tocsin_oncall_refreshed_timestamp_seconds",
                       "When the tocsin_oncall_* figures were last computed (unix seconds)")),
      incidents_(Gauge(r, "tocsin_oncall_incidents", "Incidents opened in the window")),
      pages_(Gauge(r, "tocsin_oncall_pages", "People paged by the ladder in the window")),
      pages_undelivered_(Gauge(r, "tocsin_oncall_pages_undelivered",
                               "Pages in the window that reached their person by no channel")),
      pages_per_l1_shift_(Gauge(r, "tocsin_oncall_pages_per_l1_shift",
                                "Pages in the window divided by the L1 shifts in it")),
      mtta_(Gauge(r, "tocsin_oncall_mtta_seconds",
                  "Opened to acknowledged, nearest-rank quantile, by domain and SEV")),
      mttr_(Gauge(r, "tocsin_oncall_mttr_seconds",
                  "Opened to resolved, nearest-rank quantile, by domain and SEV")),
      wakeups_(
          Gauge(r, "tocsin_oncall_night_wakeups",
                "Pages that reached the person between 22:00 and 07:00 their time, in the window")),
      nights_over_goal_(Gauge(r, "tocsin_oncall_nights_over_goal",
                              "Nights with more than 2 wake-ups for the person (goal broken)")),
      noisy_ratio_(Gauge(r, "tocsin_oncall_noisy_ratio",
                         "Share of incidents resolved without any human action")),
      rule_noisy_(Gauge(r, "tocsin_oncall_rule_noisy_incidents",
                        "Noisy incidents of the five noisiest rules")),
      reached_l2_(Gauge(r, "tocsin_oncall_reached_l2_ratio", "Share of incidents that paged L2")),
      reached_dm_(Gauge(r, "tocsin_oncall_reached_duty_manager_ratio",
                        "Share of incidents that paged the Duty Manager")),
      sev12_external_(Gauge(r, "tocsin_oncall_sev12_external_ratio",
                            "Share of SEV-1/2 incidents with a `provider` label")),
      sev12_by_provider_(Gauge(r, "tocsin_oncall_sev12_incidents_by_provider",
                               "SEV-1/2 incidents naming the provider")),
      person_pages_(Gauge(r, "tocsin_oncall_person_pages", "Pages per person in the window")),
      person_pages_undelivered_(
          Gauge(r, "tocsin_oncall_person_pages_undelivered",
                "Pages per person in the window that reached them by no channel")),
      load_max_over_mean_(Gauge(r, "tocsin_oncall_load_max_over_mean",
                                "Most pages of one person over the mean (1 is even)")) {}

void OncallMetrics::Set(GaugeFamily& family, const std::map<std::string, std::string>& labels,
                        double v) {
  auto& g = family.Add(labels);
  g.Set(v);
  series_.emplace_back(&family, &g);
}

void OncallMetrics::Publish(const OncallReport& r, TimePoint computed_at) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto [family, gauge] : series_) family->Remove(gauge);
  series_.clear();
  auto ratio = [&](GaugeFamily& f, int part, int whole) {
    if (whole > 0) Set(f, {}, static_cast<double>(part) / whole);
  };
  Set(window_, {}, Seconds(r.options.to - r.options.from));
  Set(refreshed_, {}, Seconds(computed_at.time_since_epoch()));
  Set(incidents_, {}, r.incidents);
  Set(pages_, {}, r.pages);
  Set(pages_undelivered_, {}, r.pages_undelivered);
  if (r.pages_per_l1_shift) Set(pages_per_l1_shift_, {}, *r.pages_per_l1_shift);
  for (const auto& row : r.response) {
    for (auto [family, p] : {std::pair{&mtta_, &row.mtta}, std::pair{&mttr_, &row.mttr}}) {
      if (p->p50)
        Set(*family, {{"domain", row.domain}, {"sev", row.sev}, {"quantile", "0.5"}},
            Seconds(*p->p50));
      if (p->p90)
        Set(*family, {{"domain", row.domain}, {"sev", row.sev}, {"quantile", "0.9"}},
            Seconds(*p->p90));
    }
  }
  for (const auto& n : r.nights) {
    Set(wakeups_, {{"person", n.person}}, n.wakeups);
    Set(nights_over_goal_, {{"person", n.person}}, n.nights_over_goal);
  }
  ratio(noisy_ratio_, r.noisy, r.incidents);
  for (const auto& n : r.noisiest) Set(rule_noisy_, {{"rule", n.rule}}, n.noisy);
  ratio(reached_l2_, r.reached_l2, r.incidents);
  ratio(reached_dm_, r.reached_duty_manager, r.incidents);
  ratio(sev12_external_, r.sev12_external, r.sev12);
  for (const auto& p : r.sev12_by_provider) {
    Set(sev12_by_provider_, {{"provider", p.provider}}, p.incidents);
  }
  for (const auto& l : r.load) {
    Set(person_pages_, {{"person", l.person}}, l.pages);
    Set(person_pages_undelivered_, {{"person", l.person}}, l.undelivered);
  }
  if (r.load_max_over_mean) Set(load_max_over_mean_, {}, *r.load_max_over_mean);
}

OncallMetricsRefresher::OncallMetricsRefresher(Scheduler& scheduler, Executor& executor,
                                               incident::IncidentStore& store,
                                               ScheduleSource schedule, OncallMetrics& metrics,
                                               Options options)
    : scheduler_(scheduler),
      executor_(executor),
      store_(store),
      schedule_(std::move(schedule)),
      metrics_(metrics),
      options_(std::move(options)) {}

OncallMetricsRefresher::~OncallMetricsRefresher() {
  *alive_ = false;
  Stop();
}

void OncallMetricsRefresher::Start() { Arm(options_.first_after); }

void OncallMetricsRefresher::Stop() {
  if (timer_ != 0) scheduler_.Cancel(timer_);
  timer_ = 0;
}

void OncallMetricsRefresher::Arm(Duration after) {
  timer_ = scheduler_.ScheduleAfter(after, [this] {
    timer_ = 0;
    Refresh();
    Arm(options_.interval);
  });
}

void OncallMetricsRefresher::Refresh() {
  if (running_) return;
  running_ = true;
  const TimePoint now = scheduler_.clock().Now();
  OncallOptions options;
  options.from = now - options_.window;
  options.to = now;
  options.time_zone = options_.time_zone;
  // The work holds no `this`: the refresher may go while it runs; the store, the metrics and
  // the scheduler outlive it (the daemon joins the executor before it destroys them).
  executor_.Submit([store = &store_, metrics = &metrics_, sched = &scheduler_, alive = alive_,
                    running = &running_, schedule = schedule_(), options, now] {
    auto records = LoadIncidentRecords(*store, options.from, options.to);
    if (records) {
      metrics->Publish(BuildOncallReport(*records, schedule.get(), options), now);
    } else {
      spdlog::warn("on-call metrics: cannot read incidents: {}", records.error().message());
    }
    sched->Post([alive, running] {
      if (*alive) *running = false;
    });
  });
}

}  // namespace tocsin::report
