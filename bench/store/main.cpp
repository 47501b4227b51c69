// bench_store: what the incident store sustains, and what it costs the event loop, with the
// store thread (group commit, the daemon's path) and without it (every commit on the loop, as
// before). Real parts: SQLite in WAL mode with synchronous=FULL on a file, the IncidentManager,
// the Asio event loop; the Pager accepts every page without writing it (the outbox's own writes
// are not measured here).
//
// Figures, one per line ("name{labels} value"):
//   storm_incidents_per_sec      a storm of distinct alert groups, each opening an incident
//                                (its step 0 falls due at once and is committed too), counted
//                                when the open is durable
//   store_transitions_per_sec    acknowledgements and notes from many clients at once
//                                (`--clients` in flight), counted when durable
//   loop_delay_p50_ms/p99_ms     how late a 1 ms loop timer runs: what a small alert POST or a
//                                Slack ack waits for before the loop reads it; load="idle"
//                                measured alone, load="transitions" while the transitions run
//   store_group_commit_largest   the most writes one COMMIT carried
//
//   bench_store [--incidents 10000] [--transitions 20000] [--clients 512]
//               [--inline-incidents 1000] [--inline-transitions 1000] [--json]
// --json adds one line "BENCH_JSON {...}" with the same figures, for bench/run.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include "tocsin/common/asio_scheduler.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/store_thread.h"

namespace {

using namespace tocsin;
using Steady = std::chrono::steady_clock;

// Accepts every page; nothing is written (the outbox is not what this measures).
class AcceptingPager final : public incident::Pager {
 public:
  void Send(const incident::PageRequest&, SendDone done) override { done(incident::PageReceipt{}); }
};

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

dispatch::AlertGroup StormGroup(int i, TimePoint now) {
  dispatch::AlertGroup g;
  g.key = fmt::format("storm/{}", i);
  g.receiver.name = "oncall";
  g.receiver.escalation_policy = "default";
  Alert a;
  a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"shard", std::to_string(i)}};
  a.severity = Severity::kCritical;
  a.starts_at = now;
  g.alerts.push_back(a);
  g.group_labels = a.labels;
  return g;
}

// Records how late a 1 ms timer fires while `recording` is on.
class LoopProbe {
 public:
  explicit LoopProbe(Scheduler& scheduler) : scheduler_(scheduler) {}
  void Start() { Arm(); }
  void Stop() {
    stopped_ = true;
    if (timer_ != 0) scheduler_.Cancel(timer_);
  }
  void Record(std::vector<double>* into) { into_ = into; }

 private:
  void Arm() {
    if (stopped_) return;
    due_ = Steady::now() + std::chrono::milliseconds(1);
    timer_ = scheduler_.ScheduleAfter(std::chrono::milliseconds(1), [this] {
      timer_ = 0;
      if (into_ != nullptr) {
        into_->push_back(std::max(0.0, Seconds(Steady::now() - due_) * 1000.0));
      }
      Arm();
    });
  }
  Scheduler& scheduler_;
  TimerId timer_ = 0;
  Steady::time_point due_{};
  bool stopped_ = false;
  std::vector<double>* into_ = nullptr;
};

struct Figures {
  double storm_per_sec = 0;
  double transitions_per_sec = 0;
  std::vector<double> idle_delays_ms;
  std::vector<double> busy_delays_ms;
  std::uint64_t largest_group = 0;
};

