#pragma once

// The dispatcher on the simulated clock with a recording sink, the shipped kind of routing
// (critical pages an escalation policy, the rest goes to Slack), an inhibition and a weekly
// maintenance window: the fixture of dispatcher_test.cpp and dispatcher_dedup_test.cpp.

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <string>
#include <vector>

#include "dispatch/dispatch_test_util.h"
#include "fakes/memory_silence_store.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch::dispatcher_fixture {

using namespace std::chrono_literals;

inline TimePoint T0() { return *ParseTime("2026-11-17T00:00:00Z"); }

struct Flush {
  Duration at;
  AlertGroup group;
};

class RecordingSink : public GroupSink {
 public:
  explicit RecordingSink(TimePoint start) : start_(start) {}
  void OnGroupFlush(const AlertGroup& g, TimePoint now) override {
    flushes.push_back({now - start_, g});
  }
  std::vector<Flush> flushes;

 private:
  TimePoint start_;
};

inline const char* kConfig = R"(
route:
  receiver: slack
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
  - {name: oncall, escalation_policy: default}
inhibit_rules:
  - source_matchers: ['alertname="RegionDown"']
    target_matchers: ['severity="warning"']
    equal: [region]
maintenance_windows:
  - name: psp-a-weekly
    time_zone: Europe/Kyiv
    matchers: ['psp="A"']
    weekly: {days: [tuesday], start: "02:00", end: "03:00"}
escalation_policies: {default: {}}
)";

class DispatcherTest : public ::testing::Test {
 protected:
  explicit DispatcherTest(const char* yaml = kConfig)
      : scheduler_(T0()), sink_(T0()), silences_(store_) {
    config_ = testutil::LoadOrDie(yaml);
    dispatcher_ = std::make_unique<Dispatcher>(scheduler_, sink_, silences_, registry_, config_);
  }

  TimePoint Now() const { return scheduler_.clock().Now(); }
  // As Prometheus sends a firing alert: endsAt a few evaluation intervals ahead, re-sent.
  Alert Firing(Labels labels, Duration ttl = 24h) {
    Alert a;
    a.labels = std::move(labels);
    a.starts_at = Now();
    a.ends_at = Now() + ttl;
    return a;
  }
  Alert Resolved(Labels labels) {
    Alert a;
    a.labels = std::move(labels);
    a.starts_at = Now() - 1min;
    a.ends_at = Now();
    a.state = AlertState::kResolved;
    return a;
  }
  void Send(std::vector<Alert> alerts) { dispatcher_->OnAlerts(alerts, Now()); }
  // A silence of `matchers` from now for `length`, by alice, stored as the API stores one.
  Result<std::string> SilenceNow(const std::string& matchers, Duration length,
                                 const std::string& comment) {
    Silence s;
    s.matchers = *ParseMatchers(matchers);
    s.starts_at = Now();
    s.ends_at = Now() + length;
    s.created_by = "alice";
    s.comment = comment;
    return fakes::UpsertNow(silences_, s, Now());
  }
  void AdvanceTo(Duration since_start) { scheduler_.AdvanceTo(T0() + since_start); }
  std::string Metrics() {
    prometheus::TextSerializer s;
    return s.Serialize(registry_.Collect());
  }

  SimulatedScheduler scheduler_;
  RecordingSink sink_;
  fakes::MemorySilenceStore store_;
  Silences silences_;
  prometheus::Registry registry_;
  DispatchConfig config_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace tocsin::dispatch::dispatcher_fixture
