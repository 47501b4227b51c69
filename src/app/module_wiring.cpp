// The composition root's domain modules: the one database, incidents on it, the dispatch
// pipeline that feeds them, and the rules engine that feeds the dispatcher.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "app_impl.h"
#include "change_relay.h"
#include "group_router.h"
#include "notify/notice_sink.h"
#include "notify/outbox.h"
#include "standby_silence_store.h"
#include "tocsin/api/alertmanager_api.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/dispatch/alert_intake.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/dispatch/silences.h"
#include "tocsin/incident/incident_manager.h"
#include "tocsin/oncall/schedule.h"
#include "tocsin/report/oncall_metrics.h"
#include "tocsin/report/postmortem_reminder.h"
#include "tocsin/rules/evaluator.h"
#include "tocsin/rules/rule_metrics.h"
#include "tocsin/source/prometheus_client.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_alert_state_store.h"
#include "tocsin/store/sqlite_delivery_log.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_override_store.h"
#include "tocsin/store/sqlite_silence_store.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::app {

std::shared_ptr<const oncall::Schedule> ScheduleOf(const RuntimeConfig& cfg,
                                                   const std::vector<oncall::Override>& added) {
  if (!cfg.roster) return nullptr;
  if (added.empty()) return std::make_shared<const oncall::Schedule>(*cfg.roster);
  oncall::Roster roster = *cfg.roster;
  roster.overrides.insert(roster.overrides.end(), added.begin(), added.end());
  return std::make_shared<const oncall::Schedule>(std::move(roster));
}

// The stores of the panel's API: overrides added from it (loaded now, so the first schedule
// already has them) and the delivery log over the outbox's table.
Result<void> App::Impl::OpenPanelStores() {
  if (auto m = database->Migrate(store::SqliteOverrideStore::Migrations()); !m) {
    return Fail(m.error());
  }
  override_store = std::make_unique<store::SqliteOverrideStore>(*database, store_thread.get());
  auto loaded = override_store->LoadAll();
  if (!loaded) return Fail(loaded.error());
  added_overrides.clear();
  for (const auto& r : *loaded) added_overrides.push_back(r.override);
  recorded_overrides = std::move(*loaded);
  delivery_log = std::make_unique<store::SqliteDeliveryLog>(*database);
  return {};
}

// The one database of the process, opened before any module that keeps state.
Result<void> App::Impl::OpenDatabase() {
  const auto& sc = config->store;
  auto db = store::Database::Open(sc.url, sc.options);
  if (!db) {
    return Fail(Error::Io(
        fmt::format("cannot open the database {}: {}", sc.url.ToString(), db.error().message())));
  }
  database = std::move(*db);
  auto writer = store::StoreThread::Open(
      sc.url, sc.options, [this](std::function<void()> cb) { scheduler.Post(std::move(cb)); });
  if (!writer) {
    return Fail(Error::Io(fmt::format("cannot open the database {}: {}", sc.url.ToString(),
                                      writer.error().message())));
  }
  store_thread = std::move(*writer);
  return {};
}

Result<void> App::Impl::StartIncidents() {
  incident_store = std::make_unique<store::SqliteIncidentStore>(*database, store_thread.get());
  if (auto m = incident_store->Migrate(); !m) return Fail(m.error());
  if (auto stores = OpenPanelStores(); !stores) return Fail(stores.error());
  incidents = std::make_unique<incident::IncidentManager>(
      scheduler, *incident_store, *outbox, ScheduleOf(*config, added_overrides), config->policies,
      config->incidents, registry.get());
  // The outbox and the incident store write through the one store thread: a page's outbox row
  // joins the group commit of the change that decided it.
  incidents->SetPagerSharesWriter(true);
  // Delivery results land in the incidents' timelines.
  outbox->SetObserver(incidents.get());
  // The call of last resort reaches whoever holds the role in the roster at that moment.
  outbox->SetOnCallLookup([this](const std::string& role, TimePoint now) {
    std::vector<oncall::Person> out;
    auto schedule = incidents->schedule();
    if (!schedule) return out;
    for (const auto& id : schedule->WhoHolds(role, now)) {
      if (const auto* p = schedule->roster().FindPerson(id)) out.push_back(*p);
    }
    return out;
  });
  if (!active) {
    // A standby: reads only; started on becoming active (ha_wiring.cpp).
    incidents->SetReadOnly(StandbyRefusal());
    WireChangeRelay();
    return {};
  }
  return incidents->Start();
}

