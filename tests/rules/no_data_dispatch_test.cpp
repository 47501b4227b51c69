// One outage with a gap in its data is one page: the real rules engine feeding the real
// dispatcher on simulated time, counting the notifications its group sends (what opens,
// updates and resolves an incident).
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include "dispatch/dispatch_test_util.h"
#include "fake_sli_source.h"
#include "fakes/memory_silence_store.h"
#include "support/temp_dir.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_loader.h"

namespace tocsin::rules {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const char* kDispatch = R"(
route:
  receiver: oncall
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - {name: oncall, escalation_policy: default}
escalation_policies: {default: {}}
)";

const char* kSlo = R"(
groups:
  - name: payments
    interval: 30s
    slos:
      - name: deposit_success
        service: payments-api
        domain: payments
        objective: 99.85
        sli: {error: "err[{{window}}]", total: "all[{{window}}]"}
        absent_after: 10m
        runbook: deposit-psp.md
)";

class Notifications final : public dispatch::GroupSink {
 public:
  void OnGroupFlush(const dispatch::AlertGroup& g, TimePoint) override {
    if (g.alerts.empty() || g.alerts[0].Name() != "deposit_success") return;
    groups.push_back(g);
  }
  std::vector<dispatch::AlertGroup> groups;
};

TEST(NoDataDispatchTest, AGapDuringAnOutageSendsOnePageAndOneResolve) {
  SimulatedScheduler scheduler(FromUnixMillis(0));
  Notifications notifications;
  fakes::MemorySilenceStore store;
  dispatch::Silences silences(store);
  prometheus::Registry registry;
  dispatch::Dispatcher dispatcher(scheduler, notifications, silences, registry,
                                  dispatch::testutil::LoadOrDie(kDispatch));
  InlineExecutor executor;
  Evaluator evaluator(scheduler, executor, dispatcher);

  testing::TempDir dir;
  config::Diagnostics diags;
  RuleLoadOptions options;
  options.evaluation.default_source = "prometheus";
  auto set = LoadRuleFiles({dir.Write("rules.yaml", kSlo)}, options, diags);
  ASSERT_TRUE(set) << diags.ToString();
  auto rules = std::make_shared<const RuleSet>(std::move(*set));

  // Burning at 33x from t=0 until t=60m, with no data at all from t=10m to t=50m (each
  // window answers while it reaches outside the gap).
  auto source = std::make_shared<testing::FakeSliSource>();
  const TimePoint gap_from = FromUnixMillis(0) + minutes(10);
  const TimePoint gap_to = FromUnixMillis(0) + minutes(50);
  const TimePoint healthy_from = FromUnixMillis(0) + minutes(60);
  for (Duration w : {Duration(minutes(5)), Duration(minutes(30)), Duration(hours(1)),
                     Duration(hours(6)), Duration(hours(72)), Duration(hours(720))}) {
    source->Set(rules->groups[0].slos[0].ErrorRatioQuery(w), [=](TimePoint t) {
      source::QueryResult r;
      if (t - w >= gap_from && t < gap_to) return r;
      r.vector.push_back({Labels{}, t, t < healthy_from ? 0.05 : 0.0001});
      return r;
    });
  }
  evaluator.SetSources({{"prometheus", source}});
  evaluator.SetRules(rules);
  evaluator.Start();
  scheduler.AdvanceTo(FromUnixMillis(0) + hours(2));

  // One page when the outage starts (after group_wait), one resolve when it ends; nothing
  // while the data was missing.
  ASSERT_EQ(notifications.groups.size(), 2u);
  EXPECT_EQ(notifications.groups[0].flushed_at, FromUnixMillis(0) + std::chrono::seconds(30));
  EXPECT_FALSE(notifications.groups[0].AllResolved());
  EXPECT_EQ(notifications.groups[0].alerts.size(), 3u);  // the three tiers, one group
  EXPECT_TRUE(notifications.groups[1].AllResolved());
  EXPECT_GE(notifications.groups[1].flushed_at, healthy_from);
}

}  // namespace
}  // namespace tocsin::rules