// One run: a fresh database, a storm of `incidents`, then `transitions` acks and notes with
// `clients` in flight, the probe recording an idle second before and the whole transition
// phase.
Figures RunOnce(bool store_thread, int incidents, int transitions, int clients) {
  Figures f;
  char dir_template[] = "/tmp/bench_store_XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string path = dir + "/tocsin.db";
  store::DatabaseOptions options;
  options.synchronous_full = true;  // the daemon's default
  auto db = store::Database::Open(path, options);
  if (!db) throw std::runtime_error(db.error().message());
  boost::asio::io_context io;
  SystemClock clock;
  AsioScheduler scheduler(io, clock);
  std::unique_ptr<store::StoreThread> writer;
  if (store_thread) {
    auto w = store::StoreThread::Open(
        path, options, [&scheduler](std::function<void()> cb) { scheduler.Post(std::move(cb)); });
    if (!w) throw std::runtime_error(w.error().message());
    writer = std::move(*w);
  }
  auto store = std::make_unique<store::SqliteIncidentStore>(**db, writer.get());
  if (auto m = store->Migrate(); !m) throw std::runtime_error(m.error().message());
  AcceptingPager pager;
  incident::PolicySet policies;
  policies.policies["default"] = incident::DefaultPolicy();
  auto manager = std::make_unique<incident::IncidentManager>(scheduler, *store, pager, nullptr,
                                                             policies, incident::IncidentsConfig{});
  if (auto s = manager->Start(); !s) throw std::runtime_error(s.error().message());
  LoopProbe probe(scheduler);

  int opened = 0;
  int failures = 0;
  Steady::time_point storm_start;
  Steady::time_point idle_start;
  int next_transition = 0;
  int done_transitions = 0;
  Steady::time_point transitions_start;
  std::function<void()> submit_transition;
  auto finish_transitions = [&] {
    f.transitions_per_sec =
        done_transitions / std::max(1e-9, Seconds(Steady::now() - transitions_start));
    probe.Record(nullptr);
    probe.Stop();
    // The incidents' own timers (reminders, later steps) would keep the loop running.
    manager->Stop();
    io.stop();
  };
  submit_transition = [&] {
    if (next_transition >= transitions) return;
    const int i = next_transition++;
    const std::string id = fmt::format("INC-{}", 1 + i % incidents);
    auto done = [&](Result<incident::Incident> r) {
      if (!r) ++failures;
      if (++done_transitions == transitions) return finish_transitions();
      submit_transition();
    };
    // Each transition arrives as a request of its own: one loop event each, as HTTP requests
    // and Slack clicks do, so that the loop runs other work (the probe) between them.
    scheduler.Post([&, i, id, done] {
      const TimePoint now = clock.Now();
      // Every incident is acknowledged once; the rest are notes (status updates from people).
      if (i < incidents) {
        manager->AcknowledgeAsync(id, "bench", now, "api", std::nullopt, done);
      } else {
        manager->AddNoteAsync(id, "bench", fmt::format("status update {}", i), now, "api",
                              std::nullopt, done);
      }
    });
  };
  auto start_transitions = [&] {
    probe.Record(&f.busy_delays_ms);
    transitions_start = Steady::now();
    for (int c = 0; c < clients && next_transition < transitions; ++c) submit_transition();
  };
  auto idle_then_transitions = [&] {
    // One quiet second first: the loop's delay with nothing to write.
    probe.Record(&f.idle_delays_ms);
    scheduler.ScheduleAfter(std::chrono::seconds(1), start_transitions);
  };
  // The storm: every group flushed in chunks, as the dispatcher flushes what fell due.
  std::function<void(int)> flush_from = [&](int first) {
    const TimePoint now = clock.Now();
    for (int i = first; i < std::min(incidents, first + 500); ++i) {
      manager->OpenAsync(StormGroup(i, now), "tocsin", now, [&](Result<incident::Incident> r) {
        if (!r) ++failures;
        if (++opened == incidents) {
          f.storm_per_sec = incidents / std::max(1e-9, Seconds(Steady::now() - storm_start));
          idle_then_transitions();
        }
      });
    }
    if (first + 500 < incidents) scheduler.Post([&, first] { flush_from(first + 500); });
  };
  scheduler.Post([&] {
    probe.Start();
    storm_start = Steady::now();
    flush_from(0);
  });
  io.run();
  if (failures > 0) throw std::runtime_error(fmt::format("{} writes failed", failures));
  if (writer) {
    f.largest_group = writer->largest_group();
    writer->Stop();
  }
  manager.reset();
  store.reset();
  writer.reset();
  db->reset();
  std::filesystem::remove_all(dir);
  return f;
}

void Print(const char* store, const Figures& f) {
  fmt::print("storm_incidents_per_sec{{store=\"{}\"}} {:.0f}\n", store, f.storm_per_sec);
  fmt::print("store_transitions_per_sec{{store=\"{}\"}} {:.0f}\n", store, f.transitions_per_sec);
  for (const auto& [load, v] :
       {std::pair{"idle", &f.idle_delays_ms}, std::pair{"transitions", &f.busy_delays_ms}}) {
    fmt::print("loop_delay_p50_ms{{store=\"{}\",load=\"{}\"}} {:.3f}\n", store, load,
               Percentile(*v, 0.50));
    fmt::print("loop_delay_p99_ms{{store=\"{}\",load=\"{}\"}} {:.3f}\n", store, load,
               Percentile(*v, 0.99));
  }
}

std::string Json(const Figures& f) {
  return fmt::format(
      R"({{"incidents_per_s":{:.0f},"transitions_per_s":{:.0f},"loop_p50_idle_ms":{:.3f},)"
      R"("loop_p99_idle_ms":{:.3f},"loop_p50_busy_ms":{:.3f},"loop_p99_busy_ms":{:.3f},)"
      R"("largest_group":{}}})",
      f.storm_per_sec, f.transitions_per_sec, Percentile(f.idle_delays_ms, 0.50),
      Percentile(f.idle_delays_ms, 0.99), Percentile(f.busy_delays_ms, 0.50),
      Percentile(f.busy_delays_ms, 0.99), f.largest_group);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_store: incident store throughput and event-loop delay"};
  int incidents = 10000, transitions = 20000, clients = 512;
  int inline_incidents = 1000, inline_transitions = 1000;
  app.add_option("--incidents", incidents, "Incidents the storm opens (store thread)")
      ->default_val(incidents);
  app.add_option("--transitions", transitions, "Acks and notes (store thread)")
      ->default_val(transitions);
  app.add_option("--clients", clients, "Transitions in flight at once")->default_val(clients);
  app.add_option("--inline-incidents", inline_incidents, "Storm size without the store thread")
      ->default_val(inline_incidents);
  app.add_option("--inline-transitions", inline_transitions,
                 "Acks and notes without the store thread")
      ->default_val(inline_transitions);
  bool json = false;
  app.add_flag("--json", json, "Also print the figures as one BENCH_JSON line");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    Figures threaded = RunOnce(true, incidents, transitions, clients);
    Print("thread", threaded);
    fmt::print("store_group_commit_largest{{store=\"thread\"}} {}\n", threaded.largest_group);
    Figures inline_ = RunOnce(false, inline_incidents, inline_transitions, clients);
    Print("inline", inline_);
    fmt::print("store_transitions_ratio{{thread_over_inline}} {:.1f}\n",
               threaded.transitions_per_sec / std::max(1e-9, inline_.transitions_per_sec));
    fmt::print("storm_incidents_ratio{{thread_over_inline}} {:.1f}\n",
               threaded.storm_per_sec / std::max(1e-9, inline_.storm_per_sec));
    if (json) {
      fmt::print("BENCH_JSON {{\"bench\":\"store\",\"thread\":{},\"inline\":{}}}\n", Json(threaded),
                 Json(inline_));
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_store: {}\n", e.what());
    return 1;
  }
  return 0;
}