// Post-mortem reminders, and the on-call report over the last 7 days as metrics, computed on
// a worker over a read connection of its own (WAL: it never holds up the loop's writes).
Result<void> App::Impl::StartReports() {
  postmortem_reminder = std::make_unique<report::PostmortemReminder>(
      scheduler, *incidents, report::PostmortemReminder::Options{});
  if (active) postmortem_reminder->Start();
  const auto& sc = config->store;
  auto db = store::Database::Open(sc.url, sc.options);
  if (!db) {
    return Fail(Error::Io(
        fmt::format("cannot open the database {}: {}", sc.url.ToString(), db.error().message())));
  }
  oncall_database = std::move(*db);
  oncall_store = std::make_unique<store::SqliteIncidentStore>(*oncall_database);
  silence_reader = std::make_unique<dispatch::SqliteSilenceStore>(*oncall_database);
  override_reader = std::make_unique<store::SqliteOverrideStore>(*oncall_database);
  oncall_metrics = std::make_unique<report::OncallMetrics>(*registry);
  oncall_pool = MakePool(1, "oncall_pool");
  oncall_refresher = std::make_unique<report::OncallMetricsRefresher>(
      scheduler, *oncall_pool, *oncall_store, [this] { return incidents->schedule(); },
      *oncall_metrics, report::OncallMetricsRefresher::Options{});
  oncall_refresher->Start();
  return {};
}

// Rules engine: SLI sources, the evaluator on the loop with a worker pool for queries, alert
// state in the shared database, metrics on our registry. Alerts go to the dispatcher.
Result<void> App::Impl::StartRules() {
  auto st = rules::SqliteAlertStateStore::Open(*database, store_thread.get());
  if (!st) return Fail(st.error());
  rules_state_store = std::move(*st);
  query_pool = MakePool(4, "query_pool");
  state_write_pool = MakePool(1, "state_write_pool");
  evaluator = std::make_unique<rules::Evaluator>(scheduler, *query_pool, *dispatcher);
  evaluator->SetStateStore(rules_state_store.get(), state_write_pool.get());
  rule_metrics = std::make_unique<rules::RuleMetrics>(*registry);
  if (!active) {
    // A standby keeps the rules ready and evaluates nothing (ha_wiring.cpp starts it).
    ApplyRules();
    return {};
  }
  if (auto restored = evaluator->RestoreState(); !restored) {
    // Losing pending counts is better than not alerting at all.
    spdlog::error("rules: cannot restore alert state, starting from zero: {}",
                  restored.error().message());
  }
  ApplyRules();
  evaluator->Start();
  spdlog::info("rules: {} SLOs and {} threshold rules in {} groups", config->rules.slo_count(),
               config->rules.rule_count(), config->rules.groups.size());
  return {};
}

// (Re)installs sources and rules from `config`; state of unchanged rules is kept.
void App::Impl::ApplyRules() {
  rules::Evaluator::SourceMap sources;
  for (const auto& s : config->main.sources) {
    sources[s.name] = std::make_shared<source::PrometheusClient>(s, source_http);
  }
  evaluator->SetSources(std::move(sources));
  evaluator->SetRules(std::make_shared<const rules::RuleSet>(config->rules));
}

