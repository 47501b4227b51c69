// The composition root's high-availability part (issue 14): the lease coordinator on
// PostgreSQL, and what becoming active or losing the lease starts and stops.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app_impl.h"
#include "change_relay.h"
#include "group_router.h"
#include "notify/outbox.h"
#include "standby_silence_store.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/ha/change_queue.h"
#include "tocsin/ha/ha_coordinator.h"
#include "tocsin/ha/ha_status.h"
#include "tocsin/ha/pg_lease_store.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/report/postmortem_reminder.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_override_store.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_config.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::app {

namespace {

// The libpq connection string of the store when it is PostgreSQL (the lease lives in the same
// database, on a connection of its own).
std::optional<std::string> LeaseConnection(const store::StoreConfig& sc) {
  if (sc.url.dialect != store::Dialect::kPostgres) return std::nullopt;
  return sc.url.ConnectionString();
}

}  // namespace

Result<void> App::Impl::StartHa() {
  auto& hc = config->ha;
  if (!options.instance.empty()) hc.instance = options.instance;
  if (hc.instance.empty()) hc.instance = ha::DefaultInstanceName();
  auto url = LeaseConnection(config->store);
  if (!url) {
    single_instance = std::make_unique<ha::SingleInstanceStatus>(hc.instance, hc.cluster_name);
    active = true;
    return {};
  }
  // Each call gives up after a third of the lease: a renewal stuck longer than that is as good
  // as lost, and the next one must be able to start.
  lease_store = ha::MakePgLeaseStore(*url, hc.lease / 3);
  if (auto m = lease_store->Migrate(); !m) {
    return Fail(Error::Io("cannot set up the high-availability lease: " + m.error().message()));
  }
  ha_pool = MakePool(1, "ha_pool");
  ha_coordinator =
      std::make_unique<ha::HaCoordinator>(scheduler, *ha_pool, *lease_store, hc, registry.get());
  ha_coordinator->SetRoleListener(
      [this](ha::Role role, std::int64_t epoch, const std::string& why) {
        OnRoleChange(role, epoch, why);
      });
  change_queue = ha::MakePgChangeQueue(*url, hc.lease / 3);
  change_pool = MakePool(1, "change_pool");
  active = false;  // fenced once the modules have run their migrations (App::Start)
  spdlog::info("ha: instance {} of cluster {} starts as a standby (lease {} s)", hc.instance,
               hc.cluster_name, std::chrono::duration_cast<std::chrono::seconds>(hc.lease).count());
  return {};
}

// A standby's writes carry an epoch no lease ever has, so the database itself refuses any of
// them (tocsin_check_epoch): the read-only flags on incidents, silences and overrides give the
// caller a clear answer, and whatever path they miss still writes nothing into the active's
// tables. Set once the modules' migrations have run (schema changes are every instance's, and
// idempotent), and again on stepping down. (The HTTP server is up a moment earlier, while the rules
// module migrates; the read-only flags already answer for those changes.)
void App::Impl::FenceAsStandby() {
  constexpr std::int64_t kNoLeaseEpoch = -1;  // epochs start at 1
  database->SetFence(kNoLeaseEpoch);
  if (store_thread) store_thread->SetFence(kNoLeaseEpoch);
}

void App::Impl::WireChangeRelay() {
  if (!change_queue || change_relay) return;
  ChangeRelayOptions o;
  o.instance = config->ha.instance;
  o.take_within = config->ha.forward_timeout;
  // A request the active took is answered within a commit; allow for a failover meanwhile.
  o.answer_within = config->ha.lease + config->ha.lease / 3;
  change_relay = std::make_unique<ChangeRelay>(scheduler, *change_pool, *change_queue, *incidents,
                                               o, registry.get());
  incidents->SetForwarder(
      [this](incident::ForwardedChange change, ChangeRelay::Done<incident::Incident> done) {
        change_relay->Forward(std::move(change), std::move(done));
      });
}

// A standby's silence list and on-call overrides follow the active's (GET /api/v2/silences and
// /api/v1/oncall/now on a standby, the panel): read again every kStandbyRead, and after every
// change of either it forwarded. The reads run on the on-call worker over its own connection.
void App::Impl::ScheduleStandbyReads() {
  constexpr Duration kStandbyRead = std::chrono::seconds(10);
  scheduler.ScheduleAfter(kStandbyRead, [this] {
    if (active || stopping || !silences || !silences->forwarding()) return;
    ReloadStandbySilences([this](Result<void> silences_read) {
      if (!silences_read) {
        spdlog::warn("ha: standby {} cannot read the active's silences: {}", config->ha.instance,
                     silences_read.error().message());
      }
      ReloadStandbyOverrides([this](Result<void> overrides_read) {
        if (!overrides_read) {
          spdlog::warn("ha: standby {} cannot read the active's on-call overrides: {}",
                       config->ha.instance, overrides_read.error().message());
        }
        ScheduleStandbyReads();
      });
    });
  });
}

// Runs `read` on the on-call worker over its own connection and hands what it read to `take` on
// the loop, unless the instance became the active meanwhile (which read it afresh); `done` on
// the loop. What `read` uses is declared before the pool, so it is still there while a read is
// in progress on shutdown (the pool is joined first).
template <typename T>
void App::Impl::StandbyRead(std::function<Result<T>()> read, std::function<void(T)> take,
                            std::function<void(Result<void>)> done) {
  oncall_pool->Submit(
      [this, read = std::move(read), take = std::move(take), done = std::move(done)]() mutable {
        auto all = read();
        scheduler.Post(
            [this, all = std::move(all), take = std::move(take), done = std::move(done)]() mutable {
              if (stopping) return;
              if (!all) return done(Fail(all.error()));
              if (!active) take(std::move(*all));
              done({});
            });
      });
}