Result<void> App::Impl::StartDispatch() {
  if (auto m = database->Migrate(dispatch::SqliteSilenceStore::Migrations()); !m) {
    return Fail(m.error());
  }
  silence_store = std::make_unique<dispatch::SqliteSilenceStore>(*database, store_thread.get());
  silence_gate = std::make_unique<StandbySilenceStore>(*silence_store);
  if (!active) silence_gate->SetReadOnly(StandbyRefusal());
  silences = std::make_unique<dispatch::Silences>(*silence_gate);
  if (auto loaded = silences->Load(); !loaded) return Fail(loaded.error());
  if (change_relay) {
    change_relay->AttachSilences(*silences, [this](std::function<void(Result<void>)> done) {
      ReloadStandbySilences(std::move(done));
    });
    change_relay->AttachOverrides(
        [this](const nlohmann::json& body, const std::string& actor,
               ChangeRelay::Done<std::string> done) {
          if (!override_adder) {
            return done(Fail(Error::Transient("the active instance's API is not serving yet")));
          }
          override_adder(body, actor, clock.Now(), std::move(done));
        },
        [this](std::function<void(Result<void>)> done) {
          ReloadStandbyOverrides(std::move(done));
        });
    if (!active) {
      // A standby passes silence changes to the active (ha_wiring.cpp) and follows its list.
      silences->SetForwarder(
          [this](dispatch::SilenceChange change, ChangeRelay::Done<std::string> done) {
            change_relay->ForwardSilence(std::move(change), std::move(done));
          });
      ScheduleStandbyReads();
    }
  }
  // Rules and the Alertmanager API feed the dispatcher; its groups go to incidents.
  group_router = std::make_unique<GroupRouter>(*incidents, *notice_sink, active);
  dispatcher = std::make_unique<dispatch::Dispatcher>(scheduler, *group_router, *silences,
                                                      *registry, config->dispatch);
  alert_parser = MakePool(1, "alert_parser");
  dispatch::AlertIntakeOptions intake;
  intake.queue_batches = config->dispatch.alertmanager.intake_queue_batches;
  alert_intake = std::make_unique<dispatch::AlertIntake>(
      *dispatcher, scheduler, *alert_parser, dispatch::ParsePostedAlerts, *registry, intake);
  return {};
}

void App::Impl::RecallOpenIncidents() {
  if (!dispatcher || !incidents) return;
  // An incident opened through the API has the key its caller chose, and its alerts come from
  // no source that sends them again: not recalled (unless a receiver of the config is named
  // "api": its incidents are the dispatcher's).
  const auto& receivers = config->dispatch.receivers;
  const bool api_is_a_receiver = std::any_of(receivers.begin(), receivers.end(),
                                             [](const auto& r) { return r.name == "api"; });
  // Pointers into the incidents in memory: nothing is copied but what is recalled.
  std::vector<dispatch::Dispatcher::RecalledGroup> groups;
  groups.reserve(incidents->open_count());
  incidents->ForEachOpen([&](const incident::Incident& inc) {
    // A drill was never announced by the dispatcher; a manual incident's key ("manual/...") is
    // no route's.
    if (inc.drill || inc.alerts.empty()) return;
    if (inc.receiver == "api" && !api_is_a_receiver) return;
    // A promoted standby replays the flush it holds (its latest news of the group).
    if (group_router && group_router->holds(inc.key)) return;
    groups.push_back({&inc.key, &inc.alerts});
  });
  // Long enough for Prometheus (every evaluation, endsAt four of them ahead) and tocsin's own
  // rules to send a firing alert again: every tick, or, for a threshold rule whose state was
  // not restored, after `consecutive` violations.
  Duration wait = config->dispatch.alertmanager.resolve_timeout;
  for (const auto& g : config->rules.groups) {
    const Duration every =
        g.interval != Duration{} ? g.interval : config->rules.evaluation.interval;
    Duration::rep ticks = 2;
    for (const auto& r : g.rules) ticks = std::max(ticks, Duration::rep{r.consecutive} + 1);
    wait = std::max(wait, ticks * every);
  }
  const TimePoint now = clock.Now();
  const auto began = std::chrono::steady_clock::now();
  const auto n = dispatcher->Recall(groups, now + wait, now);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - began);
  if (n.alerts > 0) {
    spdlog::info(
        "dispatch: recalled {} firing alert(s) of {} open incident(s) in {} ms; each resolves "
        "when its resolve arrives, or when nothing has sent it again for {} (or the longer endsAt "
        "its source last promised)",
        n.alerts, n.incidents, took.count(), FormatDuration(wait));
  }
}

}  // namespace tocsin::app