void App::Impl::ReloadStandbySilences(std::function<void(Result<void>)> done) {
  StandbyRead<std::vector<dispatch::Silence>>([this] { return silence_reader->LoadAll(); },
                                              [this](std::vector<dispatch::Silence> all) {
                                                if (silences) silences->Replace(std::move(all));
                                              },
                                              std::move(done));
}

void App::Impl::ReloadStandbyOverrides(std::function<void(Result<void>)> done) {
  StandbyRead<std::vector<oncall::RecordedOverride>>(
      [this] { return override_reader->LoadAll(); },
      [this](std::vector<oncall::RecordedOverride> all) { TakeOverrides(std::move(all)); },
      std::move(done));
}

void App::Impl::TakeOverrides(std::vector<oncall::RecordedOverride> loaded) {
  if (loaded == recorded_overrides) return;
  added_overrides.clear();
  for (const auto& r : loaded) added_overrides.push_back(r.override);
  recorded_overrides = std::move(loaded);
  incidents->Reconfigure(ScheduleOf(*config, added_overrides), config->policies, config->incidents);
}

std::string App::Impl::StandbyRefusal() const {
  return fmt::format(
      "tocsin instance {} is a standby: only the active instance of the cluster changes "
      "incidents, silences and on-call overrides (GET /api/v1/ha names it); nothing was changed, "
      "try again there",
      config->ha.instance);
}

const ha::HaStatusSource& App::Impl::ha_status() const {
  if (ha_coordinator) return *ha_coordinator;
  return *single_instance;
}

// What only the active instance runs, started from the state the database holds now (the
// previous active's incidents, timers on their original deadlines, pending deliveries).
Result<void> App::Impl::StartActiveParts() {
  // The previous active's silences, written since this instance started; changes are this
  // instance's to apply from now on.
  silences->SetForwarder({});
  if (auto s = silences->Load(); !s) return s;
  silence_gate->SetReadOnly(std::nullopt);
  // The overrides the previous active added: the ladders page whoever they put on call.
  auto overrides = override_store->LoadAll();
  if (!overrides) return Fail(overrides.error());
  TakeOverrides(std::move(*overrides));
  incidents->SetReadOnly(std::nullopt);
  if (auto o = outbox->Open(); !o) return o;
  if (auto i = incidents->Start(); !i) return i;
  if (postmortem_reminder) postmortem_reminder->Start();
  if (evaluator) {
    if (auto restored = evaluator->RestoreState(); !restored) {
      spdlog::error("rules: cannot restore alert state, starting from zero: {}",
                    restored.error().message());
    }
    // The rules were installed while standby: installed again, they take the restored state
    // (else every rule starts from zero: a no-data alert resolves, a threshold counts again).
    ApplyRules();
    evaluator->Start();
  }
  return {};
}

void App::Impl::OnRoleChange(ha::Role role, std::int64_t epoch, const std::string& why) {
  const auto& instance = config->ha.instance;
  if (role == ha::Role::kActive) {
    if (stopping) return;
    // Every write from now on carries the epoch; once another instance takes the lease the
    // database refuses them, whatever this process still believes.
    database->SetFence(epoch);
    store_thread->SetFence(epoch);
    if (auto started = StartActiveParts(); !started) {
      spdlog::critical(
          "ha: instance {} got the lease but cannot start paging: {}; stopping so "
          "that another instance takes over",
          instance, started.error().message());
      exit_code = kExitSteppedDown;
      owner->Stop();
      return;
    }
    // Before the held flushes are replayed (and forgotten): the groups they cover are skipped.
    RecallOpenIncidents();
    active = true;
    group_router->SetActive(true, clock.Now());
    if (change_relay) change_relay->StartApplying(epoch);
    std::string previous;
    if (auto s = ha_coordinator->Status(); !s.peers.empty()) {
      for (const auto& p : s.peers) {
        if (p.name != instance && p.role == "active") previous = p.name;
      }
    }
    // tocsin's own alert about itself, as for a provider fail-over: people see who pages now.
    outbox->NoticeToSlack(
        "tocsin",
        fmt::format(":arrows_counterclockwise: tocsin role change: instance *{}* is now the "
                    "active instance of cluster {} (epoch {}){}. It evaluates the rules, walks "
                    "the escalation ladders and sends every page from now on.",
                    instance, config->ha.cluster_name, epoch,
                    previous.empty() ? "" : fmt::format(", taking over from {}", previous)));
    return;
  }
  active = false;
  FenceAsStandby();
  if (change_relay) change_relay->StopApplying();
  if (group_router) group_router->SetActive(false, clock.Now());
  if (incidents) incidents->SetReadOnly(StandbyRefusal());
  if (silence_gate) silence_gate->SetReadOnly(StandbyRefusal());
  if (stopping) return;
  // Nothing more is evaluated, escalated or sent by this process. Its in-memory state is the
  // old epoch's: it restarts to come back as a standby that reads the database afresh.
  if (evaluator) evaluator->Stop();
  if (postmortem_reminder) postmortem_reminder->Stop();
  if (incidents) incidents->Stop();
  if (outbox) outbox->Stop();
  spdlog::error(
      "ha: instance {} lost the lease ({}); stopping with exit code {} so that the "
      "service manager starts it again as a standby",
      instance, why, kExitSteppedDown);
  exit_code = kExitSteppedDown;
  owner->Stop();
}

}  // namespace tocsin::app
